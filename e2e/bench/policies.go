//go:build bench

package main

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
)

func policy(namespace, name string, selected map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selected},
			PolicyTypes: types,
		},
	}
}

// admit lets peers reach the selected pods on TCP ports first to last.
func admit(p *networkingv1.NetworkPolicy, from []networkingv1.NetworkPolicyPeer, first, last int32) *networkingv1.NetworkPolicy {
	port := networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(first))}
	if last > first {
		port.EndPort = ptr.To(last)
	}
	p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: []networkingv1.NetworkPolicyPort{port}})
	return p
}

// dnsOnly lets the selected pods send only look-ups to the cluster DNS.
func dnsOnly(p *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicy {
	dns := []networkingv1.NetworkPolicyPeer{{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
	}}
	p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: dns, Ports: []networkingv1.NetworkPolicyPort{
		{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
		{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
	}})
	return p
}

func podsLabelled(labels map[string]string) []networkingv1.NetworkPolicyPeer {
	return []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: labels}}}
}

func namespaceNamed(name string) []networkingv1.NetworkPolicyPeer {
	return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": name}}}}
}

// expectations says, for each edge, what the cluster's policies allow, with the
// project's NetworkPolicy model; servers maps "namespace/labels" destinations to pods.
type expectations struct {
	cluster *netpol.Cluster
}

func (b *bench) expectations(edges []v1alpha1.Edge) (expectations, error) {
	c, err := prediction.Snapshot(b.ctx, b.k8s, b.kinds, edges)
	return expectations{cluster: c}, err
}

// allows tells whether a pod with the source's identity may reach the pod on port.
func (e expectations) allows(from v1alpha1.Source, to *corev1.Pod, port int32) bool {
	return e.cluster.Evaluate(netpol.Connection{
		From:     netpol.PodPeer(prediction.Source(from, "probe", "")),
		To:       netpol.PodPeer(to),
		Port:     port,
		Protocol: corev1.ProtocolTCP,
	}).Allowed
}

// expect sets every pods edge's expectation from the model; to finds the pod an edge
// points at.
func (e expectations) expect(edges []v1alpha1.Edge, to func(v1alpha1.Edge) *corev1.Pod) (allowed int) {
	for i, edge := range edges {
		edges[i].Expect = v1alpha1.ExpectDeny
		if e.allows(edge.From, to(edge), edge.To.Pods.Port.IntVal) {
			edges[i].Expect = v1alpha1.ExpectAllow
			allowed++
		}
	}
	return allowed
}

func podEdge(name, fromNamespace string, fromLabels map[string]string, toNamespace string, toLabels map[string]string, port int32) v1alpha1.Edge {
	return v1alpha1.Edge{
		Name: name,
		From: v1alpha1.Source{Namespace: fromNamespace, PodLabels: fromLabels},
		To:   v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: toNamespace, PodLabels: toLabels, Port: intstr.FromInt32(port)}},
	}
}
