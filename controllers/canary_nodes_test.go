package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
)

// nodesDataplane plays a cluster of nodes for the canary's pairs: a client gets through
// to its server unless the pair's policies deny it on a node that enforces them, the
// client's node for egress and the server's node for ingress.
type nodesDataplane struct {
	// ingressOpen and egressOpen are the nodes that do not enforce that direction.
	ingressOpen, egressOpen map[string]bool

	mu        sync.Mutex
	timelines map[string][]canary.Change // by client pod
}

func (d *nodesDataplane) logs(ctx context.Context, namespace, clientPod, _ string) ([]byte, error) {
	var clientPodObj, server corev1.Pod
	prefix := strings.TrimSuffix(clientPod, "-client")
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: clientPod}, &clientPodObj); err != nil {
		return nil, err
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: prefix + "-server"}, &server); err != nil {
		return nil, err
	}
	var list networkingv1.NetworkPolicyList
	if err := k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	has := map[string]bool{}
	for _, p := range list.Items {
		has[p.Name] = p.DeletionTimestamp == nil
	}
	connected := !has[prefix+"-deny"] ||
		((has[prefix+"-allow-ingress"] || d.ingressOpen[pinnedNode(&server)]) && (has[prefix+"-allow-egress"] || d.egressOpen[pinnedNode(&clientPodObj)]))
	obs := v1alpha1.ObservedRefused
	if connected {
		obs = v1alpha1.ObservedConnected
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timelines == nil {
		d.timelines = map[string][]canary.Change{}
	}
	tl := d.timelines[clientPod]
	if n := len(tl); n == 0 || tl[n-1].Observed != obs {
		tl = append(tl, canary.Change{At: time.Now(), Observed: obs})
		d.timelines[clientPod] = tl
	}
	var b strings.Builder
	for _, c := range tl {
		fmt.Fprintln(&b, canary.FormatChange(c))
	}
	return []byte(b.String()), nil
}

