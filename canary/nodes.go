package canary

import (
	"slices"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// MaxNodes bounds the nodes one canary checks: two pods per node, and one entry each in
// status.canary.nodes.
const MaxNodes = 100

// Schedulable returns, sorted, the names of the nodes a canary pod with this node
// selector and these tolerations can run on: Ready, not cordoned, and without a taint
// that keeps such a pod off.
func Schedulable(nodes []corev1.Node, nodeSelector map[string]string, tolerations []corev1.Toleration) []string {
	var names []string
	for i := range nodes {
		n := &nodes[i]
		if ready(n) && !n.Spec.Unschedulable && labels.SelectorFromSet(nodeSelector).Matches(labels.Set(n.Labels)) && tolerated(n.Spec.Taints, tolerations) {
			names = append(names, n.Name)
		}
	}
	slices.Sort(names)
	return names
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tolerated is false when a taint that keeps pods off (NoSchedule, NoExecute) has no
// toleration; PreferNoSchedule only steers the scheduler.
func tolerated(taints []corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(logr.Discard(), t, false) }) {
			return false
		}
	}
	return true
}

// Pair is a client and the server it probes, each pinned to a node ("" where the
// scheduler places it).
type Pair struct {
	ClientNode, ServerNode string
}

// Ring pairs the nodes: the client on each node probes the server on the next, so every
// node's egress is seen by its client and its ingress by its server, with two pods per
// node. One node probes itself, as a canary of one pair; no node gives one unpinned pair.
func Ring(nodes []string) []Pair {
	if len(nodes) == 0 {
		return []Pair{{}}
	}
	pairs := make([]Pair, len(nodes))
	for i, n := range nodes {
		pairs[i] = Pair{ClientNode: n, ServerNode: nodes[(i+1)%len(nodes)]}
	}
	return pairs
}
