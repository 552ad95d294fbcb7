package netpol

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// FuzzEvaluate builds a small cluster from the fuzz input, valid or not (bad selectors,
// CIDRs, ports, protocols and policy types included), judges every pair of pods, some
// addresses and every Service, and checks that nothing panics and that every decision
// is consistent with itself.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("netconform"))
	f.Add([]byte{3, 2, 1, 0, 255, 7, 9, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97})
	f.Fuzz(judgeRandomCluster)
}

func judgeRandomCluster(t *testing.T, data []byte) {
	g := &gen{data: data}
	c := g.cluster()
	peers := []Peer{AddressPeer(""), AddressPeer(g.pick(ips...)), {Pod: &corev1.Pod{}}}
	for i := range c.Pods {
		peers = append(peers, PodPeer(&c.Pods[i]), Peer{Pod: &c.Pods[i], IP: g.pick(ips...)})
	}
	for _, from := range peers {
		for _, to := range peers {
			d := c.Evaluate(Connection{From: from, To: to, Port: g.port(), Protocol: corev1.Protocol(g.pick(protocols...))})
			checkDecision(t, d)
		}
		for _, svc := range c.Services {
			ds, err := c.EvaluateService(from, svc.Namespace, svc.Name, g.port(), corev1.Protocol(g.pick(protocols...)))
			if err == nil && len(ds) == 0 {
				t.Fatalf("EvaluateService returned no decision and no error")
			}
			for _, d := range ds {
				checkDecision(t, d)
			}
		}
	}
}

func checkDecision(t *testing.T, d Decision) {
	t.Helper()
	if len(d.Reasons) == 0 || d.Connection.Protocol == "" {
		t.Fatalf("decision without reasons or protocol: %+v", d)
	}
	if d.Allowed != (d.Egress.Allowed && d.Ingress.Allowed) {
		t.Fatalf("Allowed = %t, Egress %+v, Ingress %+v", d.Allowed, d.Egress, d.Ingress)
	}
	for _, dd := range []DirectionDecision{d.Egress, d.Ingress} {
		if dd.Isolated != (len(dd.Policies) > 0) || dd.Allowed != (!dd.Isolated || len(dd.AllowedBy) > 0) {
			t.Fatalf("inconsistent direction %+v", dd)
		}
	}
}

var (
	names     = []string{"x", "y", "", "kube-system"}
	keys      = []string{"app", "tier", corev1.LabelMetadataName, "bad key!"}
	values    = []string{"a", "b", "", "x"}
	ips       = []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "fd00::1", "::ffff:10.0.0.2", "fe80::1%eth0", "", "bogus"}
	cidrs     = []string{"10.0.0.0/8", "10.0.0.1/32", "0.0.0.0/0", "::/0", "fd00::/64", "10.0.0.1/8", "10.0.0.0/33", "bogus", ""}
	protocols = []string{"", "TCP", "UDP", "SCTP", "ICMP"}
	portNames = []string{"http", "dns", "", "80"}
	operators = []string{"In", "NotIn", "Exists", "DoesNotExist", "Bogus"}
)

// gen draws choices from the fuzz input; once it is used up, every choice is the first.
type gen struct{ data []byte }

func (g *gen) n(limit int) int {
	if len(g.data) == 0 {
		return 0
	}
	v := int(g.data[0]) % limit
	g.data = g.data[1:]
	return v
}

func (g *gen) pick(xs ...string) string { return xs[g.n(len(xs))] }

func (g *gen) port() int32 { return []int32{80, 53, 0, -1, 65535, 8080}[g.n(6)] }

func (g *gen) labels() map[string]string {
	if g.n(4) == 0 {
		return nil
	}
	m := map[string]string{}
	for range g.n(3) {
		m[g.pick(keys...)] = g.pick(values...)
	}
	return m
}

func (g *gen) selector() *metav1.LabelSelector {
	if g.n(4) == 0 {
		return nil
	}
	s := &metav1.LabelSelector{MatchLabels: g.labels()}
	for range g.n(3) {
		r := metav1.LabelSelectorRequirement{Key: g.pick(keys...), Operator: metav1.LabelSelectorOperator(g.pick(operators...))}
		for range g.n(3) {
			r.Values = append(r.Values, g.pick(values...))
		}
		s.MatchExpressions = append(s.MatchExpressions, r)
	}
	return s
}

