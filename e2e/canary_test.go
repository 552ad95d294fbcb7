//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestEnforcementCanary: a ReachabilityTest with only a canary, in the manager's
// namespace. On the enforcing profile it finds NetworkPolicy enforced in both directions
// and times the dataplane; on the noop profile it finds it not enforced, and the real
// Prometheus fires NetconformNetworkPolicyNotEnforced.
func TestEnforcementCanary(t *testing.T) {
	s := newScenario(t)
	const name = "e2e-canary"
	rt := s.runSpec(name, v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{}})
	cond := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionNetworkPolicyEnforced)
	if cond == nil || rt.Status.Canary == nil {
		s.fatalf("ReachabilityTest %s completed without a canary finding: %+v", name, rt.Status)
	}
	t.Logf("canary: %s: %s; phases: %+v", cond.Reason, cond.Message, rt.Status.Canary.Phases)

	want, wantStatus := v1alpha1.ReasonEnforced, metav1.ConditionTrue
	if cfg.profile == noop {
		want, wantStatus = v1alpha1.ReasonNotEnforced, metav1.ConditionFalse
	}
	if cond.Reason != want || cond.Status != wantStatus {
		s.fatalf("NetworkPolicyEnforced=%s (%s) on profile %s, want %s (%s): %s", cond.Status, cond.Reason, cfg.profile, wantStatus, want, cond.Message)
	}
	latency := "none"
	if ms := rt.Status.Canary.EnforcementLatencyMilliseconds; ms != nil {
		latency = (time.Duration(*ms) * time.Millisecond).String()
	} else if cfg.profile == enforcing {
		s.fatalf("the canary found NetworkPolicy enforced but measured no enforcement latency: %+v", rt.Status.Canary)
	}
	took := rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time)
	report("canary=%s enforcement-latency=%s canary-run=%s", cond.Reason, latency, took.Round(100*time.Millisecond))

	prom := prometheus(t)
	prom.waitForSeries(t, fmt.Sprintf(`netconform_canary_enforcement{test=%q}`, name))
	if cfg.profile == enforcing {
		if n, err := prom.query(t.Context(), fmt.Sprintf(`netconform_canary_enforcement{test=%q,state="Enforced"} == 1`, name)); err != nil || n != 2 {
			t.Fatalf("Prometheus shows %d directions enforced for %s (%v), want ingress and egress", n, name, err)
		}
		return
	}
	completed := rt.Status.LastRunCompletionTime.Time
	fired := prom.waitForAlert(t, 2*time.Minute, "NetconformNetworkPolicyNotEnforced", map[string]string{"test": name, "direction": "ingress"}, true)
	// The alert needs a scrape, its `for:` and an evaluation after the run completed.
	if bound := alertFor + 10*scrapeInterval; fired.Sub(completed) > bound {
		t.Errorf("NetconformNetworkPolicyNotEnforced fired %s after the canary's run, want within %s", fired.Sub(completed).Round(100*time.Millisecond), bound)
	}
	report("alert=NetconformNetworkPolicyNotEnforced fired=%s after-run (for: %s)", fired.Sub(completed).Round(100*time.Millisecond), alertFor)
}
