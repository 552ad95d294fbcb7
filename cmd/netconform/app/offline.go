package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/pflag"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/logsafe"
	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/offline"
	"github.com/netconform/netconform/internal/prediction"
)

// This file holds `netconform run --offline` (predict every edge from manifests, with no
// cluster) and `netconform run --dry-run --policies` (what policies would change on a
// live cluster, before they are applied).

func (f *runFlags) bindOffline(fs *pflag.FlagSet) {
	fs.BoolVar(&f.offline, "offline", false, "predict every edge from --manifests alone: no cluster, no kubeconfig, no network")
	fs.StringArrayVar(&f.manifests, "manifests", nil, "with --offline: a file, a directory (read recursively) or - for stdin, holding the manifests to predict from: Namespaces, workloads, Services and policies (repeatable)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "with --policies: apply nothing and list the edges whose predicted verdict the policies would change on the cluster")
	fs.StringArrayVar(&f.policies, "policies", nil, "with --dry-run: a file, a directory or - for stdin, holding the policies to add to the cluster's, each replacing the one of the same namespace and name (repeatable)")
}

// validateOffline refuses combinations that cannot mean what they say.
func (f *runFlags) validateOffline() error {
	switch {
	case f.offline && f.dryRun:
		return errors.New("--offline and --dry-run: choose one (--offline needs no cluster; --dry-run reads one)")
	case f.offline && len(f.manifests) == 0:
		return errors.New("--offline needs --manifests: a file, a directory or - (stdin) holding what the tests run against")
	case !f.offline && len(f.manifests) > 0:
		return errors.New("--manifests is read only with --offline: add --offline, or leave --manifests out to run on the cluster")
	case f.dryRun && len(f.policies) == 0:
		return errors.New("--dry-run needs --policies: a file, a directory or - (stdin) holding the policies to try")
	case !f.dryRun && len(f.policies) > 0:
		return errors.New("--policies is read only with --dry-run: add --dry-run")
	case f.offline && f.waitOnly:
		return errors.New("--offline and --wait-only: an offline run needs no operator; leave --wait-only out")
	}
	stdins := 0
	for _, paths := range [][]string{f.files, f.manifests, f.policies} {
		if slices.Contains(paths, manifest.Stdin) {
			stdins++
		}
	}
	if stdins > 1 {
		return errors.New("- (stdin) is given to more than one of -f, --manifests and --policies: stdin can be read only once; give the others as files")
	}
	return nil
}

// runOffline predicts the tests from the manifests and reports them as a live run would.
func (f *runFlags) runOffline(tests []v1alpha1.ReachabilityTest, stdout, stderr io.Writer) int {
	m, err := offline.Read(f.manifests, os.Stdin)
	if err != nil {
		fmt.Fprintf(stderr, "netconform run: the manifests are not valid; nothing was predicted:\n%v\n", err)
		return ExitUsage
	}
	for _, n := range m.Notes {
		fmt.Fprintf(stderr, "netconform run: note: %s\n", n)
	}
	for _, t := range tests {
		if t.Spec.Canary != nil {
			fmt.Fprintf(stderr, "netconform run: note: test %s has a canary, which needs a cluster's dataplane: not run offline\n", t.Name)
		}
	}
	return f.report(offline.Run(m, tests), stdout, stderr)
}

// whatIf reads the cluster, adds the policies, and prints the edges whose predicted
// verdict would change. It writes nothing to the cluster. Exit 1 when a change leaves an
// edge predicted against what it expects.
func (f *runFlags) whatIf(ctx context.Context, tests []v1alpha1.ReachabilityTest, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "netconform run: %s\n", logsafe.Error(err))
		return ExitUsage
	}
	add, err := readPolicies(f.policies)
	if err != nil {
		return fail(err)
	}
	r, kinds, err := newReader(f.cluster)
	if err != nil {
		return fail(err)
	}
	var edges []v1alpha1.Edge
	for _, t := range tests {
		edges = append(edges, t.Spec.Edges...)
	}
	before, err := prediction.Snapshot(ctx, r, kinds, edges)
	if err != nil {
		return fail(fmt.Errorf("reading the cluster: %w", err))
	}
	changes := offline.Changes(before, add, tests)
	fmt.Fprintf(stdout, "What-if: %d policies added to the cluster's (%d replacing one of the same name); nothing was applied\n",
		len(add.NetworkPolicies)+len(add.ClusterNetworkPolicies), add.Replaced(before))
	return printChanges(stdout, changes)
}

// readPolicies reads the policies of --policies (or explain's), as strictly as manifests.
func readPolicies(paths []string) (offline.Policies, error) {
	m, err := offline.Read(paths, os.Stdin)
	if err != nil {
		return offline.Policies{}, fmt.Errorf("the policies are not valid:\n%w", err)
	}
	p := offline.PoliciesOf(m)
	if len(p.NetworkPolicies)+len(p.ClusterNetworkPolicies) == 0 {
		return p, fmt.Errorf("--policies: no NetworkPolicy or ClusterNetworkPolicy in %v", paths)
	}
	return p, nil
}

func printChanges(w io.Writer, changes []offline.Change) int {
	if len(changes) == 0 {
		fmt.Fprintln(w, "No edge's predicted verdict would change.")
		return ExitOK
	}
	code := ExitOK
	if len(changes) == 1 {
		fmt.Fprintln(w, "1 edge would change:")
	} else {
		fmt.Fprintf(w, "%d edges would change:\n", len(changes))
	}
	for _, c := range changes {
		mark := "ok"
		if c.Breaks() {
			mark, code = "FAIL", ExitFail
		}
		fmt.Fprintf(w, "%-4s %s/%s: %s -> %s (expected %s): %s\n", mark, logsafe.Text(c.Test), logsafe.Text(c.Edge),
			orUndecided(c.Before), orUndecided(c.After), c.Expected, logsafe.Text(c.Why))
	}
	return code
}

func orUndecided(e v1alpha1.Expectation) string {
	if e == "" {
		return "undecided"
	}
	return string(e)
}
