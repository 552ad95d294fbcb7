package netpol

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Errors of EvaluateService, for errors.Is.
var (
	// ErrServiceNotFound: the Cluster has no Service of that namespace and name.
	ErrServiceNotFound = errors.New("service not found")
	// ErrServicePortNotFound: the Service has no port of that number and protocol.
	ErrServicePortNotFound = errors.New("service has no such port")
	// ErrServiceUnsupported: an ExternalName Service, or one without a selector whose
	// endpoints are managed by hand (the model does not read EndpointSlices).
	ErrServiceUnsupported = errors.New("service not supported by the model")
	// ErrNoReadyBackends: no ready pod backs that port of the Service, so a connection
	// to it fails whatever the policies say.
	ErrNoReadyBackends = errors.New("service has no ready backends")
)

// EvaluateService judges traffic from a peer to a Service port. NetworkPolicy sees that
// traffic after the Service has been translated to a backend pod, so the port is
// resolved to each backend's targetPort (a number, or a name looked up in that pod's
// container ports with the Service port's protocol, as the endpoints controller does)
// and one Decision is returned per ready backend, in the Cluster's pod order. A headless
// Service (clusterIP None) is not translated: its DNS name resolves to the pods, which
// are dialled on the port as given. Protocol empty means TCP.
func (c *Cluster) EvaluateService(from Peer, namespace, name string, port int32, protocol corev1.Protocol) ([]Decision, error) {
	if c == nil {
		c = &Cluster{}
	}
	protocol = protocolOrTCP(protocol)
	svc := c.service(namespace, name)
	if svc == nil {
		return nil, fmt.Errorf("%s/%s: %w", namespace, name, ErrServiceNotFound)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || len(svc.Spec.Selector) == 0 {
		return nil, fmt.Errorf("%s/%s has no selector or is of type ExternalName: %w", namespace, name, ErrServiceUnsupported)
	}
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Port == port && protocolOrTCP(p.Protocol) == protocol {
			sp = p
			break
		}
	}
	if sp == nil && !headless {
		return nil, fmt.Errorf("%s/%s port %d/%s: %w", namespace, name, port, protocol, ErrServicePortNotFound)
	}
	var out []Decision
	for i := range c.Pods {
		pod := &c.Pods[i]
		if pod.Namespace != namespace || !selectedBy(svc, pod) || !ready(pod, svc) {
			continue
		}
		target, how := port, "a headless Service, dialled directly"
		if !headless {
			var ok bool
			if target, ok = targetPort(pod, sp); !ok {
				continue // the endpoints controller leaves this pod out for this port
			}
			how = describeTarget(sp)
		}
		d := c.Evaluate(Connection{From: from, To: PodPeer(pod), Port: target, Protocol: protocol})
		hop := fmt.Sprintf("Service %s/%s port %d/%s sends to %s port %d (%s)", namespace, name, port, protocol, podKey(pod), target, how)
		d.Reasons = append(d.Reasons[:1:1], append([]string{hop}, d.Reasons[1:]...)...)
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s/%s port %d/%s: %w", namespace, name, port, protocol, ErrNoReadyBackends)
	}
	return out, nil
}

func (c *Cluster) service(namespace, name string) *corev1.Service {
	for i := range c.Services {
		if s := &c.Services[i]; s.Namespace == namespace && s.Name == name {
			return s
		}
	}
	return nil
}

// targetPort resolves a Service port on one backend: a number as is (the API server
// defaults an omitted targetPort to the port), a name through the pod's container ports.
func targetPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.String:
		return containerPort(pod, sp.TargetPort.StrVal, protocolOrTCP(sp.Protocol))
	case sp.TargetPort.IntVal == 0:
		return sp.Port, true
	default:
		return sp.TargetPort.IntVal, true
	}
}

// selectedBy applies a Service's selector: every key must have the given value.
func selectedBy(svc *corev1.Service, pod *corev1.Pod) bool {
	for k, v := range svc.Spec.Selector {
		if got, ok := pod.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ready reports whether kube-proxy would send the Service's traffic to the pod: it has
// an IP, is not terminating, and is Ready (or the Service publishes not-ready addresses).
func ready(pod *corev1.Pod, svc *corev1.Service) bool {
	if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if svc.Spec.PublishNotReadyAddresses {
		return true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
