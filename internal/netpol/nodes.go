package netpol

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// ownNode is the destination pod's node when the source's address is one of that
// node's: the NetworkPolicy API lets traffic from a pod's own node in whatever the
// policies say (so that kubelet probes work). A node that is not the destination's is
// an ordinary address.
func (c *Cluster) ownNode(conn Connection) (string, bool) {
	pod := conn.To.Pod
	from, err := netip.ParseAddr(conn.From.Address())
	if pod == nil || pod.Spec.NodeName == "" || err != nil {
		return "", false
	}
	i := slices.IndexFunc(c.Nodes, func(n corev1.Node) bool { return n.Name == pod.Spec.NodeName })
	if i < 0 {
		return "", false
	}
	for _, a := range c.Nodes[i].Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Unmap() == from.Unmap() {
			return pod.Spec.NodeName, true
		}
	}
	return "", false
}

// fromOwnNode decides ingress for traffic from the destination's own node.
func fromOwnNode(conn Connection, node string) (DirectionDecision, []string) {
	d := DirectionDecision{Pod: podKey(conn.To.Pod), Allowed: true, NetworkPolicyAllowed: true, OwnNode: node}
	why := fmt.Sprintf("%s from %s, the address of its node %s, is allowed: traffic from the pod's own node is always allowed in (NetworkPolicy does not apply to it)",
		side(networkingv1.PolicyTypeIngress, d.Pod), conn.From.Address(), node)
	return d, []string{why}
}

// NodeAddress is the node's InternalIP (the first one, IPv4 before IPv6 as the node
// lists them), the address its traffic to its own pods comes from; "" when it has none.
func NodeAddress(node *corev1.Node) string {
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
