package netpol

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The upstream conformance world (k8s.io/kubernetes test/e2e/network/netpol): namespaces
// x, y and z, pods a, b and c in each, labelled pod=<name>, each serving 80 and 81 over
// TCP, UDP and SCTP on container ports named serve-<port>-<protocol>, each behind a
// Service s-<namespace>-<pod>. Pod x/b has IPv4 10.244.1.2 and IPv6 fd00::1:2.
var (
	worldNamespaces = []string{"x", "y", "z"}
	worldPods       = []string{"a", "b", "c"}
)

func world(policies ...networkingv1.NetworkPolicy) *Cluster {
	c := &Cluster{Policies: policies}
	for i, ns := range worldNamespaces {
		c.Namespaces = append(c.Namespaces, namespace(ns, map[string]string{"ns": ns}))
		for j, name := range worldPods {
			var ports []corev1.ContainerPort
			for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
				for _, port := range []int32{80, 81} {
					ports = append(ports, corev1.ContainerPort{
						Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto))), ContainerPort: port, Protocol: proto,
					})
				}
			}
			p := pod(ns, name, map[string]string{"pod": name}, fmt.Sprintf("10.244.%d.%d", i+1, j+1), ports...)
			p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}, {IP: fmt.Sprintf("fd00::%d:%d", i+1, j+1)}}
			c.Pods = append(c.Pods, p)
			svc := service(ns, "s-"+ns+"-"+name, map[string]string{"pod": name})
			for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
				for _, port := range []int32{80, 81} {
					svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
						Name: fmt.Sprintf("service-port-%s-%d", strings.ToLower(string(proto)), port), Protocol: proto, Port: port,
					})
				}
			}
			c.Services = append(c.Services, svc)
		}
	}
	return c
}

func namespace(name string, labels map[string]string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// pod is a running, ready pod with one container.
func pod(ns, name string, labels map[string]string, ip string, ports ...corev1.ContainerPort) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Ports: ports}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

func service(ns, name string, selector map[string]string, ports ...corev1.ServicePort) corev1.Service {
	return corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports, ClusterIP: "10.96.0.100"},
	}
}

func (c *Cluster) mustPod(t testing.TB, key string) *corev1.Pod {
	t.Helper()
	for i := range c.Pods {
		if podKey(&c.Pods[i]) == key {
			return &c.Pods[i]
		}
	}
	t.Fatalf("no pod %s", key)
	return nil
}

// policy builds a NetworkPolicy; with no options it selects pods and has no rules and no
// policyTypes (so it is an ingress default deny for them).
func policy(ns, name string, podSelector map[string]string, opts ...func(*networkingv1.NetworkPolicy)) networkingv1.NetworkPolicy {
	p := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: podSelector}},
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// ingress adds ingress rules and the Ingress policy type, as upstream SetSpecIngressRules.
func ingress(rules ...networkingv1.NetworkPolicyIngressRule) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) {
		if p.Spec.Ingress == nil {
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
			p.Spec.PolicyTypes = append(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		}
		p.Spec.Ingress = append(p.Spec.Ingress, rules...)
	}
}

// egress adds egress rules and the Egress policy type, as upstream SetSpecEgressRules.
func egress(rules ...networkingv1.NetworkPolicyEgressRule) func(*networkingv1.NetworkPolicy) {
	return func(p *networkingv1.NetworkPolicy) {
		if p.Spec.Egress == nil {
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{}
			p.Spec.PolicyTypes = append(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
		p.Spec.Egress = append(p.Spec.Egress, rules...)
	}
}

func from(peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyIngressRule {
	return networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports}
}

func to(peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports}
}

func peers(ps ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer { return ps }

func sel(matchLabels map[string]string, exprs ...metav1.LabelSelectorRequirement) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: matchLabels, MatchExpressions: exprs}
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func podsWhere(s *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: s}
}

func namespacesWhere(s *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: s}
}

func podsInNamespacesWhere(pods, namespaces *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: pods, NamespaceSelector: namespaces}
}

func cidr(block string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: block, Except: except}}
}

func port(n int32, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(n)
	return networkingv1.NetworkPolicyPort{Port: &p, Protocol: &proto}
}

// portNoProtocol is a numeric port whose protocol is left to default (TCP).
func portNoProtocol(n int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(n)
	return networkingv1.NetworkPolicyPort{Port: &p}
}

// portRange is a TCP port range from n to end.
func portRange(n, end int32) networkingv1.NetworkPolicyPort {
	p := port(n, corev1.ProtocolTCP)
	p.EndPort = &end
	return p
}

func namedPort(name string, proto ...corev1.Protocol) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(name)
	np := networkingv1.NetworkPolicyPort{Port: &p}
	if len(proto) > 0 {
		np.Protocol = &proto[0]
	}
	return np
}

func anyPortOf(proto corev1.Protocol) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: &proto}
}

const (
	tcp  = corev1.ProtocolTCP
	udp  = corev1.ProtocolUDP
	sctp = corev1.ProtocolSCTP
)

// assertReasons checks that every word appears in the decision's sentences.
func assertReasons(t *testing.T, d Decision, words ...string) {
	t.Helper()
	all := strings.Join(append(append([]string{}, d.Reasons...), d.Caveats...), "\n")
	for _, w := range words {
		if !strings.Contains(all, w) {
			t.Errorf("reasons lack %q:\n%s", w, all)
		}
	}
}
