package controllers

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/bounds"
	"github.com/netconform/netconform/probes"
)

// nodeOptions let tests select nodes by the pool label.
func nodeOptions() SetupOptions {
	b := bounds.Default()
	b.AllowedNodeSelectorKeys = []string{"pool"}
	return SetupOptions{Options: Options{Bounds: b, PodStartTimeout: time.Hour}}
}

// createNode creates a Ready node with the labels given, and deletes it afterwards.
func createNode(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8s.Create(context.Background(), node); err != nil {
		t.Fatalf("creating node %s: %v", name, err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
	setNodeReady(t, name, corev1.ConditionTrue)
}

func setNodeReady(t *testing.T, name string, status corev1.ConditionStatus) {
	t.Helper()
	node := &corev1.Node{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, node); err != nil {
		t.Fatal(err)
	}
	reason := "KubeletReady"
	if status != corev1.ConditionTrue {
		reason = "NodeStatusUnknown"
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := k8s.Status().Update(context.Background(), node); err != nil {
		t.Fatalf("setting node %s Ready=%s: %v", name, status, err)
	}
}

func joinPool(t *testing.T, name, pool string) {
	t.Helper()
	node := &corev1.Node{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, node); err != nil {
		t.Fatal(err)
	}
	node.Labels = map[string]string{"pool": pool}
	if err := k8s.Update(context.Background(), node); err != nil {
		t.Fatalf("labelling node %s pool=%s: %v", name, pool, err)
	}
}

func cordon(t *testing.T, name string) {
	t.Helper()
	node := &corev1.Node{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, node); err != nil {
		t.Fatal(err)
	}
	node.Spec.Unschedulable = true
	if err := k8s.Update(context.Background(), node); err != nil {
		t.Fatalf("cordoning node %s: %v", name, err)
	}
}

func fromNodes(edge v1alpha1.Edge, sel v1alpha1.NodeSelection) v1alpha1.Edge {
	edge.From.Nodes = &sel
	return edge
}

func inPool(pool string) v1alpha1.NodeSelection {
	return v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": pool}}}
}

// pinnedNodes maps each pinned probe pod's node to the pod; unpinned pods go under "".
func pinnedNodes(t *testing.T, pods []corev1.Pod) map[string]corev1.Pod {
	t.Helper()
	byNode := map[string]corev1.Pod{}
	for _, p := range pods {
		node := probes.PinnedNode(&p)
		if _, dup := byNode[node]; dup {
			t.Fatalf("two probe pods pinned to node %q", node)
		}
		checks, err := probes.ChecksOf(&p)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if c.Node != node {
				t.Errorf("pod %s pinned to %q carries a check for node %q", p.Name, node, c.Node)
			}
		}
		if p.Spec.NodeName != "" {
			t.Errorf("pod %s sets nodeName %q: pinning must go through the scheduler", p.Name, p.Spec.NodeName)
		}
		byNode[node] = p
	}
	return byNode
}

// failingNodeSeries returns the nodes of the netconform_edge_failing_node series of an edge.
func failingNodeSeries(t *testing.T, reg prometheus.Gatherer, test, edge string) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, f := range families {
		if f.GetName() != "netconform_edge_failing_node" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "test") == test && label(m, "edge") == edge {
				nodes = append(nodes, label(m, "node"))
			}
		}
	}
	slices.Sort(nodes)
	return nodes
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestFromNodesAllChecksFromEveryNode: from.nodes all makes one probe pod per node,
// pinned by node affinity, besides the unpinned pod of an edge without from.nodes; an
// edge that fails on one node fails, naming that node in its message, failingNodes and
// the failing-node metric; the edge without from.nodes is judged as before.
func TestFromNodesAllChecksFromEveryNode(t *testing.T) {
	ns := newNamespace(t, "allnodes")
	nodes := []string{ns + "-a", ns + "-b", ns + "-c"}
	for _, n := range nodes {
		createNode(t, n, map[string]string{"pool": ns})
	}
	h := startManager(t, nodeOptions())
	web := map[string]string{"app": "web"}
	rt := createTest(t, "from-all-nodes", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		fromNodes(hostEdge("web-to-api", ns, web, "10.0.0.5", 8080, v1alpha1.ExpectAllow), v1alpha1.NodeSelection{All: true}),
		hostEdge("web-to-cache", ns, web, "10.0.0.6", 6379, v1alpha1.ExpectAllow),
	}})

	byNode := pinnedNodes(t, waitForPods(t, rt, 4))
	for _, n := range append([]string{""}, nodes...) {
		if _, ok := byNode[n]; !ok {
			t.Fatalf("no probe pod for node %q; pods by node: %v", n, slices.Collect(maps.Keys(byNode)))
		}
	}
	if checks, _ := probes.ChecksOf(ptrTo(byNode[""])); len(checks) != 1 || checks[0].Edge != "web-to-cache" {
		t.Errorf("the unpinned pod carries %+v, want the edge without from.nodes only", checks)
	}
	broken := nodes[1]
	for node, pod := range byNode {
		finishPod(t, ptrTo(pod), func(c probes.Check) probes.Result {
			if node == broken {
				return probes.Result{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Target: targetOf(c)}
			}
			return asExpected(c)
		})
	}
	rt = waitForCompleted(t, rt.Name)
	byEdge := resultsByEdge(rt)
	got := byEdge["web-to-api"]
	if got.Verdict != v1alpha1.VerdictFail || got.Observed != v1alpha1.ObservedTimeout || got.Nodes != 3 || !slices.Equal(got.FailingNodes, []string{broken}) {
		t.Errorf("web-to-api = %+v, want Fail (Timeout) on 3 nodes, failing on %s only", got, broken)
	}
	if !strings.Contains(got.Message, "did not pass from 1 of 3 nodes ("+broken+")") {
		t.Errorf("message %q does not name the failing node", got.Message)
	}
	if other := byEdge["web-to-cache"]; other.Verdict != v1alpha1.VerdictPass || other.Nodes != 0 || len(other.FailingNodes) != 0 {
		t.Errorf("web-to-cache = %+v, want a Pass without nodes", other)
	}
	if series := failingNodeSeries(t, h.registry, rt.Name, "web-to-api"); !slices.Equal(series, []string{broken}) {
		t.Errorf("netconform_edge_failing_node series for nodes %v, want %s", series, broken)
	}
	if series := failingNodeSeries(t, h.registry, rt.Name, "web-to-cache"); len(series) != 0 {
		t.Errorf("netconform_edge_failing_node series %v for the edge without from.nodes", series)
	}
}

