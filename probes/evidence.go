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
//   - the pod is Running, Ready and not being deleted: a pod whose node was lost stays
//     Running until it is evicted, but its Ready condition turns false;
//   - one of its containers has a tcpSocket, httpGet or grpc probe on the check's port, by
//     number or by the name of one of that container's ports, that dials the pod's own IP
//     (a probe with a host of its own says nothing about the pod); an exec probe names no port;
//   - that container is running and has not restarted since the run began (since): a
//     restart while the checks were made could be what denied them. The start comes from
//     the node's clock and since from the manager's: they are taken to agree, as NTP keeps
//     them; a slack here would refuse the pods a CI job starts just before its tests;
//   - for a readiness probe, the container is Ready; for a liveness probe, the container
//     started and has run long enough that a probe that never connected would have had
//     it killed (livenessWindow), which a pod may not stretch past maxLivenessWindow.
//
// A startup probe is no evidence: it stops once it has connected, so it shows only that
// the port listened once. Readiness is preferred: a Ready pod's probe connected within its
// last failureThreshold periods.
func KubeletEvidence(pod *corev1.Pod, c Check, since, now time.Time) (string, bool) {
	if c.Kind != KindTCP || pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || !PodReady(pod) || !hasIP(pod, c.Host) {
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
	for _, k := range []probeKind{readiness, liveness} {
		for _, ctr := range steady {
			probe := k.of(ctr.spec)
			handler, port, ok := probePort(ctr.spec, probe)
			if !ok || port.number != c.Port {
				continue
			}
			switch {
			case k == readiness && ctr.status.Ready:
				return fmt.Sprintf("%s is Ready and its %s readiness probe connects to port %s", who, handler, port), true
			case k == liveness && livenessProves(pod, ctr.spec, ctr.status, now):
				return fmt.Sprintf("%s is Ready and its container %s, whose %s liveness probe connects to port %s, has not restarted since before this run", who, ctr.spec.Name, handler, port), true
			}
		}
	}
	return "", false
}

type probeKind int

const (
	readiness probeKind = iota
	liveness
)

func (k probeKind) of(c *corev1.Container) *corev1.Probe {
	if k == readiness {
		return c.ReadinessProbe
	}
	return c.LivenessProbe
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

// maxLivenessWindow bounds the time a liveness probe may take to have a container that
// does not listen killed: the pod's author sets every field of it, and a window of hours
// would let a port that stopped listening long ago pass for one that listens.
const maxLivenessWindow = 10 * time.Minute

// maxKillGrace bounds the termination grace a liveness kill may take: until the process
// exits, the status still shows the container running.
const maxKillGrace = 60 * time.Second

// livenessProves says whether a container whose liveness probe dials the port has run,
// started, long enough that the probe would have had it killed by now if it never
// connected.
func livenessProves(pod *corev1.Pod, c *corev1.Container, s corev1.ContainerStatus, now time.Time) bool {
	if s.Started == nil || !*s.Started {
		return false
	}
	window, ok := livenessWindow(pod, c)
	return ok && now.Sub(s.State.Running.StartedAt.Time) >= window
}

// livenessWindow is the longest a liveness probe that never connects takes to have the
// container killed and its status changed: a startup probe's window, the probe's initial
// delay, failureThreshold tries each at most a period or a timeout apart, the last try's
// timeout, the kill's grace, and the kubelet's delay in reporting. It is false when that
// is longer than maxLivenessWindow, or the grace longer than maxKillGrace. Sums are made
// in int64 seconds: the fields are int32 and unbounded.
func livenessWindow(pod *corev1.Pod, c *corev1.Container) (time.Duration, bool) {
	grace := int64(30)
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if g := c.LivenessProbe.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if time.Duration(grace)*time.Second > maxKillGrace {
		return 0, false
	}
	seconds := probeWindow(c.LivenessProbe) + int64(cmp.Or(c.LivenessProbe.TimeoutSeconds, 1)) + grace + int64(reportDelay/time.Second)
	if c.StartupProbe != nil {
		seconds += probeWindow(c.StartupProbe)
	}
	window := time.Duration(seconds) * time.Second
	return window, seconds >= 0 && window <= maxLivenessWindow
}

// reportDelay is how long the kubelet may take to report a container's restart.
const reportDelay = 10 * time.Second

// probeWindow is how long a probe that never connects takes to fail for good, in
// seconds: its initial delay, then failureThreshold tries, each at most a period or its
// timeout apart. Zero fields take the API's defaults.
func probeWindow(p *corev1.Probe) int64 {
	period := int64(max(cmp.Or(p.PeriodSeconds, 10), cmp.Or(p.TimeoutSeconds, 1)))
	return int64(p.InitialDelaySeconds) + int64(cmp.Or(p.FailureThreshold, 3))*period
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
