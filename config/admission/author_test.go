package admission

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestAuthorNeedsPodRightsWhereTheTestPutsPods: a test is admitted only if its author may
// create pods in every namespace its edges and canary would put pods in. She may list
// nodes here, which a canary also needs.
func TestAuthorNeedsPodRightsWhereTheTestPutsPods(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	alice := as("alice", nodeReaders)
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
	alice := as("alice", nodeReaders)
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

// TestAuthorNeedsReadRightsWhereTheTestLooks: a test is admitted only if its author may
// read what it makes the manager read and report: the pods and Services (with their
// EndpointSlices) it goes to, and the NetworkPolicies of every namespace its edges touch.
func TestAuthorNeedsReadRightsWhereTheTestLooks(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	alice := as("alice")
	edge := func(from, to string, dest func(string) v1alpha1.Destination) *v1alpha1.ReachabilityTest {
		return testWith("", edgesTo([]string{from}, []string{to}, dest))
	}
	cases := []struct {
		name    string
		test    *v1alpha1.ReachabilityTest
		phrases []string // empty: admitted
	}{
		{"an edge to pods she may read", edge("a", "b", podsIn), nil},
		{"an edge to a Service she may read", edge("a", "b", serviceIn), nil},
		{"an edge to pods in a namespace whose pods she may not list", edge("a", "d", podsIn),
			[]string{"alice may not list pods in namespace d", "spec.edges[].to.pods.namespace", "pods: list", "remove the edges to pods there"}},
		{"an edge to a Service she may not get", edge("a", "d", serviceIn),
			[]string{"alice may not get services in namespace d", "spec.edges[].to.service.namespace", "services: get"}},
		{"an edge to a Service whose backends she may not list", edge("a", "e", serviceIn),
			[]string{"alice may not list endpointslices.discovery.k8s.io in namespace e", "endpointslices.discovery.k8s.io: list"}},
		{"an edge to pods where she may not list NetworkPolicies", edge("a", "f", podsIn),
			[]string{"alice may not list networkpolicies.networking.k8s.io in namespace f", "predictions", "networkpolicies.networking.k8s.io: list"}},
		{"an edge from where she may not list NetworkPolicies", testWith("", edgesFrom("g")),
			[]string{"alice may not list networkpolicies.networking.k8s.io in namespace g", "spec.edges[].from.namespace"}},
	}
	for i, c := range cases {
		c.test.Name = fmt.Sprintf("reader-%d", i)
		err := alice.Create(ctx, c.test, client.DryRunAll)
		if len(c.phrases) == 0 {
			wantAdmitted(t, c.name, err)
		} else {
			wantRejected(t, c.name, err, c.phrases...)
		}
	}
	bobs := testWith("reader-bob", edgesTo([]string{"c", "d"}, []string{"c", "g"}, serviceIn))
	wantAdmitted(t, "bob, who may read anywhere", as("bob").Create(ctx, bobs, client.DryRunAll))
}

// TestUpdatesThatLeaveTheSpecNeedNoReadRights: alice may label a test that looks where she
// may not, but not widen it to look there.
func TestUpdatesThatLeaveTheSpecNeedNoReadRights(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	rt := testWith("reader-metadata", edgesTo([]string{"a"}, []string{"d"}, podsIn))
	if err := admin.Create(ctx, rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), rt) })
	alice := as("alice")
	rt.Labels = map[string]string{"team": "payments"}
	wantAdmitted(t, "labelling a test with an edge to pods in d", alice.Update(ctx, rt))
	rt.Spec.Edges = edgesTo([]string{"a", "b"}, []string{"d", "b"}, podsIn)
	wantRejected(t, "adding an edge", alice.Update(ctx, rt), "alice may not list pods in namespace d")
	rt.Spec.Edges = edgesTo([]string{"a"}, []string{"b"}, podsIn)
	wantAdmitted(t, "moving the edge to pods she may read", alice.Update(ctx, rt))
	rt.Spec.Edges = edgesTo([]string{"a"}, []string{"d"}, serviceIn)
	wantRejected(t, "moving it to a Service she may not read", alice.Update(ctx, rt), "alice may not get services in namespace d")
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
	mine := spread(maxCheckedNamespaces, hers[:maxCheckedNamespaces]...)
	mineThenOthers := spread(edges, hers[:maxCheckedNamespaces]...)
	cases := []struct {
		name    string
		user    string
		from    []string
		to      []string                          // the destinations' namespaces; none: hosts
		dest    func(string) v1alpha1.Destination // makes the destination in a namespace of to
		phrases []string
	}{
		{"bob, 2000 edges from 2000 namespaces", "bob", spread(edges), nil, nil, nil},
		{"alice, 2000 edges alternating between two of her namespaces", "alice", spread(2, "a", "b"), nil, nil, nil},
		{"alice, 2000 edges from the 16 namespaces she may create pods in", "alice", mine, nil, nil, nil},
		{"alice, 2000 edges whose last namespace is not hers", "alice", append(mine[:edges-1:edges-1], "c"), nil, nil,
			[]string{"more than 16 namespaces"}},
		{"alice, 17 namespaces, the first 16 hers", "alice", spread(maxCheckedNamespaces+1, hers...), nil, nil, []string{"more than 16 namespaces", "split it"}},
		// Every check is made and passes before the count rejects: the costliest path.
		{"alice, her 16 namespaces first, then 1984 others", "alice", mineThenOthers, nil, nil, []string{"more than 16 namespaces"}},
		// Creating pods in x-0 and listing its NetworkPolicies are refused alike.
		{"alice, 2000 namespaces, the first not hers", "alice", spread(edges), nil, nil, []string{"alice may not", "in namespace x-0"}},
		// Destinations: each right is a policy of its own, with its own budget.
		{"bob, 2000 edges to pods in 2000 namespaces", "bob", spread(edges), spread(edges), podsIn, nil},
		{"bob, 2000 edges to Services in 2000 namespaces", "bob", spread(edges), spread(edges), serviceIn, nil},
		{"alice, 2000 edges between her 16 namespaces to pods", "alice", mine, mine, podsIn, nil},
		{"alice, 2000 edges between her 16 namespaces to Services", "alice", mine, mine, serviceIn, nil},
		{"alice, 2000 edges to pods, her 16 namespaces first, then 1984 others", "alice", mine, mineThenOthers, podsIn,
			[]string{"more than 16 namespaces", "split it"}},
		{"alice, 2000 edges to Services, her 16 namespaces first, then 1984 others", "alice", mine, mineThenOthers, serviceIn,
			[]string{"more than 16 namespaces", "split it"}},
		// Every policy refuses x-0, each for its own right.
		{"alice, 2000 edges from and to pods in 2000 namespaces, the first not hers", "alice", spread(edges), spread(edges), podsIn,
			[]string{"alice may not", "in namespace x-0"}},
	}
	for i, c := range cases {
		rt := testWith(fmt.Sprintf("worst-%d", i), edgesFrom(c.from...))
		if c.dest != nil {
			rt.Spec.Edges = edgesTo(c.from, c.to, c.dest)
		}
		start := time.Now()
		err := as(c.user).Create(ctx, rt, client.DryRunAll)
		t.Logf("%s: answered in %s", c.name, time.Since(start).Round(time.Millisecond))
		if len(c.phrases) == 0 {
			wantAdmitted(t, c.name, err)
		} else {
			wantRejected(t, c.name, err, c.phrases...)
			if err != nil && strings.Contains(err.Error(), "cost") {
				t.Errorf("%s: refused by the CEL budget, want the policy's own message: %v", c.name, err)
			}
		}
	}
}

// TestAuthorNeedsNodeRightsToCheckFromNodes: a test with from.nodes reports node names
// and readiness, so its author must be able to list nodes; without from.nodes, nobody
// needs to.
func TestAuthorNeedsNodeRightsToCheckFromNodes(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	fromNodes := func(name string) *v1alpha1.ReachabilityTest {
		rt := testWith(name, edgesFrom("a"))
		rt.Spec.Edges[0].From.Nodes = &v1alpha1.NodeSelection{All: true}
		return rt
	}
	wantRejected(t, "alice, who may not list nodes", as("alice").Create(ctx, fromNodes("nodes-alice"), client.DryRunAll),
		"alice may not list nodes", "spec.edges[].from.nodes", "nodes: list", "or remove from.nodes")
	wantAdmitted(t, "bob, who may list nodes", as("bob").Create(ctx, fromNodes("nodes-bob"), client.DryRunAll))
	wantAdmitted(t, "alice without from.nodes", as("alice").Create(ctx, testWith("nodes-none", edgesFrom("a")), client.DryRunAll))
}

// TestAuthorNeedsNodeRightsForACanary: the canary reports each schedulable node's name
// and finding, so its author must be able to list nodes too, even with no edge at all.
func TestAuthorNeedsNodeRightsForACanary(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	withCanary := func(name string, edges []v1alpha1.Edge) *v1alpha1.ReachabilityTest {
		rt := testWith(name, edges)
		// alice may start pods in a, where the canary's pods then run.
		rt.Spec.Canary = &v1alpha1.CanarySpec{Namespace: "a"}
		return rt
	}
	wantRejected(t, "alice's canary, alice may not list nodes", as("alice").Create(ctx, withCanary("canary-alice", nil), client.DryRunAll),
		"alice may not list nodes", "(spec.canary)", "nodes: list", "or remove spec.canary")
	both := withCanary("canary-nodes-alice", edgesFrom("a"))
	both.Spec.Edges[0].From.Nodes = &v1alpha1.NodeSelection{All: true}
	wantRejected(t, "alice's canary and from.nodes", as("alice").Create(ctx, both, client.DryRunAll),
		"(spec.canary, spec.edges[].from.nodes)", "or remove spec.canary and from.nodes")
	wantAdmitted(t, "alice's canary, once she may list nodes", as("alice", nodeReaders).Create(ctx, withCanary("canary-alice-nodes", nil), client.DryRunAll))
	wantAdmitted(t, "bob's canary, bob may list nodes", as("bob").Create(ctx, withCanary("canary-bob", nil), client.DryRunAll))
	wantAdmitted(t, "alice's test without a canary", as("alice").Create(ctx, testWith("canary-none", edgesFrom("a")), client.DryRunAll))
}
