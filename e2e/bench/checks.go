//go:build bench

package main

import (
	"context"
	"fmt"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
	"github.com/netconform/netconform/probes"
)

// checkCounts are the sizes of the probe pods measured: up to the most one pod carries.
var checkCounts = []int{1, 10, 100, probes.MaxChecksPerPod}

// probeSettle is the manager's default --probe-settle-time. These checks carry no policy
// verdict, so they wait it: what is measured is the pod and its checks.
const probeSettle = 2 * time.Second

// checksInOnePod runs probe pods of 1 to 500 checks, half to an allowed and half to a
// denied destination, and times the pod and the checks inside it.
func (b *bench) checksInOnePod() error {
	if err := b.ensureServers(); err != nil {
		return err
	}
	dest := &corev1.Pod{}
	if err := b.k8s.Get(b.ctx, client.ObjectKey{Namespace: edgesNamespace, Name: serverName(1)}, dest); err != nil {
		return err
	}
	for _, n := range checkCounts {
		var pod, inside, added []float64
		for rep := range b.opts.reps {
			m, err := b.probePodOnce(n, rep, dest.Status.PodIP)
			if err != nil {
				return err
			}
			b.logf("%d checks in one pod, rep %d: pod %s, checks %s (last attempts add up to %s)", n, rep+1, seconds(m.pod), seconds(m.checks), seconds(m.added))
			pod, inside, added = append(pod, m.pod.Seconds()), append(inside, m.checks.Seconds()), append(added, m.added.Seconds())
		}
		b.report.Add(figures.Figure{Key: fmt.Sprintf("checks%d_pod_seconds", n), Label: fmt.Sprintf("%d checks in one probe pod: create to results", n), Unit: "s", Samples: pod})
		b.report.Add(figures.Figure{Key: fmt.Sprintf("checks%d_seconds", n), Label: fmt.Sprintf("%d checks in one probe pod: the checks, together", n), Unit: "s", Samples: inside})
		b.report.Add(figures.Figure{Key: fmt.Sprintf("checks%d_added_up_seconds", n), Label: fmt.Sprintf("%d checks in one probe pod: their times added up", n), Unit: "s", Samples: added})
	}
	return nil
}

type podTimes struct {
	pod, checks, added time.Duration
}

// probePodOnce creates one probe pod (s0's identity) and waits for its results.
func (b *bench) probePodOnce(n, rep int, destIP string) (podTimes, error) {
	pod := checksPod(n, rep, destIP, b.opts.image)
	start := time.Now()
	if err := b.create(pod); err != nil {
		return podTimes{}, err
	}
	defer func() {
		_ = b.k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0))
	}()
	err := b.waitFor("probe pod "+pod.Name+" to end", func(ctx context.Context) (bool, string, error) {
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, "", err
		}
		return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed, string(pod.Status.Phase), nil
	})
	took := time.Since(start)
	if err != nil {
		return podTimes{}, err
	}
	if err := b.checkResults(pod, n); err != nil {
		return podTimes{}, err
	}
	logs, err := b.cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: probes.ContainerName}).DoRaw(b.ctx)
	if err != nil {
		return podTimes{}, fmt.Errorf("reading the probe's log: %w", err)
	}
	checks, added, err := probeTimes(string(logs))
	return podTimes{pod: took, checks: checks, added: added}, err
}

// checksPod is a probe pod exactly as the manager renders it, for s0's identity, with n
// checks alternating between an allowed and a denied port of one server; it belongs to
// no test, so the manager leaves it alone.
func checksPod(n, rep int, destIP, image string) *corev1.Pod {
	checks := make([]probes.Check, n)
	for i := range checks {
		deny := i%2 == 1
		port := int32(firstPort)
		if deny {
			port = firstPort + portsPerServer - 1
		}
		checks[i] = probes.Check{Edge: fmt.Sprintf("c%d", i), Kind: probes.KindTCP, Host: destIP, Port: port, Deny: deny}
	}
	test := &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-checks", UID: "bench-checks"},
		Spec:       v1alpha1.ReachabilityTestSpec{ProbeTimeoutSeconds: 2, Attempts: 3},
	}
	plan := probes.PodPlan{Identity: probes.Identity{Namespace: edgesNamespace, Labels: sourceLabels(0)}, Checks: checks}
	pod := probes.ProbePod(test, "bench", plan, probes.PodSettings{Image: image, Settle: probeSettle})
	pod.Name = fmt.Sprintf("bench-checks-%d-%d", n, rep)
	pod.OwnerReferences = nil
	delete(pod.Labels, probes.LabelRun)
	delete(pod.Labels, probes.TestLabel(test.UID))
	return pod
}

// checkResults decodes the pod's termination message and fails unless every check saw
// what it expected.
func (b *bench) checkResults(pod *corev1.Pod, n int) error {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Terminated == nil {
			continue
		}
		results, err := probes.DecodeResults(cs.State.Terminated.Message)
		if err != nil {
			return fmt.Errorf("probe pod %s: %w", pod.Name, err)
		}
		if len(results) != n {
			return fmt.Errorf("probe pod %s reported %d results for %d checks", pod.Name, len(results), n)
		}
		wrong := 0
		for i, r := range results {
			if (r.Observation == v1alpha1.ObservedConnected) == (i%2 == 1) {
				wrong++
			}
		}
		if wrong > 0 {
			b.report.Note("probe pod %s: %d of %d checks saw what they did not expect", pod.Name, wrong, n)
		}
		return nil
	}
	return fmt.Errorf("probe pod %s ended without a terminated container", pod.Name)
}

var probeSummary = regexp.MustCompile(`(\d+) checks in (\S+) \(last attempts add up to (\S+)\)`)

// probeTimes reads the probe's closing line: how long its checks took together, and
// what they add up to.
func probeTimes(log string) (together, added time.Duration, err error) {
	m := probeSummary.FindStringSubmatch(log)
	if m == nil {
		return 0, 0, fmt.Errorf("the probe's log has no summary line")
	}
	if together, err = time.ParseDuration(m[2]); err == nil {
		added, err = time.ParseDuration(m[3])
	}
	return together, added, err
}
