package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// forgedAnswer is what a forger claims: every Allow edge refused, every Deny edge
// connected.
func forgedAnswer(c probes.Check) probes.Result {
	if c.Deny {
		return probes.Result{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: c.Address()}
	}
	return probes.Result{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: c.Address()}
}

// forge creates, as a tenant could, a copy of a real probe pod under another name, with
// change applied, and ends it with the forger's results (the status written as an admin).
func forge(t *testing.T, real *corev1.Pod, name string, change func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: real.Namespace, Labels: real.Labels, Annotations: real.Annotations, OwnerReferences: real.OwnerReferences,
	}, Spec: *real.Spec.DeepCopy()}
	if change != nil {
		change(pod)
	}
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatalf("creating forged pod %s: %v", name, err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) })
	finishPod(t, pod, forgedAnswer)
	return pod
}

// A tenant's pods with a test's labels, members and checks, ended with forged results
// before the real probe pods, change no verdict: the run waits for its own pods.
func TestForgedProbePodsChangeNoVerdict(t *testing.T) {
	ns := newNamespace(t, "forged")
	h := startManager(t, SetupOptions{})
	rt := createTest(t, "forged", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("front-to-api", ns, map[string]string{"app": "front"}, "10.0.0.1", 8080, v1alpha1.ExpectAllow),
		hostEdge("back-to-api", ns, map[string]string{"app": "back"}, "10.0.0.1", 8080, v1alpha1.ExpectDeny),
	}})
	real := waitForPods(t, rt, 2)
	var forged []*corev1.Pod
	for i := range real {
		forged = append(forged, forge(t, &real[i], fmt.Sprintf("forged-%d", i), nil))
	}
	eventually(t, 10*time.Second, "both forged pods to be noted", func(context.Context) (bool, error) {
		return testutil.ToFloat64(h.rec.Metrics.foreignPods) == 2, nil
	})
	waitForEvent(t, rt, EventForeignProbePod)
	if c := condition(getTest(t, rt.Name), v1alpha1.ConditionCompleted); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("the run completed from forged pods: %+v", c)
	}

	for i := range real {
		finishPod(t, &real[i], asExpected)
	}
	rt = waitForCompleted(t, rt.Name)
	for _, r := range rt.Status.Results {
		if r.Verdict != v1alpha1.VerdictPass {
			t.Errorf("%s: observed %s, verdict %s: a forged result was read (%s)", r.Edge, r.Observed, r.Verdict, r.Message)
		}
	}
	waitForPods(t, rt, len(forged)) // the real pods are deleted, the forged ones are not touched
	for _, p := range probePodsOf(t, rt) {
		if !strings.HasPrefix(p.Name, "forged-") {
			t.Errorf("pod %s left behind", p.Name)
		}
	}
	if got := testutil.ToFloat64(h.rec.Metrics.foreignPods); got != 2 {
		t.Errorf("netconform_foreign_probe_pods_total = %v, want each forged pod counted once", got)
	}
}

// Pods labelled netconform.io/run that the manager did not make do not fill the cap.
func TestForeignPodsDoNotCountAgainstTheCap(t *testing.T) {
	ns := newNamespace(t, "stall")
	startManager(t, SetupOptions{Options: Options{MaxConcurrentProbePods: 2}})
	for i := range 5 {
		pod := restrictedPod(ns, fmt.Sprintf("stall-%d", i), map[string]string{probes.LabelRun: "w"})
		if err := k8s.Create(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) })
	}
	rt := createTest(t, "not-stalled", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("a", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
		hostEdge("b", ns, map[string]string{"app": "b"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}})
	pods := waitForPods(t, rt, 2)
	for i := range pods {
		finishPod(t, &pods[i], asExpected)
	}
	if rt = waitForCompleted(t, rt.Name); rt.Status.Summary.Passed != 2 {
		t.Errorf("summary %+v, want both edges passed", rt.Status.Summary)
	}
}

// A restarted manager has no record of the pods it made: it recognises them by
// rendering them again, and a pod that differs in one field is not one of them.
func TestRestartedManagerTrustsOnlyWhatItWouldRender(t *testing.T) {
	ns := newNamespace(t, "rerender")
	intruder := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "intruder", Namespace: ns}}
	if err := k8s.Create(context.Background(), intruder); err != nil {
		t.Fatal(err)
	}
	first := startManager(t, SetupOptions{})
	front := map[string]string{"app": "front"}
	rt := createTest(t, "rerender", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("front-to-api", ns, front, "10.0.0.1", 8080, v1alpha1.ExpectAllow),
		hostEdge("front-to-web", ns, front, "10.0.0.2", 80, v1alpha1.ExpectAllow),
	}})
	real := waitForPods(t, rt, 1)[0]
	first.stop()

	// Each forgery takes a name the manager could give a pod of the same wave.
	wave := real.Labels[probes.LabelRun]
	id := probes.PodIdentity(&real)
	id.ServiceAccount = ""
	name := func(index int) string {
		return probes.PodName(rt.Name, wave, probes.PodPlan{Identity: id, Index: index})
	}
	forge(t, &real, name(1), func(p *corev1.Pod) { p.Spec.Containers[0].Image = "evil.example/probe:latest" })
	forge(t, &real, name(2), func(p *corev1.Pod) {
		args := p.Spec.Containers[0].Args
		args[len(args)-1] = probes.ChecksFlag + probes.EncodeChecks([]probes.Check{
			{Edge: "front-to-api", Kind: probes.KindTCP, Host: "192.0.2.1", Port: 8080},
			{Edge: "front-to-web", Kind: probes.KindTCP, Host: "192.0.2.1", Port: 80},
		})
	})
	forge(t, &real, name(3), func(p *corev1.Pod) { p.Spec.ServiceAccountName = "intruder" })
	forge(t, &real, name(4), func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](3600) })

	second := startManager(t, SetupOptions{})
	eventually(t, 10*time.Second, "the forged pods to be noted", func(context.Context) (bool, error) {
		return testutil.ToFloat64(second.rec.Metrics.foreignPods) == 4, nil
	})
	if c := condition(getTest(t, rt.Name), v1alpha1.ConditionCompleted); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("the run completed from forged pods: %+v", c)
	}
	finishPod(t, &real, asExpected)
	rt = waitForCompleted(t, rt.Name)
	for _, r := range rt.Status.Results {
		if r.Verdict != v1alpha1.VerdictPass || strings.HasPrefix(r.Target, "192.0.2.") {
			t.Errorf("%s: observed %s verdict %s target %s: a forged result was read", r.Edge, r.Observed, r.Verdict, r.Target)
		}
	}
	if n := countEvents(t, rt, EventRunStarted); n != 1 {
		t.Errorf("%d RunStarted events, want 1: the restarted manager resumes the run with its own pod", n)
	}
	waitForPods(t, rt, 4) // the real pod is deleted, the forged ones are not
}

// restrictedPod is a pod that the restricted Pod Security Standard admits.
func restrictedPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			SecurityContext: probes.RestrictedPodSecurity(),
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox", SecurityContext: probes.RestrictedContainerSecurity(),
			}},
		},
	}
}
