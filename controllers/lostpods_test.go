package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// A probe pod deleted or evicted before it reported ends as the kubelet ends it: its
// container killed without results. The run makes its checks again in a new pod, at
// once, and its verdicts come from that pod, not from the kill.
func TestProbePodGoneBeforeReportingIsReplaced(t *testing.T) {
	for _, c := range []struct {
		name   string
		remove func(ctx context.Context, pod *corev1.Pod) error
	}{
		{"deleted", func(ctx context.Context, pod *corev1.Pod) error { return k8s.Delete(ctx, pod) }},
		{"evicted", func(ctx context.Context, pod *corev1.Pod) error {
			return k8s.SubResource("eviction").Create(ctx, pod, &policyv1.Eviction{})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := newNamespace(t, c.name)
			startManager(t, SetupOptions{})
			rt := createTest(t, "gone-"+c.name, v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
				hostEdge("a-to-x", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
			}})
			pod := waitForPods(t, rt, 1)[0]
			runOnNode(t, &pod)
			if err := c.remove(context.Background(), &pod); err != nil {
				t.Fatalf("removing probe pod %s: %v", pod.Name, err)
			}
			killedByKubelet(t, &pod)

			var replacement corev1.Pod
			eventually(t, 10*time.Second, "a new probe pod for the run", func(context.Context) (bool, error) {
				pods := probePodsOf(t, rt)
				if len(pods) == 1 && pods[0].Name != pod.Name {
					replacement = pods[0]
					return true, nil
				}
				return false, nil
			})
			finishPod(t, &replacement, asExpected)
			rt = waitForCompleted(t, rt.Name)
			if r := rt.Status.Results[0]; r.Observed != v1alpha1.ObservedConnected || r.Verdict != v1alpha1.VerdictPass {
				t.Errorf("result %+v, want Connected/Pass from the new pod", r)
			}
			if n := countEvents(t, rt, EventRunStarted); n != 1 {
				t.Errorf("%d RunStarted events, want 1: a lost pod is replaced within its run", n)
			}
		})
	}
}

// runOnNode binds the pod to a node and marks it running, as the scheduler and the
// kubelet would: deleting it is then graceful, and it stays until the kubelet is done.
func runOnNode(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	binding := &corev1.Binding{Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}
	if err := k8s.SubResource("binding").Create(context.Background(), pod, binding); err != nil {
		t.Fatalf("binding probe pod %s: %v", pod.Name, err)
	}
	setPodStatus(t, pod, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: probes.ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
	}}})
}

// killedByKubelet ends a pod being deleted as the kubelet does: the probe, sent
// SIGTERM, exits without results.
func killedByKubelet(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	latest := &corev1.Pod{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), latest); err != nil {
		t.Fatal(err)
	}
	if latest.DeletionTimestamp == nil {
		t.Fatalf("probe pod %s is not being deleted: the test needs a graceful deletion", pod.Name)
	}
	status := latest.Status
	status.Phase = corev1.PodFailed
	status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: probes.ContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}},
	}}
	setPodStatus(t, pod, status)
}
