//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	cnp "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
)

// TestEnforcementCanary: a ReachabilityTest with only a canary, in the manager's
// namespace. On the enforcing profile it finds NetworkPolicy enforced in both directions
// and times the dataplane; on the noop profile it finds it not enforced, and the real
// Prometheus fires NetconformNetworkPolicyNotEnforced. On both, with the
// ClusterNetworkPolicy CRDs that deploy.sh installs from sigs.k8s.io/network-policy-api,
// it finds the admin tier not enforced: kube-router does not implement it.
func TestEnforcementCanary(t *testing.T) {
	s := newScenario(t)
	const name = "e2e-canary"
	// 5 s per phase: kube-router applies a policy in well under a second, and the
	// admin-tier phases it ignores each wait the whole timeout.
	rt := s.runSpec(name, v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{TimeoutSeconds: 5}})
	cond := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionNetworkPolicyEnforced)
	if cond == nil || rt.Status.Canary == nil {
		s.fatalf("ReachabilityTest %s completed without a canary finding: %+v", name, rt.Status)
	}
	t.Logf("canary: %s: %s; phases: %+v", cond.Reason, cond.Message, rt.Status.Canary.Phases)
	if cfg.profile == partial {
		report("canary=%s canary-run=%s", cond.Reason, rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time).Round(100*time.Millisecond))
		t.Skipf("partial profile: this canary checks the node its pods happened to land on, so %s proves nothing here; the per-node canary suite covers partial enforcement", cond.Reason)
	}

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
	adminTier := checkAdminTierCanary(s, rt)
	took := rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time)
	report("canary=%s enforcement-latency=%s admin-tier=%s canary-run=%s", cond.Reason, latency, adminTier, took.Round(100*time.Millisecond))

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

// checkAdminTierCanary asserts the admin-tier finding on the local cluster: neither
// profile's dataplane implements ClusterNetworkPolicy, so ClusterNetworkPolicyEnforced
// is False with NotEnforced, and the canary's ClusterNetworkPolicies are gone after the
// run. It returns the reason, for the closing line.
func checkAdminTierCanary(s *scenario, rt *v1alpha1.ReachabilityTest) string {
	cond := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionClusterNetworkPolicyEnforced)
	if cond == nil {
		s.fatalf("ReachabilityTest %s completed without a ClusterNetworkPolicyEnforced condition: %+v", rt.Name, rt.Status.Conditions)
	}
	s.t.Logf("admin tier: %s: %s; status: %+v", cond.Reason, cond.Message, rt.Status.Canary.AdminTier)
	if cond.Reason == v1alpha1.ReasonNotServed {
		s.fatalf("ClusterNetworkPolicy is not served: e2e/cluster/deploy.sh installs its CRDs from sigs.k8s.io/network-policy-api; run it: %s", cond.Message)
	}
	a := rt.Status.Canary.AdminTier
	if cond.Status != metav1.ConditionFalse || cond.Reason != v1alpha1.ReasonNotEnforced || a == nil || a.Admin != v1alpha1.NotEnforced || a.Baseline != v1alpha1.NotEnforced {
		s.fatalf("ClusterNetworkPolicyEnforced=%s (%s), admin tier %+v on profile %s, want False (NotEnforced) with both tiers NotEnforced: kube-router does not implement ClusterNetworkPolicy: %s",
			cond.Status, cond.Reason, a, cfg.profile, cond.Message)
	}
	err := wait.PollUntilContextTimeout(s.t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var left cnp.ClusterNetworkPolicyList
		err := k8s.List(ctx, &left, client.MatchingLabels{canary.LabelCanary: canary.NamesFor(rt, "").ID})
		return err == nil && len(left.Items) == 0, err
	})
	if err != nil {
		s.fatalf("the canary's ClusterNetworkPolicies are still there after its run: %v", err)
	}
	return cond.Reason
}
