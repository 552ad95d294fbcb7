package netpol

import (
	"maps"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// peersMatch reports whether a rule's from (or to) list admits the peer at the other end.
// An empty list admits everyone; otherwise any one item suffices (the items are ORed).
func (c *Cluster) peersMatch(policyNamespace string, peers []networkingv1.NetworkPolicyPeer, other Peer) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if c.peerMatches(policyNamespace, peer, other) {
			return true
		}
	}
	return false
}

// peerMatches reports whether one item of a from (or to) list admits the peer:
//   - ipBlock: the peer's address is in the CIDR and in none of the exceptions;
//   - podSelector alone: a pod of the policy's namespace with matching labels;
//   - namespaceSelector alone: any pod of a namespace with matching labels;
//   - both in the same item: a pod with matching labels in a matching namespace (AND).
//
// The API server rejects an item with none of them, or with ipBlock and a selector; the
// model admits nothing for the first and only looks at ipBlock for the second.
func (c *Cluster) peerMatches(policyNamespace string, peer networkingv1.NetworkPolicyPeer, other Peer) bool {
	if peer.IPBlock != nil {
		// The API documents ipBlock for cluster-external addresses, because pod IPs are
		// ephemeral and traffic may be rewritten on its way in or out; but dataplanes
		// match pod IPs too, and the conformance tests rely on it, so a pod's address
		// is matched like any other.
		return ipBlockContains(peer.IPBlock, other.Address())
	}
	if other.Pod == nil || (peer.PodSelector == nil && peer.NamespaceSelector == nil) {
		return false
	}
	pod := other.Pod
	if peer.NamespaceSelector == nil {
		if pod.Namespace != policyNamespace {
			return false
		}
	} else if !selects(peer.NamespaceSelector, c.namespaceLabels(pod.Namespace)) {
		return false
	}
	return peer.PodSelector == nil || selects(peer.PodSelector, pod.Labels)
}

// selects reports whether the label selector matches the labels. An empty selector
// matches everything; a nil one, or one the API server would reject, matches nothing.
func selects(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(set))
}

// namespaceLabels are a namespace's labels, including kubernetes.io/metadata.name, which
// the API server sets on every namespace to its name (so a snapshot that lacks it, or
// lacks the namespace altogether, is still judged as a real cluster would be).
func (c *Cluster) namespaceLabels(name string) map[string]string {
	out := map[string]string{}
	for i := range c.Namespaces {
		if c.Namespaces[i].Name == name {
			maps.Copy(out, c.Namespaces[i].Labels)
			break
		}
	}
	out[corev1.LabelMetadataName] = name
	return out
}

// ipBlockContains reports whether the address is in the block's CIDR and in none of its
// exceptions. IPv4 and IPv6 are both handled (an IPv4 address never matches an IPv6 CIDR,
// and the reverse); an address or CIDR that does not parse matches nothing.
func ipBlockContains(b *networkingv1.IPBlock, address string) bool {
	addr, err := netip.ParseAddr(address)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !cidr.Contains(addr) {
		return false
	}
	for _, e := range b.Except {
		if except, err := netip.ParsePrefix(e); err == nil && except.Contains(addr) {
			return false
		}
	}
	return true
}