// TestFromNodesSelectorPicksMatchingNodesOnly: a selector makes pods on the nodes it
// matches only; a passing edge says it passed from all of them.
func TestFromNodesSelectorPicksMatchingNodesOnly(t *testing.T) {
	ns := newNamespace(t, "poolnodes")
	inA := []string{ns + "-a1", ns + "-a2"}
	for _, n := range inA {
		createNode(t, n, map[string]string{"pool": ns + "-a"})
	}
	createNode(t, ns+"-b1", map[string]string{"pool": ns + "-b"})
	startManager(t, nodeOptions())
	rt := createTest(t, "from-pool-a", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		fromNodes(hostEdge("a-to-api", ns, nil, "10.0.0.5", 8080, v1alpha1.ExpectAllow), inPool(ns+"-a")),
	}})
	byNode := pinnedNodes(t, waitForPods(t, rt, 2))
	for _, n := range inA {
		pod, ok := byNode[n]
		if !ok {
			t.Fatalf("no probe pod pinned to %s: %v", n, slices.Collect(maps.Keys(byNode)))
		}
		finishPod(t, &pod, asExpected)
	}
	rt = waitForCompleted(t, rt.Name)
	got := resultsByEdge(rt)["a-to-api"]
	if got.Verdict != v1alpha1.VerdictPass || got.Nodes != 2 || !strings.HasPrefix(got.Message, "passed from all 2 nodes") {
		t.Errorf("a-to-api = %+v, want a Pass from all 2 nodes", got)
	}
}

