package canary

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// MaxNodes bounds the nodes one canary checks: two pods per node, and one entry each in
// status.canary.nodes.
const MaxNodes = 100

// Schedulable returns, sorted, the names of the nodes a canary pod with this node
// selector and these tolerations can run on now: those an edge checked from every node
// would be (probes.SelectNodes) that are Ready and not cordoned.
func Schedulable(nodes []corev1.Node, nodeSelector map[string]string, tolerations []corev1.Toleration) []string {
	pod := &v1alpha1.ProbePodSpec{NodeSelector: nodeSelector, Tolerations: tolerations}
	var names []string
	for _, n := range probes.SelectNodes(nodes, v1alpha1.NodeSelection{All: true}, pod) {
		if n.Unavailable == "" {
			names = append(names, n.Name)
		}
	}
	return names
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
