//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// namespace, which checks every schedulable node. On the enforcing profile it finds
// NetworkPolicy enforced on each node and times the dataplane; on the noop profile it
// finds it enforced on none; on the partial profile it finds it PartiallyEnforced, naming
// the open node in both directions and no other. Where a node does not enforce, the real
// Prometheus fires NetconformNetworkPolicyNotEnforced naming that node. On every profile,
// with the ClusterNetworkPolicy CRDs that deploy.sh installs from
// sigs.k8s.io/network-policy-api, it finds the admin tier not enforced: kube-router does
// not implement it.
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
	t.Logf("canary: %s: %s; nodes: %+v; phases: %+v", cond.Reason, cond.Message, rt.Status.Canary.Nodes, rt.Status.Canary.Phases)

	want, wantStatus := v1alpha1.ReasonEnforced, metav1.ConditionTrue
	switch cfg.profile {
	case noop:
		want, wantStatus = v1alpha1.ReasonNotEnforced, metav1.ConditionFalse
	case partial:
		want, wantStatus = v1alpha1.ReasonPartiallyEnforced, metav1.ConditionFalse
	}
	if cond.Reason != want || cond.Status != wantStatus {
		s.fatalf("NetworkPolicyEnforced=%s (%s) on profile %s, want %s (%s): %s", cond.Status, cond.Reason, cfg.profile, wantStatus, want, cond.Message)
	}
	open := checkCanaryNodes(s, rt, cond.Message)
	latency := "none"
	if ms := rt.Status.Canary.EnforcementLatencyMilliseconds; ms != nil {
		latency = (time.Duration(*ms) * time.Millisecond).String()
	} else if cfg.profile == enforcing {
		s.fatalf("the canary found NetworkPolicy enforced but measured no enforcement latency: %+v", rt.Status.Canary)
	}
	adminTier := checkAdminTierCanary(s, rt)
	took := rt.Status.LastRunCompletionTime.Sub(rt.Status.LastRunStartTime.Time)
	report("canary=%s nodes=%d open-nodes=%s enforcement-latency=%s admin-tier=%s canary-run=%s",
		cond.Reason, len(rt.Status.Canary.Nodes), orNone(strings.Join(open, ",")), latency, adminTier, took.Round(100*time.Millisecond))

	prom := prometheus(t)
	prom.waitForSeries(t, fmt.Sprintf(`netconform_canary_enforcement{test=%q}`, name))
	if cfg.profile == enforcing {
		// The whole cluster's two directions (no node label) and each node's.
		for expr, want := range map[string]int{
			fmt.Sprintf(`netconform_canary_enforcement{test=%q,state="Enforced",node=""} == 1`, name):  2,
			fmt.Sprintf(`netconform_canary_enforcement{test=%q,state="Enforced",node!=""} == 1`, name): 2 * len(cfg.nodes),
		} {
			if n, err := prom.query(t.Context(), expr); err != nil || n != want {
				t.Fatalf("Prometheus has %d series for %s (%v), want %d", n, expr, err, want)
			}
		}
		return
	}
	completed := rt.Status.LastRunCompletionTime.Time
	fired := prom.waitForAlert(t, 2*time.Minute, "NetconformNetworkPolicyNotEnforced", map[string]string{"test": name, "direction": "ingress", "node": open[0]}, true)
	// The alert needs a scrape, its `for:` and an evaluation after the run completed.
	if bound := alertFor + 10*scrapeInterval; fired.Sub(completed) > bound {
		t.Errorf("NetconformNetworkPolicyNotEnforced fired %s after the canary's run, want within %s", fired.Sub(completed).Round(100*time.Millisecond), bound)
	}
	if cfg.profile == partial {
		// An enforcing node must not alert: exactly the open node's two directions fire.
		expr := fmt.Sprintf(`ALERTS{alertname="NetconformNetworkPolicyNotEnforced",alertstate="firing",test=%q}`, name)
		n := 0
		err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, alertFor+10*scrapeInterval, true, func(ctx context.Context) (bool, error) {
			var err error
			n, err = prom.query(ctx, expr)
			return n >= 2, err
		})
		if err != nil || n != 2 {
			t.Errorf("%d alerts firing for %s (%v), want 2: the open node's ingress and egress, no other node", n, expr, err)
		}
	}
	report("alert=NetconformNetworkPolicyNotEnforced node=%s fired=%s after-run (for: %s)", open[0], fired.Sub(completed).Round(100*time.Millisecond), alertFor)
}

// checkCanaryNodes asserts status.canary.nodes: one finding per schedulable node, each
// enforcing both directions on enforcing, neither on noop, and on partial all but the
// open node, which the message names. It returns the nodes found not to enforce.
func checkCanaryNodes(s *scenario, rt *v1alpha1.ReachabilityTest, message string) []string {
	var found, open []string
	for _, n := range rt.Status.Canary.Nodes {
		found = append(found, n.Name)
		wantOpen := cfg.profile == noop || (cfg.profile == partial && n.Name == cfg.openNode)
		want := v1alpha1.Enforced
		if wantOpen {
			want = v1alpha1.NotEnforced
			open = append(open, n.Name)
		}
		if n.Ingress != want || n.Egress != want {
			s.fatalf("node %s: ingress %s, egress %s on profile %s, want both %s: %s", n.Name, n.Ingress, n.Egress, cfg.profile, want, message)
		}
		if cfg.profile == partial && wantOpen != strings.Contains(message, n.Name+" does not enforce") {
			s.fatalf("the canary's message names the nodes that do not enforce, and only those (open node %s): %s", cfg.openNode, message)
		}
	}
	slices.Sort(found)
	if !slices.Equal(found, cfg.nodes) {
		s.fatalf("the canary checked nodes %v, want every schedulable node %v", found, cfg.nodes)
	}
	return open
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
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
