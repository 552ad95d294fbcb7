//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
)

const (
	// driftSchedule is far away: the drift must be caught by following the change, not
	// by the next scheduled run.
	driftSchedule = "@every 1h"
	// minRerunInterval is the manager's default --min-rerun-interval.
	minRerunInterval = 30 * time.Second
	// settleSlack covers the quiet time before a triggered run and the alert's evaluation.
	settleSlack = 3 * time.Second
)

// checkDriftAlert runs edges that follow changes (spec.rerunOn) on a schedule an hour
// away, removes deny, and expects the real Prometheus to fire NetconformPredictedAllow
// for hole (a Deny edge that only deny stops) within the rule's `for:` plus a few
// seconds, from the prediction alone, and NetconformUnexpectedAllow once the triggered
// run has probed it; restoring deny resolves both.
func (s *scenario) checkDriftAlert(name string, edges []v1alpha1.Edge, hole string, deny func() *networkingv1.NetworkPolicy) {
	s.t.Helper()
	prom := prometheus(s.t)
	rt := s.runSpec(name, v1alpha1.ReachabilityTestSpec{Edges: edges, Schedule: driftSchedule,
		RerunOn: []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange, v1alpha1.RerunOnLabelChange}})
	defer func() { _ = k8s.Delete(context.Background(), rt) }() // stop its runs
	if c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPassed); c == nil || c.Status != "True" {
		s.fatalf("the test %s must pass before the drift: %+v", name, c)
	}
	run := rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time)
	prom.waitForSeries(s.t, fmt.Sprintf(`netconform_edge_prediction{test=%q,edge=%q,predicted="Deny"}`, name, hole))
	match := map[string]string{"test": name, "edge": hole}
	for _, alert := range []string{"NetconformPredictedAllow", "NetconformUnexpectedAllow"} {
		if as, err := prom.alerts(s.ctx, alert, match); err != nil || len(as) > 0 {
			s.fatalf("%s for %v before the drift: %+v (%v)", alert, match, as, err)
		}
	}

	// A triggered run never starts sooner than the minimum interval after the last run:
	// the drift meets the test at rest, as it would an hour into its schedule.
	s.waitUntil("the test to be at rest", func(ctx context.Context) (bool, string, error) {
		since := time.Since(s.lastRunStart(name))
		return since > minRerunInterval, fmt.Sprintf("last run started %s ago", since.Round(time.Second)), nil
	})
	policy := deny()
	s.t.Logf("drift: deleting %s/%s", policy.Namespace, policy.Name)
	removed := time.Now()
	s.remove(policy)
	predicted := prom.waitForAlert(s.t, 3*time.Minute, "NetconformPredictedAllow", match, true)
	probed := prom.waitForAlert(s.t, 3*time.Minute, "NetconformUnexpectedAllow", match, true)
	// The prediction: a change, a scrape, the rule's for: and an evaluation.
	if took, bound := predicted.Sub(removed), alertFor+2*scrapeInterval+settleSlack; took > bound {
		s.t.Errorf("NetconformPredictedAllow fired %s after the deny policy went, want within %s", took.Round(100*time.Millisecond), bound)
	}
	// The probed verdict: the triggered run too.
	if took, bound := probed.Sub(removed), alertFor+run+2*scrapeInterval+2*settleSlack; took > bound {
		s.t.Errorf("NetconformUnexpectedAllow fired %s after the deny policy went, want within %s", took.Round(100*time.Millisecond), bound)
	}

	s.t.Logf("drift: restoring %s/%s", policy.Namespace, policy.Name)
	restored := time.Now()
	// The run that confirms the restore waits out the minimum interval after the last one.
	interval := max(s.lastRunStart(name).Add(minRerunInterval).Sub(restored), 0)
	s.create(deny())
	predictedResolved := prom.waitForAlert(s.t, 3*time.Minute, "NetconformPredictedAllow", match, false)
	probedResolved := prom.waitForAlert(s.t, 3*time.Minute, "NetconformUnexpectedAllow", match, false)
	if took, bound := predictedResolved.Sub(restored), 2*scrapeInterval+settleSlack; took > bound {
		s.t.Errorf("NetconformPredictedAllow resolved %s after the deny policy came back, want within %s", took.Round(100*time.Millisecond), bound)
	}
	if took, bound := probedResolved.Sub(restored), interval+run+2*scrapeInterval+2*settleSlack; took > bound {
		s.t.Errorf("NetconformUnexpectedAllow resolved %s after the deny policy came back, want within %s", took.Round(100*time.Millisecond), bound)
	}
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	report("alert=NetconformPredictedAllow fired=%s after-drift resolved=%s after-restore; alert=NetconformUnexpectedAllow fired=%s after-drift resolved=%s after-restore, of which %s the minimum interval (schedule %s, rerunOn, run %s, for: %s, min-rerun-interval %s)",
		r(predicted.Sub(removed)), r(predictedResolved.Sub(restored)), r(probed.Sub(removed)), r(probedResolved.Sub(restored)), r(interval), driftSchedule, r(run), alertFor, minRerunInterval)
}

// lastRunStart is when the test's last completed run started.
func (s *scenario) lastRunStart(name string) time.Time {
	s.t.Helper()
	rt := &v1alpha1.ReachabilityTest{}
	if err := k8s.Get(s.ctx, client.ObjectKey{Name: name}, rt); err != nil || rt.Status.LastRunStartTime == nil {
		s.fatalf("reading test %s: %v", name, err)
	}
	return rt.Status.LastRunStartTime.Time
}