// TestFromNodesWithoutMatchIsAnErrorUntilANodeMatches: a selector that matches no node
// starts no pod; a condition and an event name the field and the fix. A node that comes
// to match starts the run.
func TestFromNodesWithoutMatchIsAnErrorUntilANodeMatches(t *testing.T) {
	ns := newNamespace(t, "nomatch")
	startManager(t, nodeOptions())
	rt := createTest(t, "from-no-node", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("plain", ns, nil, "10.0.0.5", 8080, v1alpha1.ExpectAllow),
		fromNodes(hostEdge("from-nowhere", ns, nil, "10.0.0.5", 8080, v1alpha1.ExpectAllow), inPool(ns)),
	}})
	waitForEvent(t, rt, v1alpha1.ReasonNoMatchingNodes)
	rt = getTest(t, rt.Name)
	for _, typ := range []string{v1alpha1.ConditionCompleted, v1alpha1.ConditionPassed} {
		c := meta.FindStatusCondition(rt.Status.Conditions, typ)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonNoMatchingNodes {
			t.Fatalf("%s = %+v, want False/%s", typ, c, v1alpha1.ReasonNoMatchingNodes)
		}
		for _, want := range []string{"spec.edges[1].from.nodes", "pool=" + ns, "matches no node", "label the nodes, fix the selector"} {
			if !strings.Contains(c.Message, want) {
				t.Errorf("%s message %q does not contain %q", typ, c.Message, want)
			}
		}
	}
	touch(t, rt.Name) // woken again, it still starts nothing
	if pods := probePodsOf(t, rt); len(pods) != 0 {
		t.Fatalf("%d probe pods for a test whose from.nodes matches no node", len(pods))
	}

	// The node comes Ready first and then joins the pool: a node that matches while not
	// yet Ready is rightly reported as such by a run that starts then.
	createNode(t, ns+"-late", nil)
	joinPool(t, ns+"-late", ns)
	byNode := pinnedNodes(t, waitForPods(t, rt, 2))
	for _, pod := range byNode {
		finishPod(t, &pod, asExpected)
	}
	rt = waitForCompleted(t, rt.Name)
	if got := resultsByEdge(rt)["from-nowhere"]; got.Verdict != v1alpha1.VerdictPass || got.Nodes != 1 {
		t.Errorf("from-nowhere = %+v once a node matches, want a Pass from 1 node", got)
	}
	if n := countEvents(t, rt, v1alpha1.ReasonNoMatchingNodes); n != 1 {
		t.Errorf("%d NoMatchingNodes events, want 1", n)
	}
}

// TestFromNodesNodeFailingMidRunGivesErrorNamingIt: a node that goes NotReady, and one
// that is cordoned, while their probe pods wait end those pods at once with an Error
// that names the node and why; the run completes and keeps the other results.
func TestFromNodesNodeFailingMidRunGivesErrorNamingIt(t *testing.T) {
	ns := newNamespace(t, "nodefault")
	healthy, notReady, cordoned := ns+"-ok", ns+"-down", ns+"-cordoned"
	for _, n := range []string{healthy, notReady, cordoned} {
		createNode(t, n, map[string]string{"pool": ns})
	}
	startManager(t, nodeOptions())
	rt := createTest(t, "node-fault", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		fromNodes(hostEdge("from-pool", ns, nil, "10.0.0.5", 8080, v1alpha1.ExpectAllow), inPool(ns)),
		hostEdge("plain", ns, map[string]string{"app": "plain"}, "10.0.0.6", 80, v1alpha1.ExpectAllow),
	}})
	byNode := pinnedNodes(t, waitForPods(t, rt, 4))
	for _, n := range []string{"", healthy} {
		pod := byNode[n]
		finishPod(t, &pod, asExpected)
	}
	setNodeReady(t, notReady, corev1.ConditionUnknown)
	cordon(t, cordoned)

	rt = waitForCompleted(t, rt.Name) // the start timeout is an hour: only the nodes end it
	byEdge := resultsByEdge(rt)
	got := byEdge["from-pool"]
	if got.Verdict != v1alpha1.VerdictInconclusive || got.Observed != v1alpha1.ObservedError || !slices.Equal(got.FailingNodes, []string{cordoned, notReady}) {
		t.Errorf("from-pool = %+v, want Inconclusive (Error) failing on %s and %s", got, cordoned, notReady)
	}
	if !strings.Contains(got.Message, "node "+cordoned+" is cordoned") {
		t.Errorf("message %q does not say which node failed and why", got.Message)
	}
	if plain := byEdge["plain"]; plain.Verdict != v1alpha1.VerdictPass {
		t.Errorf("plain = %+v, want its Pass kept", plain)
	}
	waitForEvent(t, rt, EventProbePodFailed)
}

