package offline

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The cluster DNS every Service name look-up goes through, as kubeadm, kind and most
// distributions run it; manifests that declare kube-system/kube-dns replace it.
const (
	dnsNamespace = "kube-system"
	dnsService   = "kube-dns"
)

// finish completes the cluster as any cluster is: the namespaces every object is in
// (with only the label the API server gives every namespace), default and kube-system,
// and the cluster DNS.
func (b *builder) finish() {
	c := b.cluster
	if !slices.ContainsFunc(c.Services, func(s corev1.Service) bool { return s.Namespace == dnsNamespace && s.Name == dnsService }) {
		b.addService(clusterDNSService())
		c.Pods = append(c.Pods, runningPod(clusterDNSPod(), b.addrs.pod()))
	}
	names := []string{corev1.NamespaceDefault, dnsNamespace}
	for _, p := range c.Pods {
		names = append(names, p.Namespace)
	}
	for _, s := range c.Services {
		names = append(names, s.Namespace)
	}
	for _, p := range c.Policies {
		names = append(names, p.Namespace)
	}
	for _, n := range names {
		if !c.HasNamespace(n) {
			ns := corev1.Namespace{}
			ns.Name = n
			c.Namespaces = append(c.Namespaces, ns)
		}
	}
	for i := range c.Namespaces {
		ns := &c.Namespaces[i]
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
}

func clusterDNSService() corev1.Service {
	svc := corev1.Service{}
	svc.Name, svc.Namespace = dnsService, dnsNamespace
	svc.Spec.Selector = map[string]string{"k8s-app": "kube-dns"}
	svc.Spec.Ports = []corev1.ServicePort{
		{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
		{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
	}
	return svc
}

func clusterDNSPod() corev1.Pod {
	pod := corev1.Pod{}
	pod.Name, pod.Namespace = "deployment/coredns", dnsNamespace
	pod.Labels = map[string]string{"k8s-app": "kube-dns"}
	pod.Spec.Containers = []corev1.Container{{Name: "coredns", Ports: []corev1.ContainerPort{
		{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
	}}}
	return pod
}
