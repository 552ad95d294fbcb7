package canary

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netconform/netconform/api/v1alpha1"
)

// nodePlane is what a node enforces on its own pods.
type nodePlane struct{ ingress, egress bool }

// simulateRing runs each pair of the ring against a dataplane that enforces the client's
// egress as its node does and the server's ingress as its node does, and combines.
func simulateRing(t *testing.T, nodes map[string]nodePlane, names ...string) Finding {
	t.Helper()
	return Combine(ringFindings(t, nodes, names), 0)
}

// combineRing combines the ring over every node, with unchecked nodes beyond it.
func combineRing(t *testing.T, nodes map[string]nodePlane, unchecked int) Finding {
	t.Helper()
	return Combine(ringFindings(t, nodes, slices.Sorted(maps.Keys(nodes))), unchecked)
}

func ringFindings(t *testing.T, nodes map[string]nodePlane, names []string) []PairFinding {
	t.Helper()
	var pairs []PairFinding
	for _, p := range Ring(names) {
		d := dataplane{egressEnforced: nodes[p.ClientNode].egress, ingressEnforced: nodes[p.ServerNode].ingress}
		pairs = append(pairs, PairFinding{Pair: p, Finding: simulate(t, d)})
	}
	return pairs
}

func TestCombineFindsEachNodesDirections(t *testing.T) {
	both, none := nodePlane{true, true}, nodePlane{}
	tests := []struct {
		name    string
		nodes   map[string]nodePlane
		reason  string
		ingress v1alpha1.Enforcement // cluster-wide
		egress  v1alpha1.Enforcement
		// mention must all be in the message.
		mention []string
		// open are the nodes found not to enforce, with their directions.
		open map[string][2]v1alpha1.Enforcement
	}{
		{"all enforce", map[string]nodePlane{"a": both, "b": both, "c": both}, v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced, []string{"each of the 3"}, nil},
		{"none enforces", map[string]nodePlane{"a": none, "b": none, "c": none}, v1alpha1.ReasonNotEnforced, v1alpha1.NotEnforced, v1alpha1.NotEnforced, []string{"each of the 3"},
			map[string][2]v1alpha1.Enforcement{"a": {v1alpha1.NotEnforced, v1alpha1.NotEnforced}, "b": {v1alpha1.NotEnforced, v1alpha1.NotEnforced}, "c": {v1alpha1.NotEnforced, v1alpha1.NotEnforced}}},
		{"one node open", map[string]nodePlane{"a": both, "b": none, "c": both}, v1alpha1.ReasonPartiallyEnforced, v1alpha1.NotEnforced, v1alpha1.NotEnforced, []string{"b does not enforce ingress or egress"},
			map[string][2]v1alpha1.Enforcement{"b": {v1alpha1.NotEnforced, v1alpha1.NotEnforced}}},
		{"one node's ingress open", map[string]nodePlane{"a": both, "b": both, "c": {ingress: false, egress: true}}, v1alpha1.ReasonPartiallyEnforced, v1alpha1.NotEnforced, v1alpha1.Enforced, []string{"c does not enforce ingress"},
			map[string][2]v1alpha1.Enforcement{"c": {v1alpha1.NotEnforced, v1alpha1.Enforced}}},
		{"one node's egress open", map[string]nodePlane{"a": {ingress: true}, "b": both}, v1alpha1.ReasonPartiallyEnforced, v1alpha1.Enforced, v1alpha1.NotEnforced, []string{"a does not enforce egress"},
			map[string][2]v1alpha1.Enforcement{"a": {v1alpha1.Enforced, v1alpha1.NotEnforced}}},
		{"egress nowhere", map[string]nodePlane{"a": {ingress: true}, "b": {ingress: true}}, v1alpha1.ReasonEgressNotEnforced, v1alpha1.Enforced, v1alpha1.NotEnforced, []string{"each of the 2"},
			map[string][2]v1alpha1.Enforcement{"a": {v1alpha1.Enforced, v1alpha1.NotEnforced}, "b": {v1alpha1.Enforced, v1alpha1.NotEnforced}}},
		{"one node", map[string]nodePlane{"a": {egress: true}}, v1alpha1.ReasonIngressNotEnforced, v1alpha1.NotEnforced, v1alpha1.Enforced, nil,
			map[string][2]v1alpha1.Enforcement{"a": {v1alpha1.NotEnforced, v1alpha1.Enforced}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := simulateRing(t, tt.nodes, slices.Sorted(maps.Keys(tt.nodes))...)
			if f.Reason != tt.reason || f.Status.Ingress != tt.ingress || f.Status.Egress != tt.egress {
				t.Fatalf("finding %s (ingress %s, egress %s), want %s (ingress %s, egress %s): %s", f.Reason, f.Status.Ingress, f.Status.Egress, tt.reason, tt.ingress, tt.egress, f.Message)
			}
			for _, m := range tt.mention {
				if !strings.Contains(f.Message, m) {
					t.Errorf("message %q does not say %q", f.Message, m)
				}
			}
			if len(f.Status.Nodes) != len(tt.nodes) {
				t.Fatalf("%d node findings, want %d: %+v", len(f.Status.Nodes), len(tt.nodes), f.Status.Nodes)
			}
			for _, n := range f.Status.Nodes {
				want, isOpen := tt.open[n.Name]
				if !isOpen {
					want = [2]v1alpha1.Enforcement{v1alpha1.Enforced, v1alpha1.Enforced}
				}
				if n.Ingress != want[0] || n.Egress != want[1] {
					t.Errorf("node %s: ingress %s, egress %s, want %s, %s", n.Name, n.Ingress, n.Egress, want[0], want[1])
				}
				if tt.reason == v1alpha1.ReasonPartiallyEnforced && !isOpen && strings.Contains(f.Message, n.Name+" does not") {
					t.Errorf("message %q blames node %s, which enforces", f.Message, n.Name)
				}
			}
		})
	}
}