// TestFromNodesResolvesNodesEachRun: a node added while a scheduled test runs is not in
// that run, and is in the next.
func TestFromNodesResolvesNodesEachRun(t *testing.T) {
	ns := newNamespace(t, "nodeadded")
	createNode(t, ns+"-1", map[string]string{"pool": ns})
	clock := &movableClock{}
	opts := nodeOptions()
	opts.Now = clock.Now
	startManager(t, opts)
	rt := createTest(t, "node-added", v1alpha1.ReachabilityTestSpec{
		Schedule: "@every 1m",
		Edges:    []v1alpha1.Edge{fromNodes(hostEdge("e", ns, nil, "10.0.0.5", 8080, v1alpha1.ExpectAllow), inPool(ns))},
	})
	first := waitForPods(t, rt, 1)
	createNode(t, ns+"-2", map[string]string{"pool": ns})
	finishPod(t, &first[0], asExpected)
	rt = waitForCompleted(t, rt.Name)
	if got := resultsByEdge(rt)["e"]; got.Nodes != 1 {
		t.Fatalf("first run checked from %d nodes, want the 1 there when it started", got.Nodes)
	}

	clock.moveTo(rt.Status.NextRunTime.Time)
	touch(t, rt.Name)
	byNode := pinnedNodes(t, waitForPods(t, rt, 2))
	for _, n := range []string{ns + "-1", ns + "-2"} {
		pod, ok := byNode[n]
		if !ok {
			t.Fatalf("the next run has no pod on %s: %v", n, slices.Collect(maps.Keys(byNode)))
		}
		finishPod(t, &pod, asExpected)
	}
	eventually(t, 20*time.Second, "the second run to check from 2 nodes", func(context.Context) (bool, error) {
		rt = getTest(t, rt.Name)
		return rt.Status.ActiveRun == nil && len(rt.Status.Results) == 1 && rt.Status.Results[0].Nodes == 2, nil
	})
}

func resultsByEdge(rt *v1alpha1.ReachabilityTest) map[string]v1alpha1.EdgeResult {
	out := map[string]v1alpha1.EdgeResult{}
	for _, r := range rt.Status.Results {
		out[r.Edge] = r
	}
	return out
}

func ptrTo(p corev1.Pod) *corev1.Pod { return &p }

// TestNodeChangesPassWhatMovesARun: a node's heartbeat wakes no test; a change to what
// decides whether an edge is checked from it, or whether a probe can run there, does.
func TestNodeChangesPassWhatMovesARun(t *testing.T) {
	base := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"pool": "a"}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}},
	}
	cases := map[string]struct {
		change func(*corev1.Node)
		want   bool
	}{
		"heartbeat": {func(n *corev1.Node) {
			n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Minute))
		}, false},
		"label":     {func(n *corev1.Node) { n.Labels["pool"] = "b" }, true},
		"cordon":    {func(n *corev1.Node) { n.Spec.Unschedulable = true }, true},
		"not ready": {func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionUnknown }, true},
		"taint": {func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
		}, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			node := base.DeepCopy()
			c.change(node)
			if got := nodeChanges.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: node}); got != c.want {
				t.Errorf("nodeChanges passed %v, want %v", got, c.want)
			}
		})
	}
}