func (g *gen) policyPort() networkingv1.NetworkPolicyPort {
	var p networkingv1.NetworkPolicyPort
	if g.n(2) == 0 {
		proto := corev1.Protocol(g.pick(protocols...))
		p.Protocol = &proto
	}
	switch g.n(3) {
	case 0:
		v := intstr.FromInt32(g.port())
		p.Port = &v
	case 1:
		v := intstr.FromString(g.pick(portNames...))
		p.Port = &v
	}
	if g.n(3) == 0 {
		end := g.port()
		p.EndPort = &end
	}
	return p
}

func (g *gen) rule() ([]networkingv1.NetworkPolicyPeer, []networkingv1.NetworkPolicyPort) {
	var ps []networkingv1.NetworkPolicyPeer
	var ports []networkingv1.NetworkPolicyPort
	for range g.n(3) {
		p := networkingv1.NetworkPolicyPeer{PodSelector: g.selector(), NamespaceSelector: g.selector()}
		if g.n(3) == 0 {
			p.IPBlock = &networkingv1.IPBlock{CIDR: g.pick(cidrs...)}
			for range g.n(3) {
				p.IPBlock.Except = append(p.IPBlock.Except, g.pick(cidrs...))
			}
		}
		ps = append(ps, p)
	}
	for range g.n(3) {
		ports = append(ports, g.policyPort())
	}
	return ps, ports
}

func (g *gen) cluster() *Cluster {
	c := &Cluster{}
	for i := range g.n(4) {
		c.Namespaces = append(c.Namespaces, namespace(names[i], g.labels()))
	}
	for i := range g.n(6) {
		p := pod(g.pick(names...), fmt.Sprint("p", i), g.labels(), g.pick(ips...))
		for range g.n(3) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: g.pick(portNames...), ContainerPort: g.port(), Protocol: corev1.Protocol(g.pick(protocols...))})
		}
		if g.n(3) == 0 {
			always := corev1.ContainerRestartPolicyAlways
			p.Spec.InitContainers = []corev1.Container{{RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: g.pick(portNames...), ContainerPort: g.port()}}}}
		}
		if g.n(2) == 0 {
			p.Status.PodIPs = []corev1.PodIP{{IP: g.pick(ips...)}}
		}
		p.Spec.HostNetwork = g.n(5) == 0
		p.Status.Phase = []corev1.PodPhase{corev1.PodRunning, corev1.PodSucceeded, corev1.PodPending}[g.n(3)]
		if g.n(4) == 0 {
			p.Status.Conditions = nil
		}
		c.Pods = append(c.Pods, p)
	}
	for i := range g.n(3) {
		s := service(g.pick(names...), fmt.Sprint("s", i), g.labels())
		s.Spec.ClusterIP = g.pick(append(ips, corev1.ClusterIPNone)...)
		s.Spec.Type = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName}[g.n(2)]
		s.Spec.PublishNotReadyAddresses = g.n(2) == 0
		for range g.n(3) {
			tp := []intstr.IntOrString{{}, intstr.FromInt32(g.port()), intstr.FromString(g.pick(portNames...))}[g.n(3)]
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: g.port(), Protocol: corev1.Protocol(g.pick(protocols...)), TargetPort: tp})
		}
		c.Services = append(c.Services, s)
	}
	for i := range g.n(5) {
		p := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: g.pick(names...), Name: fmt.Sprint("np", i)}}
		if s := g.selector(); s != nil {
			p.Spec.PodSelector = *s
		}
		for range g.n(3) {
			p.Spec.PolicyTypes = append(p.Spec.PolicyTypes, networkingv1.PolicyType(g.pick("Ingress", "Egress", "Bogus")))
		}
		if g.n(2) == 0 {
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
		}
		for range g.n(3) {
			from, ports := g.rule()
			p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: ports})
		}
		for range g.n(3) {
			to, ports := g.rule()
			p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports})
		}
		c.Policies = append(c.Policies, p)
	}
	return c
}
