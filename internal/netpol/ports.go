package netpol

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// portsMatch reports whether a rule's ports admit the destination port and protocol. An
// empty list admits every port of every protocol; otherwise any one item suffices.
// Named ports are looked up on the destination pod, for egress rules as for ingress
// rules; dst is nil when the destination is not a pod, and then no named port matches.
func portsMatch(ports []networkingv1.NetworkPolicyPort, port int32, protocol corev1.Protocol, dst *corev1.Pod) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if portMatches(p, port, protocol, dst) {
			return true
		}
	}
	return false
}

// portMatches applies one item of a rule's ports: the protocol (TCP when omitted) must be
// the connection's; then no port admits every port of that protocol, a number admits that
// port or, with endPort, the range port..endPort, and a name admits the destination
// container port of that name and protocol.
func portMatches(p networkingv1.NetworkPolicyPort, port int32, protocol corev1.Protocol, dst *corev1.Pod) bool {
	if protocolOrTCP(ptrOr(p.Protocol)) != protocol {
		return false
	}
	switch {
	case p.Port == nil:
		// The API server rejects endPort without port; the model ignores it.
		return true
	case p.Port.Type == intstr.String:
		// The API server rejects endPort with a named port; the model ignores it.
		n, ok := containerPort(dst, p.Port.StrVal, protocol)
		return ok && n == port
	case p.EndPort != nil:
		return p.Port.IntVal <= port && port <= *p.EndPort
	default:
		return p.Port.IntVal == port
	}
}

// containerPort finds the number of a named port of the pod with that protocol, the way
// the endpoints controller resolves a Service's targetPort: in the containers, then in
// the sidecars (init containers that restart always).
func containerPort(pod *corev1.Pod, name string, protocol corev1.Protocol) (int32, bool) {
	if pod == nil || name == "" {
		return 0, false
	}
	containers := pod.Spec.Containers
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers[:len(containers):len(containers)], c)
		}
	}
	for _, c := range containers {
		for _, p := range c.Ports {
			if p.Name == name && protocolOrTCP(p.Protocol) == protocol {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

func ptrOr[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
