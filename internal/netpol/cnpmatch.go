package netpol

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// match is a three-valued answer: whether a selector, peer or port matches, or that the
// model cannot tell (an experimental peer, a field of a newer version).
type match int8

const (
	no match = iota
	yes
	maybe
)

// and is yes only when both are, no when either is.
func and(a, b match) match {
	switch {
	case a == no || b == no:
		return no
	case a == maybe || b == maybe:
		return maybe
	}
	return yes
}

// anyOf is the best of the answers: yes when one is yes, no when all are no.
func anyOf(ms ...match) match {
	out := no
	for _, m := range ms {
		if m == yes {
			return yes
		}
		if m == maybe {
			out = maybe
		}
	}
	return out
}

func matchIf(b bool) match {
	if b {
		return yes
	}
	return no
}

// clusterSubject reports whether a ClusterNetworkPolicy applies to the pod. Host-network
// pods are never selected; a subject with no field set is of a version the model does
// not know.
func (c *Cluster) clusterSubject(s v1beta1.ClusterNetworkPolicySubject, pod *corev1.Pod) match {
	switch {
	case pod.Spec.HostNetwork:
		return no
	case s.Namespaces != nil:
		return matchIf(selects(s.Namespaces, c.namespaceLabels(pod.Namespace)))
	case s.Pods != nil:
		return c.namespacedPod(s.Pods, pod)
	}
	return maybe
}

// namespacedPod: a pod whose namespace matches NamespaceSelector and whose labels match
// PodSelector (both empty selectors select everything).
func (c *Cluster) namespacedPod(np *v1beta1.NamespacedPod, pod *corev1.Pod) match {
	return matchIf(selects(&np.NamespaceSelector, c.namespaceLabels(pod.Namespace)) && selects(&np.PodSelector, pod.Labels))
}

// ingressPeer: the source matches one item of an ingress rule's from. A peer with no
// field set is of a version the model does not know.
func (c *Cluster) ingressPeer(p v1beta1.ClusterNetworkPolicyIngressPeer, src Peer) match {
	if p.Namespaces == nil && p.Pods == nil {
		return maybe
	}
	return c.podPeer(p.Namespaces, p.Pods, src)
}

// egressPeer: the destination matches one item of an egress rule's to. Networks match
// the destination's address (a pod's too, as the API documents); nodes and domainNames
// depend on what the snapshot does not hold.
func (c *Cluster) egressPeer(p v1beta1.ClusterNetworkPolicyEgressPeer, dst Peer) match {
	switch {
	case p.Nodes != nil || len(p.DomainNames) > 0:
		return maybe
	case len(p.Networks) > 0:
		return networksContain(p.Networks, dst.Address())
	case p.Namespaces == nil && p.Pods == nil:
		return maybe
	}
	return c.podPeer(p.Namespaces, p.Pods, dst)
}

// podPeer applies a namespaces or a pods peer, whichever is set.
func (c *Cluster) podPeer(namespaces *metav1.LabelSelector, pods *v1beta1.NamespacedPod, other Peer) match {
	switch {
	case other.Pod == nil || other.Pod.Spec.HostNetwork:
		return no // these peers select pods only, and never host-network ones
	case namespaces != nil:
		return matchIf(selects(namespaces, c.namespaceLabels(other.Pod.Namespace)))
	}
	return c.namespacedPod(pods, other.Pod)
}

// networksContain: the address is in one of the CIDRs; maybe when the address is not
// known yet (a pod without an IP).
func networksContain(networks []v1beta1.CIDR, address string) match {
	addr, err := netip.ParseAddr(address)
	if err != nil {
		return maybe
	}
	addr = addr.Unmap()
	for _, n := range networks {
		if p, err := netip.ParsePrefix(string(n)); err == nil && p.Contains(addr) {
			return yes
		}
	}
	return no
}

// clusterPorts: the connection's port and protocol match one item of a rule's protocols
// (none means every port of every protocol). A named port is looked up on the
// destination pod, in any protocol of the connection's.
func clusterPorts(protocols []v1beta1.ClusterNetworkPolicyProtocol, port int32, protocol corev1.Protocol, dst *corev1.Pod) match {
	if len(protocols) == 0 {
		return yes
	}
	ms := make([]match, len(protocols))
	for i, p := range protocols {
		ms[i] = clusterPort(p, port, protocol, dst)
	}
	return anyOf(ms...)
}

func clusterPort(p v1beta1.ClusterNetworkPolicyProtocol, port int32, protocol corev1.Protocol, dst *corev1.Pod) match {
	switch {
	case p.TCP != nil:
		return matchIf(protocol == corev1.ProtocolTCP && portIn(p.TCP.DestinationPort, port))
	case p.UDP != nil:
		return matchIf(protocol == corev1.ProtocolUDP && portIn(p.UDP.DestinationPort, port))
	case p.SCTP != nil:
		return matchIf(protocol == corev1.ProtocolSCTP && portIn(p.SCTP.DestinationPort, port))
	case p.DestinationNamedPort != "":
		n, ok := containerPort(dst, p.DestinationNamedPort, protocol)
		return matchIf(ok && n == port)
	}
	return maybe
}

// portIn: no port means every port of the protocol; a range is inclusive.
func portIn(p *v1beta1.Port, port int32) bool {
	switch {
	case p == nil:
		return true
	case p.Range != nil:
		return p.Range.Start <= port && port <= p.Range.End
	}
	return p.Number == port
}
