package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/generate"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/prediction"
)

// testFormats are what `generate -o` prints: a ReachabilityTest, as a manifest.
var testFormats = []string{"yaml", "json"}

type generateFlags struct {
	output  string
	cluster *genericclioptions.ConfigFlags
}

func newGenerateCommand(code *int) *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate -n NAMESPACE",
		Short: "Print a ReachabilityTest of the edges a namespace's NetworkPolicies imply, to review and commit",
		Long: "Prints a ReachabilityTest whose edges expect what the namespace's NetworkPolicies allow today.\n" +
			"It prints a manifest: -o yaml (the default) or json; a table or markdown would not apply.",
		Example: "  netconform generate -n bookstore > bookstore-test.yaml",
		Args:    noArgs("give the namespace with -n/--namespace"),
		Run:     body(code, f.run),
	}
	f.cluster = clusterFlags(cmd.Flags(), true)
	cmd.Flags().StringVarP(&f.output, "output", "o", "yaml", "how to print the test: "+strings.Join(testFormats, " or "))
	registerOutputCompletion(cmd, testFormats)
	return cmd
}

func (f *generateFlags) run(cmd *cobra.Command, _ []string) int {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "netconform generate: %v\n", err)
		return ExitUsage
	}
	namespace := *f.cluster.Namespace
	switch {
	case !slices.Contains(testFormats, f.output):
		return fail(fmt.Errorf("--output %q: generate prints a ReachabilityTest to apply; use yaml or json (table and markdown are for results, of run and explain)", f.output))
	case namespace == "":
		return fail(errors.New("--namespace is required: the namespace whose policies to cover, such as -n shop"))
	case len(validation.IsDNS1123Label(namespace)) > 0:
		return fail(fmt.Errorf("--namespace %q is not a namespace name: %s", namespace, strings.Join(validation.IsDNS1123Label(namespace), "; ")))
	}
	r, kinds, err := newReader(f.cluster)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	out, err := generateYAML(ctx, r, kinds, namespace, stderr)
	if err == nil && f.output == "json" {
		fmt.Fprintln(stderr, "netconform generate: every expect restates what the policies allow today; review each against the intended behaviour before committing")
		out, err = asJSON(out)
	}
	if err != nil {
		return fail(err)
	}
	if _, err := stdout.Write(out); err != nil {
		return fail(err)
	}
	return ExitOK
}

// asJSON is the YAML manifest as indented JSON; its comments, which JSON cannot hold, go.
func asJSON(manifest []byte) ([]byte, error) {
	compact, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// generateYAML reads the namespace and writes its generated test; notes go to stderr.
func generateYAML(ctx context.Context, r client.Reader, kinds policykinds.Source, namespace string, stderr io.Writer) ([]byte, error) {
	c, err := prediction.Snapshot(ctx, r, kinds, []v1alpha1.Edge{{From: v1alpha1.Source{Namespace: namespace}}})
	if err != nil {
		return nil, fmt.Errorf("reading the cluster: %w", err)
	}
	if !c.HasNamespace(namespace) {
		return nil, fmt.Errorf("--namespace %s: no such namespace in the cluster", namespace)
	}
	t, notes := generate.TestsWithNotes(c, namespace)
	for _, n := range notes {
		fmt.Fprintf(stderr, "netconform generate: %s\n", n)
	}
	if len(t.Spec.Edges) == 0 {
		return nil, fmt.Errorf("namespace %s has no Service with a ready backend and no ready labelled pod with a container port: nothing to test", namespace)
	}
	if !slices.ContainsFunc(c.Policies, func(p networkingv1.NetworkPolicy) bool { return p.Namespace == namespace }) {
		fmt.Fprintf(stderr, "netconform generate: namespace %s has no NetworkPolicy: every edge expects Allow\n", namespace)
	}
	if len(t.Spec.Edges) == generate.MaxEdges {
		fmt.Fprintf(stderr, "netconform generate: stopped at %d edges, the most a ReachabilityTest holds\n", generate.MaxEdges)
	}
	return generate.YAML(t, namespace)
}
