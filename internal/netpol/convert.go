package netpol

import (
	"bytes"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// The converters below turn the older served versions into v1beta1, which the model
// reads. A converted object keeps its own TypeMeta, so explanations name the kind the
// cluster holds. What cannot be converted is left empty (an empty peer, an empty
// protocol), which the model treats as undecidable, and named in the returned caveats.

// FromV1alpha2 converts a v1alpha2 ClusterNetworkPolicy, which has the same fields as
// v1beta1.
func FromV1alpha2(p *v1alpha2.ClusterNetworkPolicy) (v1beta1.ClusterNetworkPolicy, []string) {
	out := v1beta1.ClusterNetworkPolicy{TypeMeta: p.TypeMeta, ObjectMeta: *p.ObjectMeta.DeepCopy()}
	raw, err := json.Marshal(p.Spec)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(&out.Spec)
	}
	if err != nil {
		// The versions share their fields; a field v1beta1 lacks would land here.
		out.Spec = v1beta1.ClusterNetworkPolicySpec{Tier: v1beta1.Tier(p.Spec.Tier), Priority: p.Spec.Priority}
		return out, []string{fmt.Sprintf("ClusterNetworkPolicy %s (v1alpha2) could not be read as v1beta1 (%v): the model cannot decide what it does", p.Name, err)}
	}
	return out, nil
}

// FromAdminNetworkPolicy converts an AdminNetworkPolicy into an Admin tier policy: Allow
// becomes Accept, ports become protocols.
func FromAdminNetworkPolicy(p *v1alpha1.AdminNetworkPolicy) (v1beta1.ClusterNetworkPolicy, []string) {
	c := converter{name: "AdminNetworkPolicy " + p.Name}
	out := v1beta1.ClusterNetworkPolicy{TypeMeta: p.TypeMeta, ObjectMeta: *p.ObjectMeta.DeepCopy()}
	out.Spec.Tier, out.Spec.Priority = v1beta1.AdminTier, p.Spec.Priority
	out.Spec.Subject = c.subject(p.Spec.Subject)
	for i, r := range p.Spec.Ingress {
		out.Spec.Ingress = append(out.Spec.Ingress, v1beta1.ClusterNetworkPolicyIngressRule{
			Name: r.Name, Action: c.action(string(r.Action), "ingress", i),
			From: c.ingressPeers(r.From), Protocols: c.ports(r.Ports, "ingress", i),
		})
	}
	for i, r := range p.Spec.Egress {
		var to []v1beta1.ClusterNetworkPolicyEgressPeer
		for _, peer := range r.To {
			to = append(to, v1beta1.ClusterNetworkPolicyEgressPeer{
				Namespaces: peer.Namespaces, Pods: c.pods(peer.Pods), Nodes: peer.Nodes,
				Networks: networksOf(peer.Networks), DomainNames: domainNames(peer.DomainNames),
			})
		}
		out.Spec.Egress = append(out.Spec.Egress, v1beta1.ClusterNetworkPolicyEgressRule{
			Name: r.Name, Action: c.action(string(r.Action), "egress", i), To: to, Protocols: c.ports(r.Ports, "egress", i),
		})
	}
	return out, c.caveats
}

// FromBaselineAdminNetworkPolicy converts the BaselineAdminNetworkPolicy into a Baseline
// tier policy of priority 0 (the kind is a singleton, so it has no priority).
func FromBaselineAdminNetworkPolicy(p *v1alpha1.BaselineAdminNetworkPolicy) (v1beta1.ClusterNetworkPolicy, []string) {
	c := converter{name: "BaselineAdminNetworkPolicy " + p.Name}
	out := v1beta1.ClusterNetworkPolicy{TypeMeta: p.TypeMeta, ObjectMeta: *p.ObjectMeta.DeepCopy()}
	out.Spec.Tier = v1beta1.BaselineTier
	out.Spec.Subject = c.subject(p.Spec.Subject)
	for i, r := range p.Spec.Ingress {
		out.Spec.Ingress = append(out.Spec.Ingress, v1beta1.ClusterNetworkPolicyIngressRule{
			Name: r.Name, Action: c.action(string(r.Action), "ingress", i),
			From: c.ingressPeers(r.From), Protocols: c.ports(r.Ports, "ingress", i),
		})
	}
	for i, r := range p.Spec.Egress {
		var to []v1beta1.ClusterNetworkPolicyEgressPeer
		for _, peer := range r.To {
			to = append(to, v1beta1.ClusterNetworkPolicyEgressPeer{
				Namespaces: peer.Namespaces, Pods: c.pods(peer.Pods), Nodes: peer.Nodes, Networks: networksOf(peer.Networks),
			})
		}
		out.Spec.Egress = append(out.Spec.Egress, v1beta1.ClusterNetworkPolicyEgressRule{
			Name: r.Name, Action: c.action(string(r.Action), "egress", i), To: to, Protocols: c.ports(r.Ports, "egress", i),
		})
	}
	return out, c.caveats
}

