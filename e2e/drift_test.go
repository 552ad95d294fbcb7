//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/netconform/netconform/api/v1alpha1"
)

// driftEvery is the schedule of the drift test: each run sees the cluster as it is then.
const driftEvery = 10 * time.Second

// checkDriftAlert runs edges on a schedule, removes deny, and expects the real
// Prometheus to fire NetconformUnexpectedAllow for hole (a Deny edge that only deny
// stops) within one scheduled run plus the rule's `for:`; restoring deny resolves it.
func (s *scenario) checkDriftAlert(name string, edges []v1alpha1.Edge, hole string, deny func() *networkingv1.NetworkPolicy) {
	s.t.Helper()
	prom := prometheus(s.t)
	rt := s.runSpec(name, v1alpha1.ReachabilityTestSpec{Edges: edges, Schedule: "@every " + driftEvery.String()})
	defer func() { _ = k8s.Delete(context.Background(), rt) }() // stop its runs
	if c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPassed); c == nil || c.Status != "True" {
		s.fatalf("the scheduled test %s must pass before the drift: %+v", name, c)
	}
	run := rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time)
	prom.waitForSeries(s.t, fmt.Sprintf(`netconform_edge_verdict{test=%q}`, name))
	match := map[string]string{"test": name, "edge": hole}
	if as, err := prom.alerts(s.ctx, "NetconformUnexpectedAllow", match); err != nil || len(as) > 0 {
		s.fatalf("NetconformUnexpectedAllow for %v before the drift: %+v (%v)", match, as, err)
	}

	policy := deny()
	s.t.Logf("drift: deleting %s/%s", policy.Namespace, policy.Name)
	removed := time.Now()
	s.remove(policy)
	fired := prom.waitForAlert(s.t, 3*time.Minute, "NetconformUnexpectedAllow", match, true)
	// A run due at most driftEvery after the change, the run itself, a scrape, the
	// rule's for: and an evaluation; plus a second run should the first start too early.
	bound := 2*(driftEvery+run) + alertFor + 4*scrapeInterval
	if took := fired.Sub(removed); took > bound {
		s.t.Errorf("NetconformUnexpectedAllow fired %s after the deny policy went, want within %s", took.Round(100*time.Millisecond), bound)
	}

	s.t.Logf("drift: restoring %s/%s", policy.Namespace, policy.Name)
	restored := time.Now()
	s.create(deny())
	resolved := prom.waitForAlert(s.t, 3*time.Minute, "NetconformUnexpectedAllow", match, false)
	if took := resolved.Sub(restored); took > 2*(driftEvery+run)+4*scrapeInterval {
		s.t.Errorf("NetconformUnexpectedAllow resolved %s after the deny policy came back, want within %s", took.Round(100*time.Millisecond), 2*(driftEvery+run)+4*scrapeInterval)
	}
	report("alert=NetconformUnexpectedAllow fired=%s after-drift resolved=%s after-restore (schedule %s, run %s, for: %s)",
		fired.Sub(removed).Round(100*time.Millisecond), resolved.Sub(restored).Round(100*time.Millisecond), driftEvery, run.Round(100*time.Millisecond), alertFor)
}
