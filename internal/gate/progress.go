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
	var created, running, finished int
	for i := range tests {
		if completed(&tests[i]) {
			continue
		}
		var pods corev1.PodList
		if err := g.client.List(ctx, &pods, client.MatchingLabels{probes.LabelTestUID: string(tests[i].UID)}); err != nil {
			continue // progress is best effort; the wait itself reads the tests
		}
		for _, p := range pods.Items {
			created++
			switch p.Status.Phase {
			case corev1.PodRunning:
				running++
			case corev1.PodSucceeded, corev1.PodFailed:
				finished++
			}
		}
	}
	line := fmt.Sprintf("%d of %d tests complete", len(tests)-len(pending), len(tests))
	if len(pending) > 0 {
		line += fmt.Sprintf("; waiting for %s: %d probe pods (%d starting, %d running, %d done)",
			strings.Join(pending, ", "), created, created-running-finished, running, finished)
	}
	return line
}
