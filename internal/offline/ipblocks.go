package offline

import (
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netconform/netconform/internal/netpol"
)

// Stand-ins for every ipBlock: one that matches no address of the manifests (a
// broadcast address, which no pod has) and one that matches all of them (every
// offline address is IPv4).
var (
	neverMatches  = networkingv1.IPBlock{CIDR: "255.255.255.255/32"}
	alwaysMatches = networkingv1.IPBlock{CIDR: "0.0.0.0/0"}
)

// withIPBlocks is a copy of the cluster whose NetworkPolicies have every ipBlock replaced
// by block, and whether there was any. NetworkPolicy rules only ever allow, so a verdict
// that is the same with ipBlocks matching nothing and matching everything does not depend
// on the addresses pods get.
func withIPBlocks(c *netpol.Cluster, block networkingv1.IPBlock) (*netpol.Cluster, bool) {
	out := *c
	out.Policies = make([]networkingv1.NetworkPolicy, len(c.Policies))
	found := false
	for i := range c.Policies {
		p := c.Policies[i].DeepCopy()
		for r := range p.Spec.Ingress {
			found = replaceIPBlocks(p.Spec.Ingress[r].From, block) || found
		}
		for r := range p.Spec.Egress {
			found = replaceIPBlocks(p.Spec.Egress[r].To, block) || found
		}
		out.Policies[i] = *p
	}
	return &out, found
}

func replaceIPBlocks(peers []networkingv1.NetworkPolicyPeer, block networkingv1.IPBlock) bool {
	found := false
	for i := range peers {
		if peers[i].IPBlock != nil {
			b := block
			peers[i].IPBlock, found = &b, true
		}
	}
	return found
}
