package offline

import (
	"fmt"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/netconform/netconform/internal/manifest"
)

// validPolicy checks what the API server's NetworkPolicy validation checks and the
// model relies on: selectors, peers, ports, CIDRs and policy types. Each problem names
// its field and the fix. The policy lands in its namespace (default when none).
func (b *builder) validPolicy(o manifest.Object, p *networkingv1.NetworkPolicy) bool {
	before := len(b.errs)
	p.Namespace = namespaceOf(p.Namespace)
	if p.Name == "" {
		b.fail(o, "metadata", "NetworkPolicy: metadata.name is required")
	}
	b.selector(o, "spec.podSelector", &p.Spec.PodSelector)
	for i, t := range p.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			b.fail(o, fmt.Sprintf("spec.policyTypes[%d]", i), "NetworkPolicy %s: spec.policyTypes[%d] %q: use Ingress or Egress", p.Name, i, t)
		}
	}
	for i, r := range p.Spec.Ingress {
		at := fmt.Sprintf("spec.ingress[%d]", i)
		b.peers(o, at+".from", r.From)
		b.ports(o, at+".ports", r.Ports)
	}
	for i, r := range p.Spec.Egress {
		at := fmt.Sprintf("spec.egress[%d]", i)
		b.peers(o, at+".to", r.To)
		b.ports(o, at+".ports", r.Ports)
	}
	return len(b.errs) == before
}

func (b *builder) selector(o manifest.Object, path string, s *metav1.LabelSelector) {
	if s == nil {
		return
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		b.fail(o, path, "%s %s: %s: %v", o.Kind, name(o), path, err)
	}
}

func (b *builder) peers(o manifest.Object, path string, peers []networkingv1.NetworkPolicyPeer) {
	for i, peer := range peers {
		at := fmt.Sprintf("%s[%d]", path, i)
		selectors := peer.PodSelector != nil || peer.NamespaceSelector != nil
		switch {
		case peer.IPBlock != nil && selectors:
			b.fail(o, at, "NetworkPolicy %s: %s: ipBlock cannot be combined with podSelector or namespaceSelector in one peer: make them two items of the list", name(o), at)
		case peer.IPBlock != nil:
			b.ipBlock(o, at+".ipBlock", peer.IPBlock)
		case !selectors:
			b.fail(o, at, "NetworkPolicy %s: %s: a peer needs podSelector, namespaceSelector or ipBlock", name(o), at)
		}
		b.selector(o, at+".podSelector", peer.PodSelector)
		b.selector(o, at+".namespaceSelector", peer.NamespaceSelector)
	}
}

func (b *builder) ipBlock(o manifest.Object, path string, block *networkingv1.IPBlock) {
	cidr, err := netip.ParsePrefix(block.CIDR)
	if err != nil {
		b.fail(o, path+".cidr", "NetworkPolicy %s: %s.cidr %q is not a CIDR such as 10.0.0.0/16", name(o), path, block.CIDR)
		return
	}
	for i, e := range block.Except {
		ex, err := netip.ParsePrefix(e)
		at := fmt.Sprintf("%s.except[%d]", path, i)
		switch {
		case err != nil:
			b.fail(o, at, "NetworkPolicy %s: %s %q is not a CIDR such as 10.0.1.0/24", name(o), at, e)
		case !cidr.Overlaps(ex) || ex.Bits() < cidr.Bits():
			b.fail(o, at, "NetworkPolicy %s: %s %s must lie within cidr %s", name(o), at, e, block.CIDR)
		}
	}
}

func (b *builder) ports(o manifest.Object, path string, ports []networkingv1.NetworkPolicyPort) {
	for i, p := range ports {
		at := fmt.Sprintf("%s[%d]", path, i)
		if p.Protocol != nil && !validProtocol(*p.Protocol) {
			b.fail(o, at+".protocol", "NetworkPolicy %s: %s.protocol %q: use TCP, UDP or SCTP", name(o), at, *p.Protocol)
		}
		if p.Port != nil {
			b.port(o, at+".port", *p.Port)
		}
		if p.EndPort == nil {
			continue
		}
		switch {
		case p.Port == nil || p.Port.Type != intstr.Int:
			b.fail(o, at+".endPort", "NetworkPolicy %s: %s.endPort needs port to be a number", name(o), at)
		case *p.EndPort < p.Port.IntVal || *p.EndPort > 65535:
			b.fail(o, at+".endPort", "NetworkPolicy %s: %s.endPort %d must be from port (%d) to 65535", name(o), at, *p.EndPort, p.Port.IntVal)
		}
	}
}

func (b *builder) port(o manifest.Object, path string, port intstr.IntOrString) {
	if port.Type == intstr.String {
		if errs := validation.IsValidPortName(port.StrVal); len(errs) > 0 {
			b.fail(o, path, "NetworkPolicy %s: %s %q is not a port name: %s", name(o), path, port.StrVal, errs[0])
		}
		return
	}
	if port.IntVal < 1 || port.IntVal > 65535 {
		b.fail(o, path, "NetworkPolicy %s: %s %s must be from 1 to 65535", name(o), path, strconv.Itoa(int(port.IntVal)))
	}
}

func validProtocol(p corev1.Protocol) bool {
	return p == corev1.ProtocolTCP || p == corev1.ProtocolUDP || p == corev1.ProtocolSCTP
}

// name is the object's metadata.name as written, for messages.
func name(o manifest.Object) string {
	meta, _ := o.Content["metadata"].(map[string]any)
	n, _ := meta["name"].(string)
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }
