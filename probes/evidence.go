package probes

import (
	"cmp"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// KubeletEvidence tells whether a kubelet probe of pod shows that the address a TCP check
// dialled listens, and says how, for the result's message. The kubelet connects to a
// probed port every period and acts on what it finds, so a pod it keeps Ready, or running,
// proves the port listens without a Service in front of it. The pod is evidence when:
//
//   - the check is TCP (kubelet probes do not speak UDP) and dialled one of the pod's IPs;
//   - the pod is Running and not being deleted;
//   - one of its containers has a tcpSocket, httpGet or grpc probe on the check's port, by
//     number or by the name of one of that container's ports, that dials the pod's own IP
//     (a probe with a host of its own says nothing about the pod); an exec probe names no port;
//   - that container is running and has not restarted since the run began (since): a
//     restart while the checks were made could be what denied them;
//   - for a readiness probe, the pod and the container are Ready; for a liveness probe,
//     the container started and has run long enough that a probe that never connected
//     would have restarted it (a startup probe's window, then the liveness probe's initial
//     delay and failureThreshold tries); for a startup probe, the container started, so
//     the probe connected.
//
// Readiness is preferred: a Ready pod's probe connected within its last failureThreshold
// periods.
func KubeletEvidence(pod *corev1.Pod, c Check, since, now time.Time) (string, bool) {
	if c.Kind != KindTCP || pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || !hasIP(pod, c.Host) {
		return "", false
	}
	statuses := make(map[string]corev1.ContainerStatus, len(pod.Status.ContainerStatuses))
	for _, s := range pod.Status.ContainerStatuses {
		statuses[s.Name] = s
	}
	for _, s := range pod.Status.InitContainerStatuses {
		statuses["init/"+s.Name] = s
	}
	type container struct {
		spec   *corev1.Container
		status corev1.ContainerStatus
	}
	var steady []container // running without a restart since the run began
	add := func(spec *corev1.Container, key string) {
		s, ok := statuses[key]
		if ok && s.State.Running != nil && !s.State.Running.StartedAt.IsZero() && !s.State.Running.StartedAt.After(since) {
			steady = append(steady, container{spec, s})
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i], pod.Spec.Containers[i].Name)
	}
	for i := range pod.Spec.InitContainers {
		// Sidecars: init containers that run alongside the others, probes included.
		if init := &pod.Spec.InitContainers[i]; init.RestartPolicy != nil && *init.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(init, "init/"+init.Name)
		}
	}
	who := fmt.Sprintf("pod %s/%s", pod.Namespace, pod.Name)
	for _, k := range []probeKind{readiness, liveness, startup} {
		for _, ctr := range steady {
			probe := k.of(ctr.spec)
			handler, port, ok := probePort(ctr.spec, probe)
			if !ok || port.number != c.Port {
				continue
			}
			started := ctr.status.Started != nil && *ctr.status.Started
			switch {
			case k == readiness && PodReady(pod) && ctr.status.Ready:
				return fmt.Sprintf("%s is Ready and its %s readiness probe connects to port %s", who, handler, port), true
			case k == liveness && started && now.Sub(ctr.status.State.Running.StartedAt.Time) >= startupWindow(ctr.spec)+restartWindow(probe):
				return fmt.Sprintf("%s is Running and its container %s, whose %s liveness probe connects to port %s, has not restarted since before this run", who, ctr.spec.Name, handler, port), true
			case k == startup && started:
				return fmt.Sprintf("%s is Running and its container %s, whose %s startup probe connected to port %s, has not restarted since before this run", who, ctr.spec.Name, handler, port), true
			}
		}
	}
	return "", false
}

type probeKind int

const (
	readiness probeKind = iota
	liveness
	startup
)

func (k probeKind) of(c *corev1.Container) *corev1.Probe {
	switch k {
	case readiness:
		return c.ReadinessProbe
	case liveness:
		return c.LivenessProbe
	}
	return c.StartupProbe
}

// probedPort is a port a probe dials: its number, and its name when the probe named it.
type probedPort struct {
	number int32
	name   string
}

func (p probedPort) String() string {
	if p.name != "" {
		return fmt.Sprintf("%d (%q)", p.number, p.name)
	}
	return fmt.Sprint(p.number)
}

// probePort is the handler of a probe that dials the pod's IP over TCP, and its port; a
// named port resolves through the container's own ports, as the kubelet resolves it.
func probePort(c *corev1.Container, p *corev1.Probe) (handler string, port probedPort, ok bool) {
	if p == nil {
		return "", probedPort{}, false
	}
	var target intstr.IntOrString
	switch h := p.ProbeHandler; {
	case h.TCPSocket != nil && h.TCPSocket.Host == "":
		handler, target = "tcpSocket", h.TCPSocket.Port
	case h.HTTPGet != nil && h.HTTPGet.Host == "":
		handler, target = "httpGet", h.HTTPGet.Port
	case h.GRPC != nil:
		handler, target = "grpc", intstr.FromInt32(h.GRPC.Port)
	default:
		return "", probedPort{}, false
	}
	if target.Type == intstr.Int {
		return handler, probedPort{number: target.IntVal}, true
	}
	for _, cp := range c.Ports {
		if cp.Name == target.StrVal {
			return handler, probedPort{number: cp.ContainerPort, name: cp.Name}, true
		}
	}
	return "", probedPort{}, false
}

// restartWindow is how long a liveness probe that never connects takes to have the
// container restarted: its initial delay, then failureThreshold tries, each at most a
// period or its timeout apart. Zero fields take the API's defaults.
func restartWindow(p *corev1.Probe) time.Duration {
	period := max(cmp.Or(p.PeriodSeconds, 10), cmp.Or(p.TimeoutSeconds, 1))
	return time.Duration(p.InitialDelaySeconds+cmp.Or(p.FailureThreshold, 3)*period) * time.Second
}

// startupWindow is the longest a startup probe can hold the liveness probe back.
func startupWindow(c *corev1.Container) time.Duration {
	if c.StartupProbe == nil {
		return 0
	}
	return restartWindow(c.StartupProbe)
}

func hasIP(pod *corev1.Pod, host string) bool {
	want, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ips := []string{pod.Status.PodIP}
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, ip := range ips {
		if got, err := netip.ParseAddr(ip); err == nil && got == want {
			return true
		}
	}
	return false
}

// PodReady says whether the pod's Ready condition is true.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
