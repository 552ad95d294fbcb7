package probes

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

func node(name string, labels map[string]string, change ...func(*corev1.Node)) corev1.Node {
	n := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
	for _, c := range change {
		c(&n)
	}
	return n
}

func tainted(key string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

func TestSelectNodes(t *testing.T) {
	poolA := map[string]string{"pool": "a"}
	nodes := []corev1.Node{
		node("c", poolA),
		node("a", poolA),
		node("b", map[string]string{"pool": "b"}),
		node("control", poolA, tainted("node-role.kubernetes.io/control-plane", corev1.TaintEffectNoSchedule)),
		node("soft", poolA, tainted("spot", corev1.TaintEffectPreferNoSchedule)),
		node("cordoned", poolA, func(n *corev1.Node) { n.Spec.Unschedulable = true }, tainted(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)),
		node("down", poolA, func(n *corev1.Node) {
			n.Status.Conditions[0].Status, n.Status.Conditions[0].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
		}, tainted(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)),
	}
	all := v1alpha1.NodeSelection{All: true}
	inA := v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": "a"}}}
	tests := []struct {
		name string
		sel  v1alpha1.NodeSelection
		pod  *v1alpha1.ProbePodSpec
		want []NodeTarget
	}{
		{"all: every node a probe pod may run on, by name; a failing node is kept as unavailable", all, nil, []NodeTarget{
			{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "cordoned", Unavailable: "is cordoned"},
			{Name: "down", Unavailable: "is NotReady (NodeStatusUnknown)"}, {Name: "soft"},
		}},
		{"selector: the matching nodes only", inA, nil, []NodeTarget{
			{Name: "a"}, {Name: "c"}, {Name: "cordoned", Unavailable: "is cordoned"}, {Name: "down", Unavailable: "is NotReady (NodeStatusUnknown)"}, {Name: "soft"},
		}},
		{"the probe pod's node selector narrows it", all, &v1alpha1.ProbePodSpec{NodeSelector: map[string]string{"pool": "b"}}, []NodeTarget{{Name: "b"}}},
		{"a toleration the manager allowed reaches a tainted node", inA, &v1alpha1.ProbePodSpec{Tolerations: []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists}}}, []NodeTarget{
			{Name: "a"}, {Name: "c"}, {Name: "control"}, {Name: "cordoned", Unavailable: "is cordoned"}, {Name: "down", Unavailable: "is NotReady (NodeStatusUnknown)"}, {Name: "soft"},
		}},
		{"no match", v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": "z"}}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SelectNodes(nodes, tt.sel, tt.pod); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SelectNodes\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func fixedNodes(nodes ...NodeTarget) func(context.Context, v1alpha1.NodeSelection) ([]NodeTarget, error) {
	return func(context.Context, v1alpha1.NodeSelection) ([]NodeTarget, error) { return nodes, nil }
}

func TestBuildPlanFromNodes(t *testing.T) {
	web := v1alpha1.Source{Namespace: "shop", PodLabels: map[string]string{"app": "web"}}
	edges := []v1alpha1.Edge{
		{Name: "pinned", From: web, To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.1", Port: 80}}, Expect: v1alpha1.ExpectAllow},
		{Name: "plain", From: web, To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.2", Port: 80}}, Expect: v1alpha1.ExpectAllow},
	}
	edges[0].From.Nodes = &v1alpha1.NodeSelection{All: true}
	nodes := []NodeTarget{{Name: "n1"}, {Name: "n2", Unavailable: "is cordoned"}, {Name: "n3"}}
	plan := BuildPlan(t.Context(), edges, nil, PlanOptions{ClusterDomain: "cluster.local", Nodes: fixedNodes(nodes...)})

	var got []string
	for _, s := range plan.Sources {
		for _, c := range s.Checks {
			if c.Node != s.Identity.Node {
				t.Errorf("source pinned to %q carries a check for %q", s.Identity.Node, c.Node)
			}
			got = append(got, s.Identity.Node+":"+c.Edge)
		}
	}
	if want := []string{"n1:pinned", "n3:pinned", ":plain"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sources' checks %q, want %q: one source per available node, the unpinned edge apart", got, want)
	}
	if !reflect.DeepEqual(plan.Nodes["pinned"], nodes) || len(plan.Nodes) != 1 {
		t.Errorf("plan.Nodes = %+v, want the pinned edge's nodes, the unavailable one included", plan.Nodes)
	}

	// Without from.nodes, a plan is the same whether nodes can be read or not.
	plain := edges[1:]
	withNodes := BuildPlan(t.Context(), plain, nil, PlanOptions{ClusterDomain: "cluster.local", Nodes: fixedNodes(nodes...)})
	without := BuildPlan(t.Context(), plain, nil, PlanOptions{ClusterDomain: "cluster.local"})
	if !reflect.DeepEqual(withNodes, without) {
		t.Errorf("a plan without from.nodes changed with the node resolver:\n%+v\n%+v", withNodes, without)
	}
}

func TestBuildPlanFromNodesErrors(t *testing.T) {
	edge := v1alpha1.Edge{Name: "pinned", From: v1alpha1.Source{Namespace: "shop"}, To: v1alpha1.Destination{DNS: &v1alpha1.DNSDestination{Name: "a.example"}}, Expect: v1alpha1.ExpectAllow}
	edge.From.Nodes = &v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": "gpu"}}}
	tests := []struct {
		name  string
		nodes func(context.Context, v1alpha1.NodeSelection) ([]NodeTarget, error)
		want  string
	}{
		{"no node matches", fixedNodes(), "from.nodes.selector pool=gpu matches no node that probe pods may run on: label the nodes, fix the selector"},
		{"nodes cannot be read", nil, "from.nodes needs the nodes, which this runner cannot read: remove from.nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := BuildPlan(t.Context(), []v1alpha1.Edge{edge}, nil, PlanOptions{Nodes: tt.nodes})
			r, ok := plan.Unprobed["pinned"]
			if len(plan.Sources) != 0 || !ok || r.Observation != v1alpha1.ObservedError || !strings.Contains(r.Message, tt.want) {
				t.Errorf("plan %+v, want the edge unprobed with an Error containing %q", plan, tt.want)
			}
		})
	}
}

func TestJudgeAcrossNodes(t *testing.T) {
	edge := v1alpha1.Edge{Name: "web-api", Expect: v1alpha1.ExpectAllow}
	check := func(node string) Check {
		return Check{Edge: "web-api", Kind: KindTCP, Host: "10.0.0.1", Port: 80, Node: node}
	}
	ok := Result{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: "10.0.0.1:80"}
	dropped := Result{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Target: "10.0.0.1:80"}
	none := func(Check, Result) (string, bool) { return "", false }
	three := []NodeTarget{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	checks := []Check{check("a"), check("b"), check("c")}

	got := JudgeAcrossNodes(edge, three, checks, []Result{ok, ok, ok}, none)
	if got.Verdict != v1alpha1.VerdictPass || got.Nodes != 3 || got.FailingNodes != nil || !strings.HasPrefix(got.Message, "passed from all 3 nodes") {
		t.Errorf("all pass: %+v", got)
	}
	got = JudgeAcrossNodes(edge, three, checks, []Result{ok, dropped, ok}, none)
	if got.Verdict != v1alpha1.VerdictFail || got.Observed != v1alpha1.ObservedTimeout || !reflect.DeepEqual(got.FailingNodes, []string{"b"}) ||
		!strings.HasPrefix(got.Message, "did not pass from 1 of 3 nodes (b); from b: ") {
		t.Errorf("one node fails: %+v", got)
	}
	withDown := []NodeTarget{{Name: "a"}, {Name: "b", Unavailable: "is NotReady"}, {Name: "c"}}
	got = JudgeAcrossNodes(edge, withDown, []Check{check("a"), check("c")}, []Result{ok, dropped}, none)
	if got.Verdict != v1alpha1.VerdictFail || !reflect.DeepEqual(got.FailingNodes, []string{"b", "c"}) || !strings.Contains(got.Message, "(b, c)") {
		t.Errorf("a failure outranks an unavailable node, and both are named: %+v", got)
	}
	got = JudgeAcrossNodes(edge, withDown, []Check{check("a"), check("c")}, []Result{ok, ok}, none)
	if got.Verdict != v1alpha1.VerdictInconclusive || got.Observed != v1alpha1.ObservedError || !strings.Contains(got.Message, "node b is NotReady: no probe ran there") {
		t.Errorf("an unavailable node makes the edge an Error naming it: %+v", got)
	}

	var many []NodeTarget
	var manyChecks []Check
	var manyResults []Result
	for i := range 20 {
		name := string(rune('a'+i)) + "-node"
		many = append(many, NodeTarget{Name: name})
		manyChecks = append(manyChecks, check(name))
		manyResults = append(manyResults, dropped)
	}
	got = JudgeAcrossNodes(edge, many, manyChecks, manyResults, none)
	if len(got.FailingNodes) != v1alpha1.MaxFailingNodes || !strings.Contains(got.Message, "did not pass from 20 of 20 nodes") || !strings.Contains(got.Message, "and 4 more") {
		t.Errorf("20 failing nodes: %d named, message %q", len(got.FailingNodes), got.Message)
	}
}

// A pinned probe pod is the unpinned one with the node affinity, its own name and its
// checks' node: nothing else changes, and a pod without a node renders as before (the
// golden file of TestProbePodGolden is unchanged).
func TestPinnedProbePod(t *testing.T) {
	s := PodSettings{Image: managerImage}
	plain := ProbePod(fixtureTest(nil), runID, fixturePlan(frontendID), s)
	pinnedID := frontendID
	pinnedID.Node = "node-b"
	plan := fixturePlan(pinnedID)
	plan.Checks = onNode(plan.Checks, "node-b")
	pinned := ProbePod(fixtureTest(nil), runID, plan, s)

	if plain.Spec.Affinity != nil || PinnedNode(plain) != "" {
		t.Errorf("an unpinned pod has affinity %+v", plain.Spec.Affinity)
	}
	if got := PinnedNode(pinned); got != "node-b" || pinned.Spec.NodeName != "" {
		t.Errorf("pinned pod: PinnedNode %q, nodeName %q; want node-b by affinity, no nodeName", got, pinned.Spec.NodeName)
	}
	if pinned.Name == plain.Name {
		t.Error("a pinned pod has the unpinned pod's name")
	}
	unpin := pinned.DeepCopy()
	unpin.Name, unpin.Spec.Affinity = plain.Name, nil
	unpin.Spec.Containers[0].Args = plain.Spec.Containers[0].Args
	a, _ := yaml.Marshal(unpin)
	b, _ := yaml.Marshal(plain)
	if !bytes.Equal(a, b) {
		t.Errorf("a pinned pod differs from the unpinned one beyond its name, affinity and checks:\n%s", lineDiff(string(b), string(a)))
	}
}

// A pinned pod moved to another node, made to name another node in its checks, or
// given another affinity, is not what the manager renders.
func TestUnrenderedCatchesARepinnedPod(t *testing.T) {
	s := PodSettings{Image: managerImage}
	spec := fixtureTest(nil).Spec
	id := frontendID
	id.Node = "node-b"
	stored := func() *corev1.Pod {
		plan := fixturePlan(id)
		plan.Checks = onNode(plan.Checks, "node-b")
		return RenderPod(SharedPod{Wave: runID, Members: []Member{{Test: "shop-segmentation", UID: testUID, Run: runID}}, Spec: spec, Plan: plan}, s)
	}
	if err := Unrendered(stored(), spec, s); err != nil {
		t.Fatalf("the pinned pod the manager rendered was refused: %v", err)
	}
	cases := map[string]struct {
		change func(*corev1.Pod)
		want   string
	}{
		"re-pinned": {func(p *corev1.Pod) { p.Spec.Affinity = PinnedTo("node-c") }, ""},
		"unpinned":  {func(p *corev1.Pod) { p.Spec.Affinity = nil }, ""},
		"widened": {func(p *corev1.Pod) {
			f := &p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0]
			f.Values = append(f.Values, "node-c")
		}, ""},
		"checks of another node": {func(p *corev1.Pod) {
			plan := fixturePlan(id)
			plan.Checks = onNode(plan.Checks, "node-c")
			p.Spec.Containers[0].Args[len(p.Spec.Containers[0].Args)-1] = ChecksFlag + EncodeChecks(plan.Checks)
		}, `is for node "node-c" but the pod is pinned to "node-b"`},
	}
	// An unpinned pod given an affinity of another shape is caught by the field itself.
	plain := storedProbePod(spec, s, frontendID)
	plain.Spec.Affinity = PinnedTo("node-c")
	plain.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Operator = corev1.NodeSelectorOpNotIn
	if err := Unrendered(plain, spec, s); err == nil || !strings.Contains(err.Error(), "spec.affinity") {
		t.Errorf("Unrendered = %v for an unpinned pod with an affinity, want one naming spec.affinity", err)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pod := stored()
			c.change(pod)
			err := Unrendered(pod, spec, s)
			if err == nil || (c.want != "" && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Unrendered = %v, want an error %q", err, c.want)
			}
		})
	}
}
