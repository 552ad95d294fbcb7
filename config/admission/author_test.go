package admission

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestAuthorNeedsPodRightsWhereTheTestPutsPods: a test is admitted only if its author may
// create pods in every namespace its edges and canary would put pods in.
func TestAuthorNeedsPodRightsWhereTheTestPutsPods(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	alice := as("alice")
	canaryIn := func(ns string) *v1alpha1.ReachabilityTest {
		rt := testWith("", edgesFrom("a"))
		rt.Spec.Canary = &v1alpha1.CanarySpec{Namespace: ns}
		return rt
	}
	cases := []struct {
		name    string
		test    *v1alpha1.ReachabilityTest
		phrases []string // empty: admitted
	}{
		{"edges from namespaces she may create pods in", testWith("", edgesFrom("a", "b", "a")), nil},
		{"an edge from a namespace she may not", testWith("", edgesFrom("a", "c", "b")),
			[]string{"alice may not create pods in namespace c", "spec.edges[].from.namespace", "pods: create"}},
		{"a canary in a namespace she may create pods in", canaryIn("b"), nil},
		{"a canary in the manager's namespace by default", canaryIn(""),
			[]string{"alice may not create pods in namespace netconform-system", "spec.canary.namespace"}},
		{"a canary in a namespace she may not", canaryIn("c"), []string{"namespace c"}},
	}
	for i, c := range cases {
		c.test.Name = fmt.Sprintf("author-%d", i)
		err := alice.Create(ctx, c.test, client.DryRunAll)
		if len(c.phrases) == 0 {
			wantAdmitted(t, c.name, err)
		} else {
			wantRejected(t, c.name, err, c.phrases...)
		}
	}
	wantAdmitted(t, "bob, who may create pods anywhere", as("bob").Create(ctx, testWith("author-bob", edgesFrom("c", "netconform-system")), client.DryRunAll))
}

// TestAuthorNeedsPodRightsOnUpdate: an admitted test cannot be widened afterwards.
func TestAuthorNeedsPodRightsOnUpdate(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	alice := as("alice")
	rt := testWith("author-update", edgesFrom("a"))
	if err := alice.Create(ctx, rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), rt) })
	rt.Spec.Edges = edgesFrom("a", "b")
	wantAdmitted(t, "adding an edge from b", alice.Update(ctx, rt))
	rt.Spec.Edges = edgesFrom("a", "b", "c")
	wantRejected(t, "adding an edge from c", alice.Update(ctx, rt), "alice may not create pods in namespace c")
	if err := admin.Get(ctx, client.ObjectKeyFromObject(rt), rt); err != nil {
		t.Fatal(err)
	}
	rt.Spec.Canary = &v1alpha1.CanarySpec{}
	wantRejected(t, "adding a canary in the manager's namespace", alice.Update(ctx, rt), "namespace netconform-system")
}

// TestUpdatesThatLeaveTheSpecNeedNoPodRights: a test another may write puts pods where
// alice may not, yet she may label it, and the garbage collector may remove its
// finalizers; changing its spec still needs the rights.
func TestUpdatesThatLeaveTheSpecNeedNoPodRights(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	rt := testWith("author-metadata", edgesFrom("c"))
	rt.Finalizers = []string{"foregroundDeletion"}
	if err := admin.Create(ctx, rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), rt) })
	alice := as("alice")
	rt.Labels = map[string]string{"team": "payments"}
	wantAdmitted(t, "labelling a test with edges from c", alice.Update(ctx, rt))
	rt.Finalizers = nil
	wantAdmitted(t, "removing the test's finalizer", alice.Update(ctx, rt))
	rt.Spec.Edges = edgesFrom("a", "c")
	wantRejected(t, "changing the spec", alice.Update(ctx, rt), "alice may not create pods in namespace c")
}

// TestAuthorWorstCases: 2000 edges (the most a test may have) stay within the API
// server's CEL budget, on every path through the policy.
func TestAuthorWorstCases(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	const edges = 2000
	spread := func(distinct int, first ...string) []string {
		ns := make([]string, edges)
		for i := range ns {
			if j := i % distinct; j < len(first) {
				ns[i] = first[j]
			} else {
				ns[i] = fmt.Sprintf("x-%d", j)
			}
		}
		return ns
	}
	var hers []string
	for i := range maxCheckedNamespaces + 1 {
		hers = append(hers, fmt.Sprintf("ns-%d", i))
	}
	cases := []struct {
		name    string
		user    string
		from    []string
		phrases []string
	}{
		{"bob, 2000 edges from 2000 namespaces", "bob", spread(edges), nil},
		{"alice, 2000 edges alternating between two of her namespaces", "alice", spread(2, "a", "b"), nil},
		{"alice, 2000 edges from the 16 namespaces she may create pods in", "alice", spread(maxCheckedNamespaces, hers[:maxCheckedNamespaces]...), nil},
		{"alice, 2000 edges whose last namespace is not hers", "alice", append(spread(maxCheckedNamespaces, hers[:maxCheckedNamespaces]...)[:edges-1], "c"),
			[]string{"more than 16 namespaces"}},
		{"alice, 17 namespaces, the first 16 hers", "alice", spread(maxCheckedNamespaces+1, hers...), []string{"more than 16 namespaces", "split it"}},
		// Every check is made and passes before the count rejects: the costliest path.
		{"alice, her 16 namespaces first, then 1984 others", "alice", spread(edges, hers[:maxCheckedNamespaces]...), []string{"more than 16 namespaces"}},
		{"alice, 2000 namespaces, the first not hers", "alice", spread(edges), []string{"alice may not create pods in namespace x-0"}},
	}
	for i, c := range cases {
		rt := testWith(fmt.Sprintf("worst-%d", i), edgesFrom(c.from...))
		start := time.Now()
		err := as(c.user).Create(ctx, rt, client.DryRunAll)
		t.Logf("%s: answered in %s", c.name, time.Since(start).Round(time.Millisecond))
		if len(c.phrases) == 0 {
			wantAdmitted(t, c.name, err)
		} else {
			wantRejected(t, c.name, err, c.phrases...)
		}
	}
}