// A pair that could not run leaves its nodes' directions Unknown, never Enforced.
func TestCombineWithAFailedPairSaysWhichNodesAreUnknown(t *testing.T) {
	pairs := []PairFinding{}
	for _, p := range Ring([]string{"a", "b", "c"}) {
		d := dataplane{ingressEnforced: true, egressEnforced: true, neverConnects: p.ClientNode == "b"}
		pairs = append(pairs, PairFinding{Pair: p, Finding: simulate(t, d)})
	}
	f := Combine(pairs, 0)
	if f.Reason != v1alpha1.ReasonCanaryFailed || f.Status.Ingress != v1alpha1.Unknown || f.Status.Egress != v1alpha1.Unknown {
		t.Fatalf("finding %s (ingress %s, egress %s), want CanaryFailed with both Unknown: %s", f.Reason, f.Status.Ingress, f.Status.Egress, f.Message)
	}
	// b's client probes c's server: b's egress and c's ingress are unknown.
	for _, n := range f.Status.Nodes {
		if (n.Name == "b" && n.Egress != v1alpha1.Unknown) || (n.Name == "c" && n.Ingress != v1alpha1.Unknown) || (n.Name == "a" && (n.Ingress != v1alpha1.Enforced || n.Egress != v1alpha1.Enforced)) {
			t.Errorf("node %+v", n)
		}
		if n.Name != "a" && n.Message == "" {
			t.Errorf("node %s is unknown without saying why", n.Name)
		}
	}
	if !strings.Contains(f.Message, "b, c") {
		t.Errorf("message %q does not name the unknown nodes", f.Message)
	}
	if f = Combine(pairs, 7); !strings.Contains(f.Message, "7 more schedulable nodes were not checked") {
		t.Errorf("message %q does not own up to the unchecked nodes", f.Message)
	}
}

