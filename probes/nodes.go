package probes

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/netconform/netconform/api/v1alpha1"
)

// JudgeAcrossNodes decides an edge checked from several nodes: each node is judged on
// its own checks, a node that could not be checked from is Inconclusive with an Error
// that says why, and the edge takes the worst node's verdict. The edge passes only if it
// passes on every node; the nodes it did not pass on are named in the message and in
// FailingNodes.
func JudgeAcrossNodes(edge v1alpha1.Edge, nodes []NodeTarget, checks []Check, results []Result, listens Listens) v1alpha1.EdgeResult {
	byNode := map[string][]int{}
	for i, c := range checks {
		byNode[c.Node] = append(byNode[c.Node], i)
	}
	perNode := make([]v1alpha1.EdgeResult, len(nodes))
	decider := 0
	var failing []string
	for i, node := range nodes {
		perNode[i] = judgeOnNode(edge, node, byNode[node.Name], checks, results, listens)
		if Severity(perNode[i].Verdict) > Severity(perNode[decider].Verdict) {
			decider = i
		}
		if perNode[i].Verdict != v1alpha1.VerdictPass {
			failing = append(failing, node.Name)
		}
	}
	if len(nodes) == 0 {
		const msg = "the run checked this edge from no node"
		return edgeResult(edge, Result{Observation: v1alpha1.ObservedError, Message: msg}, v1alpha1.VerdictInconclusive, msg)
	}
	out := perNode[decider]
	out.Nodes = int32(len(nodes))
	if len(failing) == 0 {
		out.Message = truncate(fmt.Sprintf("passed from all %d nodes; from %s: %s", len(nodes), nodes[decider].Name, out.Message), 1024)
		return out
	}
	out.FailingNodes = failing[:min(len(failing), v1alpha1.MaxFailingNodes)]
	out.Message = truncate(fmt.Sprintf("did not pass from %d of %d nodes (%s); from %s: %s",
		len(failing), len(nodes), nodeList(failing), nodes[decider].Name, out.Message), 1024)
	return out
}

func judgeOnNode(edge v1alpha1.Edge, node NodeTarget, indexes []int, checks []Check, results []Result, listens Listens) v1alpha1.EdgeResult {
	if node.Unavailable != "" {
		msg := fmt.Sprintf("node %s %s: no probe ran there", node.Name, node.Unavailable)
		return edgeResult(edge, Result{Observation: v1alpha1.ObservedError, Message: msg}, v1alpha1.VerdictInconclusive, msg)
	}
	own := make([]Check, len(indexes))
	res := make([]Result, 0, len(indexes))
	for i, at := range indexes {
		own[i] = checks[at]
		if at < len(results) {
			res = append(res, results[at])
		}
	}
	return JudgeEdge(edge, own, res, listens)
}

// nodeList names at most MaxFailingNodes nodes, counting the rest.
func nodeList(nodes []string) string {
	if len(nodes) <= v1alpha1.MaxFailingNodes {
		return strings.Join(nodes, ", ")
	}
	return strings.Join(nodes[:v1alpha1.MaxFailingNodes], ", ") + fmt.Sprintf(" and %d more", len(nodes)-v1alpha1.MaxFailingNodes)
}

// Taints the node lifecycle controller puts on a cordoned or failing node: they make the
// node Unavailable, which the edge reports, rather than leave it out.
var lifecycleTaints = map[string]bool{
	corev1.TaintNodeUnschedulable: true,
	corev1.TaintNodeNotReady:      true,
	corev1.TaintNodeUnreachable:   true,
}

// SelectNodes picks, in name order, the nodes a from.nodes selection checks an edge
// from: those it selects on which the probe pod may run (it matches the pod's node
// selector and tolerates the node's NoSchedule and NoExecute taints), so that a test
// reaches no node its pods could not be scheduled to. A cordoned or NotReady node is
// kept, Unavailable: it is selected, and no probe can run there now.
func SelectNodes(nodes []corev1.Node, sel v1alpha1.NodeSelection, pod *v1alpha1.ProbePodSpec) []NodeTarget {
	if pod == nil {
		pod = &v1alpha1.ProbePodSpec{}
	}
	var picked []NodeTarget
	for i := range nodes {
		n := &nodes[i]
		if !selects(sel, n.Labels) || !carries(n.Labels, pod.NodeSelector) || !tolerated(n.Spec.Taints, pod.Tolerations) {
			continue
		}
		picked = append(picked, NodeTarget{Name: n.Name, Unavailable: Unavailable(n)})
	}
	slices.SortFunc(picked, func(a, b NodeTarget) int { return strings.Compare(a.Name, b.Name) })
	return picked
}

// Unavailable says why no probe pod can run on a node now, or "" when one can.
func Unavailable(n *corev1.Node) string {
	if n.DeletionTimestamp != nil {
		return "is being deleted"
	}
	if n.Spec.Unschedulable {
		return "is cordoned"
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status != corev1.ConditionTrue {
				return "is NotReady" + messageSuffix(c.Reason)
			}
			return ""
		}
	}
	return "is NotReady (it reports no Ready condition)"
}

func messageSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

func selects(sel v1alpha1.NodeSelection, labels map[string]string) bool {
	if sel.Selector == nil {
		return sel.All
	}
	return carries(labels, sel.Selector.MatchLabels)
}

// carries says whether labels hold every one of want.
func carries(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func tolerated(taints []corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule || lifecycleTaints[t.Key] {
			continue
		}
		if !slices.ContainsFunc(tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(klog.Background(), t, false) }) {
			return false
		}
	}
	return true
}