// pinnedNode is the node a canary pod's affinity pins it to, "" for none.
func pinnedNode(pod *corev1.Pod) string {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// createNodes makes Ready nodes with these names, and one cordoned node that the canary
// must leave out; they go when the test ends.
func createNodes(t *testing.T, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range slices.Concat(names, []string{names[0] + "-cordoned"}) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		node.Spec.Unschedulable = strings.HasSuffix(name, "-cordoned")
		if err := k8s.Create(ctx, node); err != nil {
			t.Fatalf("creating node %s: %v", name, err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		if err := k8s.Status().Update(ctx, node); err != nil {
			t.Fatalf("making node %s Ready: %v", name, err)
		}
		// Admission taints a new node not-ready; the node lifecycle controller, which
		// envtest does not run, lifts the taint once the node is Ready.
		node.Spec.Taints = nil
		if err := k8s.Update(ctx, node); err != nil {
			t.Fatalf("lifting the not-ready taint of node %s: %v", name, err)
		}
	}
}

func deleteNode(t *testing.T, name string) {
	t.Helper()
	if err := k8s.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// runRing plays the kubelet for each pair of a canary over these nodes: each pod must be
// pinned to its node of the ring, the server runs, then the client, which must target it.
func runRing(t *testing.T, rt *v1alpha1.ReachabilityTest, namespace string, nodes ...string) {
	t.Helper()
	for i, pair := range canary.Ring(nodes) {
		names := canary.NamesFor(rt, namespace).ForPair(i)
		server := waitForPod(t, namespace, names.Server())
		if got := pinnedNode(server); got != pair.ServerNode {
			t.Fatalf("server of pair %d is pinned to %q, want %q", i, got, pair.ServerNode)
		}
		ip := fmt.Sprintf("10.244.%d.10", i)
		setPodStatus(t, server, servingStatus(ip))
		client := waitForPod(t, namespace, names.Client())
		if got := pinnedNode(client); got != pair.ClientNode {
			t.Fatalf("client of pair %d is pinned to %q, want %q", i, got, pair.ClientNode)
		}
		if args := strings.Join(client.Spec.Containers[0].Args, " "); !strings.Contains(args, "--target="+ip+":8080") {
			t.Fatalf("client of pair %d: args %q do not target its server %s", i, args, ip)
		}
		setPodStatus(t, client, servingStatus(fmt.Sprintf("10.244.%d.11", i)))
	}
}

// canarySeries are the netconform_canary_enforcement series of a test that are 1, as
// node/direction=state, the whole cluster's with node "".
func canarySeries(t *testing.T, reg prometheus.Gatherer, test string) map[string]string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range families {
		if f.GetName() != "netconform_canary_enforcement" {
			continue
		}
		for _, m := range f.Metric {
			l := labelsOf(m)
			if l["test"] == test && m.GetGauge().GetValue() == 1 {
				out[l["node"]+"/"+l["direction"]] = l["state"]
			}
		}
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.Label {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func TestCanaryChecksEveryNode(t *testing.T) {
	three := []string{"canary-node-a", "canary-node-b", "canary-node-c"}
	tests := []struct {
		name string
		// nodes are the schedulable nodes; three unless set.
		nodes                   []string
		ingressOpen, egressOpen map[string]bool
		reason                  string
		// mention must be in the condition's message.
		mention string
		// nodeFinding is what each node must show, as ingress/egress; Enforced/Enforced
		// for nodes not named.
		nodeFinding map[string]string
	}{
		{name: "all enforce", reason: v1alpha1.ReasonEnforced, mention: "each of the 3 schedulable nodes"},
		{name: "one node", nodes: three[:1], reason: v1alpha1.ReasonEnforced, mention: "NetworkPolicy is enforced for ingress and egress"},
		{name: "one node's ingress open", ingressOpen: map[string]bool{"canary-node-b": true}, reason: v1alpha1.ReasonPartiallyEnforced,
			mention: "canary-node-b does not enforce ingress", nodeFinding: map[string]string{"canary-node-b": "NotEnforced/Enforced"}},
		{name: "none", ingressOpen: map[string]bool{"canary-node-a": true, "canary-node-b": true, "canary-node-c": true},
			egressOpen: map[string]bool{"canary-node-a": true, "canary-node-b": true, "canary-node-c": true}, reason: v1alpha1.ReasonNotEnforced,
			mention:     "does not enforce NetworkPolicy",
			nodeFinding: map[string]string{"canary-node-a": "NotEnforced/NotEnforced", "canary-node-b": "NotEnforced/NotEnforced", "canary-node-c": "NotEnforced/NotEnforced"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := three
			if tt.nodes != nil {
				nodes = tt.nodes
			}
			createNodes(t, nodes...)
			ns := newNamespace(t, "canary")
			plane := &nodesDataplane{ingressOpen: tt.ingressOpen, egressOpen: tt.egressOpen}
			h := startManager(t, SetupOptions{PodLogs: plane.logs})
			rt := canaryTest(t, "canary-nodes-"+strings.NewReplacer(" ", "-", "'", "").Replace(tt.name), ns)
			runRing(t, rt, ns, nodes...)
			rt = waitForCompleted(t, rt.Name)
			t.Logf("canary over %d nodes: run took %s", len(nodes), rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time))

			cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced)
			if cond == nil || cond.Reason != tt.reason || !strings.Contains(cond.Message, tt.mention) {
				t.Fatalf("NetworkPolicyEnforced = %+v, want %s saying %q", cond, tt.reason, tt.mention)
			}
			c := rt.Status.Canary
			if len(c.Nodes) != len(nodes) {
				t.Fatalf("status.canary.nodes = %+v, want the %d schedulable nodes (not the cordoned one)", c.Nodes, len(nodes))
			}
			for _, n := range c.Nodes {
				want := "Enforced/Enforced"
				if w, ok := tt.nodeFinding[n.Name]; ok {
					want = w
				}
				if got := string(n.Ingress) + "/" + string(n.Egress); got != want {
					t.Errorf("node %s: %s, want %s", n.Name, got, want)
				}
				if want == "Enforced/Enforced" && n.EnforcementLatencyMilliseconds == nil {
					t.Errorf("node %s enforces but has no latency", n.Name)
				}
			}
			// Whole-cluster series plus one set per node, 2 directions each.
			eventually(t, 10*time.Second, "the canary's series per node", func(context.Context) (bool, error) {
				return len(canarySeries(t, h.registry, rt.Name)) == 2*(1+len(nodes)), nil
			})
			series := canarySeries(t, h.registry, rt.Name)
			for _, n := range c.Nodes {
				if series[n.Name+"/ingress"] != string(n.Ingress) || series[n.Name+"/egress"] != string(n.Egress) {
					t.Errorf("series of node %s: %v, want ingress %s, egress %s", n.Name, series, n.Ingress, n.Egress)
				}
			}
			if series["/ingress"] != string(c.Ingress) || series["/egress"] != string(c.Egress) {
				t.Errorf("whole-cluster series %v, want ingress %s, egress %s", series, c.Ingress, c.Egress)
			}
			eventually(t, 10*time.Second, "the canary's policies to go", func(context.Context) (bool, error) {
				return len(canaryPolicies(t, ns)) == 0, nil
			})
		})
	}
}

// A node that goes NotReady mid-run takes its pods' pairs with it: the node before it
// (whose client probed a server there) and the node itself are not found to enforce, and
// the cluster is not Enforced.
func TestCanaryWithANodeLostMidRunIsNotEnforced(t *testing.T) {
	nodes := []string{"canary-lost-a", "canary-lost-b", "canary-lost-c"}
	createNodes(t, nodes...)
	ns := newNamespace(t, "canary")
	plane := &nodesDataplane{}
	startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := canaryTest(t, "canary-lost-node", ns)
	runRing(t, rt, ns, nodes...)
	waitForDenyPhases(t, ns)
	node := &corev1.Node{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "canary-lost-b"}, node); err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions[0].Status, node.Status.Conditions[0].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
	if err := k8s.Status().Update(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	rt = waitForCompleted(t, rt.Name)
	cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced)
	if cond.Status != metav1.ConditionUnknown || cond.Reason != v1alpha1.ReasonCanaryFailed {
		t.Fatalf("NetworkPolicyEnforced = %+v, want Unknown/CanaryFailed", cond)
	}
	// a's client probed b's server, b's client c's server.
	want := map[string]string{"canary-lost-a": "Enforced/Unknown", "canary-lost-b": "Unknown/Unknown", "canary-lost-c": "Unknown/Enforced"}
	for _, n := range rt.Status.Canary.Nodes {
		if got := string(n.Ingress) + "/" + string(n.Egress); got != want[n.Name] {
			t.Errorf("node %s: %s, want %s", n.Name, got, want[n.Name])
		}
		if n.Name != "canary-lost-c" && !strings.Contains(n.Message, "on node canary-lost-b") {
			t.Errorf("node %s: message %q does not name the lost node", n.Name, n.Message)
		}
	}
	if !strings.Contains(rt.Status.Canary.Nodes[0].Message, "server pod") || !strings.Contains(rt.Status.Canary.Nodes[0].Message, "NotReady (NodeStatusUnknown)") {
		t.Errorf("node canary-lost-a: message %q does not say its server's node went NotReady", rt.Status.Canary.Nodes[0].Message)
	}
}

// A node that goes between two runs leaves status.canary.nodes, and its series go.
func TestCanaryForgetsARemovedNode(t *testing.T) {
	nodes := []string{"canary-gone-a", "canary-gone-b", "canary-gone-c"}
	createNodes(t, nodes...)
	ns := newNamespace(t, "canary")
	plane := &nodesDataplane{}
	h := startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := canaryTest(t, "canary-removed-node", ns)
	runRing(t, rt, ns, nodes...)
	rt = waitForCompleted(t, rt.Name)
	if len(rt.Status.Canary.Nodes) != 3 {
		t.Fatalf("status.canary.nodes = %+v", rt.Status.Canary.Nodes)
	}
	eventually(t, 10*time.Second, "series of 3 nodes", func(context.Context) (bool, error) {
		return len(canarySeries(t, h.registry, rt.Name)) == 8, nil
	})
	waitForPods(t, rt, 0)

	deleteNode(t, "canary-gone-b")
	rt.Spec.Canary.TimeoutSeconds++ // a new generation, a new run
	if err := k8s.Update(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	left := []string{"canary-gone-a", "canary-gone-c"}
	runRing(t, rt, ns, left...)
	eventually(t, 30*time.Second, "the second run", func(context.Context) (bool, error) {
		rt = getTest(t, rt.Name)
		return rt.Status.Canary != nil && len(rt.Status.Canary.Nodes) == 2 && condition(rt, v1alpha1.ConditionCompleted).ObservedGeneration == rt.Generation, nil
	})
	eventually(t, 10*time.Second, "the removed node's series to go", func(context.Context) (bool, error) {
		series := canarySeries(t, h.registry, rt.Name)
		_, stale := series["canary-gone-b/ingress"]
		return !stale && len(series) == 6, nil
	})
}
