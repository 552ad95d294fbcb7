package gate

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// progressLine says how far the runs are: tests complete, and the probe pods of those
// still running by phase.
func (g *Gate) progressLine(ctx context.Context, tests []v1alpha1.ReachabilityTest, pending []string) string {
	created, running, finished := g.countPods(ctx, tests)
	line := fmt.Sprintf("%d of %d tests complete", len(tests)-len(pending), len(tests))
	if len(pending) > 0 {
		line += fmt.Sprintf("; waiting for %s: %d probe pods (%d starting, %d running, %d done)",
			strings.Join(pending, ", "), created, created-running-finished, running, finished)
	}
	return line
}

// countPods counts the probe pods that serve tests not yet complete, by phase. It is
// best effort: the wait itself reads the tests.
func (g *Gate) countPods(ctx context.Context, tests []v1alpha1.ReachabilityTest) (created, running, finished int) {
	var pods corev1.PodList
	if err := g.client.List(ctx, &pods, client.HasLabels{probes.LabelRun}); err != nil {
		return 0, 0, 0
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if !servesAny(p, tests) {
			continue
		}
		created++
		switch p.Status.Phase {
		case corev1.PodRunning:
			running++
		case corev1.PodSucceeded, corev1.PodFailed:
			finished++
		}
	}
	return created, running, finished
}

// servesAny says whether a probe pod makes checks for a test not yet complete; tests
// that probe from the same identity at the same time share pods.
func servesAny(pod *corev1.Pod, tests []v1alpha1.ReachabilityTest) bool {
	for i := range tests {
		if _, ok := pod.Labels[probes.TestLabel(tests[i].UID)]; ok && !completed(&tests[i]) {
			return true
		}
	}
	return false
}