// converter collects the caveats of one object's conversion.
type converter struct {
	name    string
	caveats []string
}

func (c *converter) subject(s v1alpha1.AdminNetworkPolicySubject) v1beta1.ClusterNetworkPolicySubject {
	return v1beta1.ClusterNetworkPolicySubject{Namespaces: s.Namespaces, Pods: c.pods(s.Pods)}
}

func (c *converter) pods(p *v1alpha1.NamespacedPod) *v1beta1.NamespacedPod {
	if p == nil {
		return nil
	}
	return &v1beta1.NamespacedPod{NamespaceSelector: p.NamespaceSelector, PodSelector: p.PodSelector}
}

func (c *converter) ingressPeers(peers []v1alpha1.AdminNetworkPolicyIngressPeer) []v1beta1.ClusterNetworkPolicyIngressPeer {
	var out []v1beta1.ClusterNetworkPolicyIngressPeer
	for _, p := range peers {
		out = append(out, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: p.Namespaces, Pods: c.pods(p.Pods)})
	}
	return out
}

// action maps Allow to Accept and keeps Deny and Pass; anything else is kept as it is,
// and the model cannot decide a rule with an action it does not know.
func (c *converter) action(a, dir string, i int) v1beta1.ClusterNetworkPolicyRuleAction {
	switch a {
	case "Allow":
		return v1beta1.ClusterNetworkPolicyRuleActionAccept
	case "Deny", "Pass":
		return v1beta1.ClusterNetworkPolicyRuleAction(a)
	}
	c.caveats = append(c.caveats, fmt.Sprintf("%s %s rule %d has action %q, which the model does not know", c.name, dir, i, a))
	return v1beta1.ClusterNetworkPolicyRuleAction(a)
}

// ports maps each item of a rule's ports to one protocol match.
func (c *converter) ports(ports *[]v1alpha1.AdminNetworkPolicyPort, dir string, i int) []v1beta1.ClusterNetworkPolicyProtocol {
	if ports == nil {
		return nil
	}
	var out []v1beta1.ClusterNetworkPolicyProtocol
	for _, p := range *ports {
		switch {
		case p.PortNumber != nil:
			out = append(out, c.protocol(p.PortNumber.Protocol, v1beta1.Port{Number: p.PortNumber.Port}, dir, i))
		case p.NamedPort != nil:
			out = append(out, v1beta1.ClusterNetworkPolicyProtocol{DestinationNamedPort: *p.NamedPort})
		case p.PortRange != nil:
			r := &v1beta1.PortRange{Start: p.PortRange.Start, End: p.PortRange.End}
			out = append(out, c.protocol(p.PortRange.Protocol, v1beta1.Port{Range: r}, dir, i))
		default:
			c.caveats = append(c.caveats, fmt.Sprintf("%s %s rule %d has a port the model cannot read", c.name, dir, i))
			out = append(out, v1beta1.ClusterNetworkPolicyProtocol{})
		}
	}
	return out
}

func (c *converter) protocol(proto corev1.Protocol, port v1beta1.Port, dir string, i int) v1beta1.ClusterNetworkPolicyProtocol {
	switch protocolOrTCP(proto) {
	case corev1.ProtocolTCP:
		return v1beta1.ClusterNetworkPolicyProtocol{TCP: &v1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &port}}
	case corev1.ProtocolUDP:
		return v1beta1.ClusterNetworkPolicyProtocol{UDP: &v1beta1.ClusterNetworkPolicyProtocolUDP{DestinationPort: &port}}
	case corev1.ProtocolSCTP:
		return v1beta1.ClusterNetworkPolicyProtocol{SCTP: &v1beta1.ClusterNetworkPolicyProtocolSCTP{DestinationPort: &port}}
	}
	c.caveats = append(c.caveats, fmt.Sprintf("%s %s rule %d has protocol %q, which the model does not know", c.name, dir, i, proto))
	return v1beta1.ClusterNetworkPolicyProtocol{}
}

func networksOf(in []v1alpha1.CIDR) []v1beta1.CIDR {
	var out []v1beta1.CIDR
	for _, c := range in {
		out = append(out, v1beta1.CIDR(c))
	}
	return out
}

func domainNames(in []v1alpha1.DomainName) []v1beta1.DomainName {
	var out []v1beta1.DomainName
	for _, d := range in {
		out = append(out, v1beta1.DomainName(d))
	}
	return out
}
