//go:build e2e

package e2e

import (
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The builders below keep the scenarios readable as the policies the guides write.

var (
	ingressOnly   = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressOnly    = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	ingressEgress = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
)

// policy is a NetworkPolicy selecting pods in ns; rules are added by the caller.
func policy(ns, name string, pods metav1.LabelSelector, types []networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: pods, PolicyTypes: types},
	}
}

// denyAll selects every pod of ns and allows nothing in the given directions.
func denyAll(ns string, types []networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return policy(ns, "default-deny", everyPod, types)
}

// allowIngress lets from reach the selected pods on ports.
func allowIngress(ns, name string, pods metav1.LabelSelector, from []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) *networkingv1.NetworkPolicy {
	p := policy(ns, name, pods, ingressOnly)
	p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: ports}}
	return p
}

// allowEgress lets the selected pods reach each rule's peers.
func allowEgress(ns, name string, pods metav1.LabelSelector, rules ...networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
	p := policy(ns, name, pods, egressOnly)
	p.Spec.Egress = rules
	return p
}

func egressTo(to []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports}
}

// dnsEgress is the rule every locked-down namespace needs: the cluster DNS pods in
// kube-system, selected by namespace AND pod in one peer, on UDP and TCP 53.
func dnsEgress() networkingv1.NetworkPolicyEgressRule {
	return egressTo(
		peers(nsPodPeer(labels("kubernetes.io/metadata.name", "kube-system"), labels("k8s-app", "kube-dns"))),
		append(udpPorts(53), tcpPorts(53)...),
	)
}

var everyPod = metav1.LabelSelector{}

func selector(m map[string]string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: m}
}

// appIn selects pods whose app label is one of apps.
func appIn(apps ...string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: apps},
	}}
}

func peers(p ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer { return p }

// podPeer selects pods in the policy's own namespace.
func podPeer(s metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &s}
}

// nsPeer selects every pod of the namespaces with these labels.
func nsPeer(ns map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: ns}}
}

// nsPodPeer selects pods by namespace AND labels: one peer, both selectors.
func nsPodPeer(ns, pods map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: ns},
		PodSelector:       &metav1.LabelSelector{MatchLabels: pods},
	}
}

// ipPeer selects addresses in cidr outside except.
func ipPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

// hostCIDR is the CIDR holding exactly ip.
func hostCIDR(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.To4() == nil {
		return ip + "/128"
	}
	return ip + "/32"
}

func tcpPorts(ports ...int32) []networkingv1.NetworkPolicyPort {
	return policyPorts(corev1.ProtocolTCP, ports)
}

func udpPorts(ports ...int32) []networkingv1.NetworkPolicyPort {
	return policyPorts(corev1.ProtocolUDP, ports)
}

// namedPorts are container port names: a policy sees the pod's port, never a Service's.
func namedPorts(names ...string) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, n := range names {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString(n))})
	}
	return out
}

func policyPorts(protocol corev1.Protocol, ports []int32) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, n := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr.To(protocol), Port: ptr.To(intstr.FromInt32(n))})
	}
	return out
}

// privateRanges are RFC 1918's: the "internet" egress rule excludes them, and with them
// every in-cluster address of a cluster whose pod and service CIDRs are private.
var privateRanges = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}

// policyNames lists policies for log lines.
func policyNames(ps ...*networkingv1.NetworkPolicy) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	return strings.Join(names, ", ")
}