// Nodes beyond MaxNodes are never checked: the cluster is then never found to enforce,
// while a node found open still makes it not enforce.
func TestCombineWithUncheckedNodesIsNeverEnforced(t *testing.T) {
	both := nodePlane{true, true}
	all := map[string]nodePlane{"a": both, "b": both, "c": both}
	f := combineRing(t, all, 5)
	if f.Enforced() || f.Reason != v1alpha1.ReasonCanaryFailed || f.Status.Ingress != v1alpha1.Unknown || f.Status.Egress != v1alpha1.Unknown {
		t.Fatalf("finding %s (ingress %s, egress %s), want CanaryFailed with both Unknown: %s", f.Reason, f.Status.Ingress, f.Status.Egress, f.Message)
	}
	for _, want := range []string{"each of the 3 nodes checked", "5 more schedulable nodes were not checked", "spec.probePod.nodeSelector"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q does not say %q", f.Message, want)
		}
	}
	for _, n := range f.Status.Nodes {
		if n.Ingress != v1alpha1.Enforced || n.Egress != v1alpha1.Enforced {
			t.Errorf("checked node %+v lost its finding", n)
		}
	}
	all["b"] = nodePlane{ingress: true}
	if f = combineRing(t, all, 5); f.Reason != v1alpha1.ReasonPartiallyEnforced || f.Status.Egress != v1alpha1.NotEnforced || f.Status.Ingress != v1alpha1.Unknown {
		t.Fatalf("finding %s (ingress %s, egress %s), want PartiallyEnforced, ingress Unknown, egress NotEnforced: %s", f.Reason, f.Status.Ingress, f.Status.Egress, f.Message)
	}
}

func TestCombineOfOneUnpinnedPairIsItsFinding(t *testing.T) {
	pair := simulate(t, dataplane{ingressEnforced: true})
	f := Combine([]PairFinding{{Finding: pair}}, 0)
	if f.Reason != v1alpha1.ReasonEgressNotEnforced || len(f.Status.Nodes) != 0 {
		t.Fatalf("finding %s with nodes %+v, want the pair's EgressNotEnforced and no node", f.Reason, f.Status.Nodes)
	}
}

func TestRingSeesEveryNodeBothWays(t *testing.T) {
	pairs := Ring([]string{"a", "b", "c"})
	clients, servers := map[string]int{}, map[string]int{}
	for _, p := range pairs {
		clients[p.ClientNode]++
		servers[p.ServerNode]++
		if p.ClientNode == p.ServerNode {
			t.Errorf("pair %+v probes its own node on a ring of three", p)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if clients[n] != 1 || servers[n] != 1 {
			t.Errorf("node %s has %d clients and %d servers, want one each", n, clients[n], servers[n])
		}
	}
	if one := Ring([]string{"a"}); len(one) != 1 || one[0] != (Pair{"a", "a"}) {
		t.Errorf("Ring(a) = %+v, want a probing itself", one)
	}
	if none := Ring(nil); len(none) != 1 || none[0] != (Pair{}) {
		t.Errorf("Ring() = %+v, want one unpinned pair", none)
	}
}

func TestSchedulableLeavesOutNodesCanaryPodsCannotRunOn(t *testing.T) {
	node := func(name string, edit func(*corev1.Node)) corev1.Node {
		n := corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
		n.Name, n.Labels = name, map[string]string{"pool": "main"}
		edit(&n)
		return n
	}
	taint := func(effect corev1.TaintEffect) func(*corev1.Node) {
		return func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: effect}}
		}
	}
	nodes := []corev1.Node{
		node("ready", func(*corev1.Node) {}),
		node("not-ready", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }),
		node("cordoned", func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		node("tainted", taint(corev1.TaintEffectNoSchedule)),
		node("draining", taint(corev1.TaintEffectNoExecute)),
		node("preferred", taint(corev1.TaintEffectPreferNoSchedule)),
		node("other-pool", func(n *corev1.Node) { n.Labels["pool"] = "other" }),
	}
	selector := map[string]string{"pool": "main"}
	if got := Schedulable(nodes, selector, nil); strings.Join(got, ",") != "preferred,ready" {
		t.Errorf("Schedulable = %v, want preferred,ready", got)
	}
	tolerate := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	if got := Schedulable(nodes, selector, tolerate); strings.Join(got, ",") != "preferred,ready,tainted" {
		t.Errorf("Schedulable with a NoSchedule toleration = %v, want preferred,ready,tainted", got)
	}
}
