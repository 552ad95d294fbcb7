// Package testkubelet plays the kubelet for probe pods in tests that run a real API
// server but no node: it ends a probe pod as the kubelet would once the probe exits,
// with results the test chooses, encoded as the probe encodes them.
package testkubelet

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/probes"
)

// Answer is the result a test gives a check.
type Answer func(probes.Check) probes.Result

// Finish ends the probe pod: its probe container terminates with the encoded results of
// answer applied to each connection the pod makes, and the pod Succeeds. It writes the
// status of the pod as the API server holds it now.
func Finish(ctx context.Context, c client.Client, pod *corev1.Pod, answer Answer) error {
	msg, err := Results(pod, answer)
	if err != nil {
		return err
	}
	latest := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(pod), latest); err != nil {
		return err
	}
	latest.Status = corev1.PodStatus{
		Phase: corev1.PodSucceeded,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:  probes.ContainerName,
			Image: pod.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", Message: msg}},
		}},
	}
	return c.Status().Update(ctx, latest)
}

// Results is the termination message a probe pod writes when answer is what it saw.
func Results(pod *corev1.Pod, answer Answer) (string, error) {
	checks, err := probes.ChecksOf(pod)
	if err != nil {
		return "", fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	checks = probes.Made(checks)
	results := make([]probes.Result, len(checks))
	for i, c := range checks {
		results[i] = answer(c)
	}
	return probes.EncodeResults(results)
}
