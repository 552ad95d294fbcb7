package probes

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestKubeletEvidence(t *testing.T) {
	runStart := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := runStart.Add(20 * time.Second)
	longAgo := runStart.Add(-time.Hour)

	tcp := func(port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}}
	}
	httpGet := func(port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: port}}}
	}
	grpc := func(port int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port}}}
	}
	// base is a Ready pod serving 80 ("http") and 81 ("alt"), whose container has run
	// since long before the run, with no probe: each case adds the one it tests.
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "z", Name: "a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  "serve",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "alt", ContainerPort: 81}},
			}}},
			Status: corev1.PodStatus{
				Phase:      corev1.PodRunning,
				PodIP:      "10.244.2.5",
				PodIPs:     []corev1.PodIP{{IP: "10.244.2.5"}, {IP: "fd00:10:244::5"}},
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{
					Name: "serve", Ready: true, Started: ptr.To(true), RestartCount: 2,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(longAgo)}},
				}},
			},
		}
	}
	check := Check{Edge: "x-a-to-z-a-80", Kind: KindTCP, Host: "10.244.2.5", Port: 80, Deny: true}
	withPort := func(c Check, port int32) Check { c.Port = port; return c }
	withHost := func(c Check, host string) Check { c.Host = host; return c }
	udp := check
	udp.Kind = KindUDP

	tests := []struct {
		name  string
		check Check
		pod   func(*corev1.Pod)
		want  string // the evidence; empty for none
	}{
		// readiness
		{
			name:  "readiness tcpSocket by number",
			check: check,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80)) },
			want:  "pod z/a is Ready and its tcpSocket readiness probe connects to port 80",
		},
		{
			name:  "readiness tcpSocket by name",
			check: check,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromString("http")) },
			want:  `pod z/a is Ready and its tcpSocket readiness probe connects to port 80 ("http")`,
		},
		{
			name:  "readiness httpGet by number",
			check: check,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = httpGet(intstr.FromInt32(80)) },
			want:  "pod z/a is Ready and its httpGet readiness probe connects to port 80",
		},
		{
			name:  "readiness httpGet by name",
			check: withPort(check, 81),
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = httpGet(intstr.FromString("alt")) },
			want:  `pod z/a is Ready and its httpGet readiness probe connects to port 81 ("alt")`,
		},
		{
			name:  "readiness grpc",
			check: check,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = grpc(80) },
			want:  "pod z/a is Ready and its grpc readiness probe connects to port 80",
		},
		{
			name:  "dual-stack pod, check on its IPv6 address",
			check: withHost(check, "fd00:10:244:0::5"),
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80)) },
			want:  "pod z/a is Ready and its tcpSocket readiness probe connects to port 80",
		},
		{
			name:  "a probe on another port says nothing of this one",
			check: withPort(check, 81),
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80)) },
		},
		{
			name:  "a probe by name on another port says nothing of this one",
			check: withPort(check, 81),
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromString("http")) },
		},
		{
			name:  "an exec probe names no port",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			},
		},
		{
			name:  "a probe with a host of its own dials another address",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = httpGet(intstr.FromInt32(80))
				p.Spec.Containers[0].ReadinessProbe.HTTPGet.Host = "10.0.0.1"
			},
		},
		{
			name:  "a port name resolves through the probing container's own ports",
			check: check,
			pod: func(p *corev1.Pod) {
				// serve declares "http" as 80; the sidecar, which probes "http", does not.
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", ReadinessProbe: tcp(intstr.FromString("http"))})
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, p.Status.ContainerStatuses[0])
				p.Status.ContainerStatuses[1].Name = "sidecar"
			},
		},
		{
			name:  "the pod is not Ready",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.Status.Conditions[0].Status = corev1.ConditionFalse
				p.Status.ContainerStatuses[0].Ready = false
			},
		},
		{
			name:  "the pod is Ready but not the probed container",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].Ready = false
			},
		},
		{
			name:  "the container restarted during the run",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.NewTime(runStart.Add(5 * time.Second))
			},
		},
		{
			name:  "the container is waiting to restart",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			},
		},
		{
			name:  "the pod is being deleted",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.DeletionTimestamp = ptr.To(metav1.NewTime(now))
			},
		},
		{
			name:  "the pod is not Running",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.Status.Phase = corev1.PodSucceeded
			},
		},
		{
			name:  "another pod's address",
			check: withHost(check, "10.244.2.6"),
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80)) },
		},
		{
			name:  "kubelet probes do not speak UDP",
			check: udp,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80)) },
		},
		// liveness
		{
			name:  "liveness, running longer than a failing probe would allow",
			check: check,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = httpGet(intstr.FromString("http")) },
			want:  `pod z/a is Ready and its container serve, whose httpGet liveness probe connects to port 80 ("http"), has not restarted since before this run`,
		},
		{
			name:  "liveness needs the pod Ready: a pod on a lost node stays Running",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Status.Conditions[0].Status = corev1.ConditionFalse
				p.Status.ContainerStatuses[0].Ready = false
			},
		},
		{
			name:  "liveness, started too recently for a failing probe to have restarted it",
			check: check,
			pod: func(p *corev1.Pod) {
				// 3 tries 10s apart, the last try's 1s timeout, 30s of grace, 10s to report it
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.NewTime(now.Add(-70 * time.Second))
			},
		},
		{
			name:  "liveness, started just long enough ago",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.NewTime(now.Add(-71 * time.Second))
			},
			want: "pod z/a is Ready and its container serve, whose tcpSocket liveness probe connects to port 80, has not restarted since before this run",
		},
		{
			name:  "liveness waits for the initial delay and the startup probe's window",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Spec.Containers[0].LivenessProbe.InitialDelaySeconds = 15
				p.Spec.Containers[0].StartupProbe = &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
					PeriodSeconds: 5, FailureThreshold: 30,
				}
				// 150s of startup, 15s of delay, 30s of tries, 1s, 30s and 10s: one second short.
				p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.NewTime(now.Add(-235 * time.Second))
			},
		},
		{
			name:  "liveness before the startup probe passed",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].Started = ptr.To(false)
			},
		},
		{
			name:  "liveness on another port",
			check: withPort(check, 81),
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80)) },
		},
		{
			name:  "liveness of a container that restarted during the run",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.NewTime(runStart.Add(time.Second))
			},
		},
		// startup
		{
			name:  "a startup probe that passed shows only that the port listened once",
			check: check,
			pod:   func(p *corev1.Pod) { p.Spec.Containers[0].StartupProbe = grpc(80) },
		},
		{
			name:  "a liveness window past int32 is no evidence",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Spec.Containers[0].LivenessProbe.PeriodSeconds = 65536
				p.Spec.Containers[0].LivenessProbe.FailureThreshold = 65536
			},
		},
		{
			name:  "a liveness window longer than the bound is no evidence",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Spec.Containers[0].LivenessProbe.FailureThreshold = 100
			},
		},
		{
			name:  "a kill grace of an hour is no evidence: the dead server shows Running meanwhile",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](3600)
			},
		},
		{
			name:  "a container that started in the second the run began counts: both are known to the second",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = tcp(intstr.FromInt32(80))
				p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.NewTime(runStart)
			},
			want: "pod z/a is Ready and its tcpSocket readiness probe connects to port 80",
		},
		{
			name:  "startup probe that has not passed",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].StartupProbe = grpc(80)
				p.Status.ContainerStatuses[0].Started = ptr.To(false)
			},
		},
		// which evidence, and which containers
		{
			name:  "readiness is preferred to liveness",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = tcp(intstr.FromInt32(80))
				p.Spec.Containers[0].ReadinessProbe = httpGet(intstr.FromInt32(80))
			},
			want: "pod z/a is Ready and its httpGet readiness probe connects to port 80",
		},
		{
			name:  "a sidecar's probe counts",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), ReadinessProbe: tcp(intstr.FromInt32(80))}}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{p.Status.ContainerStatuses[0]}
				p.Status.InitContainerStatuses[0].Name = "proxy"
			},
			want: "pod z/a is Ready and its tcpSocket readiness probe connects to port 80",
		},
		{
			name:  "an init container that ran to completion does not",
			check: check,
			pod: func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "setup", ReadinessProbe: tcp(intstr.FromInt32(80))}}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{p.Status.ContainerStatuses[0]}
				p.Status.InitContainerStatuses[0].Name = "setup"
			},
		},
		{
			name:  "no probe at all",
			check: check,
			pod:   func(*corev1.Pod) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := base()
			tt.pod(pod)
			got, ok := KubeletEvidence(pod, tt.check, runStart, now)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("KubeletEvidence = %q, %v; want %q, %v", got, ok, tt.want, tt.want != "")
			}
		})
	}
}
