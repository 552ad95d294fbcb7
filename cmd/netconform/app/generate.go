package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/generate"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/prediction"
)

func runGenerate(args []string, stdout, stderr io.Writer) int {
	var namespace, kubeconfig, kubeContext string
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: netconform generate --namespace NS [--kubeconfig PATH] [--context NAME]")
		fmt.Fprintln(stderr, "\nPrints a ReachabilityTest whose edges expect what the namespace's NetworkPolicies allow today.")
		fs.PrintDefaults()
	}
	fs.StringVar(&namespace, "namespace", "", "the namespace whose policies, pods and Services to cover (required)")
	bindClusterFlags(fs, &kubeconfig, &kubeContext)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "netconform generate: %v\n", err)
		return ExitUsage
	}
	switch {
	case fs.NArg() > 0:
		return fail(fmt.Errorf("unexpected argument %q: give the namespace with --namespace", fs.Arg(0)))
	case namespace == "":
		return fail(errors.New("--namespace is required: the namespace whose policies to cover, such as --namespace shop"))
	case len(validation.IsDNS1123Label(namespace)) > 0:
		return fail(fmt.Errorf("--namespace %q is not a namespace name: %s", namespace, strings.Join(validation.IsDNS1123Label(namespace), "; ")))
	}
	r, kinds, err := newReader(kubeconfig, kubeContext)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	out, err := generateYAML(ctx, r, kinds, namespace, stderr)
	if err != nil {
		return fail(err)
	}
	if _, err := stdout.Write(out); err != nil {
		return fail(err)
	}
	return ExitOK
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
