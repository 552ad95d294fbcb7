package report

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/logsafe"
)

// canaryResult is what a test's enforcement canary found, when the test has one.
type canaryResult struct {
	// Reason is the NetworkPolicyEnforced condition's reason; empty when no run of the
	// canary completed.
	Reason  string
	Message string
	Status  *v1alpha1.CanaryStatus
}

// noCanaryResult stands in for a canary whose run did not complete.
const noCanaryResult = "no result from the canary: its run did not complete"

func newCanaryResult(rt v1alpha1.ReachabilityTest) *canaryResult {
	if rt.Spec.Canary == nil {
		return nil
	}
	c := &canaryResult{Message: noCanaryResult, Status: safeCanaryStatus(rt.Status.Canary)}
	if cond := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionNetworkPolicyEnforced); cond != nil && rt.Status.Canary != nil {
		c.Reason, c.Message = logsafe.Text(cond.Reason), logsafe.Text(oneLine(cond.Message)) // see newTest
	}
	return c
}

// safeCanaryStatus is a copy whose texts are escaped, as newTest escapes the rest.
func safeCanaryStatus(s *v1alpha1.CanaryStatus) *v1alpha1.CanaryStatus {
	if s == nil {
		return nil
	}
	s = s.DeepCopy()
	s.Ingress = v1alpha1.Enforcement(logsafe.Text(string(s.Ingress)))
	s.Egress = v1alpha1.Enforcement(logsafe.Text(string(s.Egress)))
	for i := range s.Phases {
		p := &s.Phases[i]
		p.Name, p.Message = logsafe.Text(p.Name), logsafe.Text(oneLine(p.Message))
		p.Expected = v1alpha1.Expectation(logsafe.Text(string(p.Expected)))
		p.Observed = v1alpha1.Observation(logsafe.Text(string(p.Observed)))
	}
	if a := s.AdminTier; a != nil {
		a.Admin = v1alpha1.Enforcement(logsafe.Text(string(a.Admin)))
		a.Baseline = v1alpha1.Enforcement(logsafe.Text(string(a.Baseline)))
	}
	return s
}

func (c *canaryResult) enforced() bool { return c == nil || c.Reason == v1alpha1.ReasonEnforced }

// failed is a finding that the dataplane does not enforce; a canary that could not run,
// or has no result, is inconclusive instead.
func (c *canaryResult) failed() bool {
	return c != nil && !c.enforced() && c.Reason != v1alpha1.ReasonCanaryFailed && c.Reason != ""
}

// summary reads "canary: Enforced, latency 120ms" or "canary: NotEnforced".
func (c *canaryResult) summary() string {
	reason := c.Reason
	if reason == "" {
		reason = "no result"
	}
	if c.Status != nil && c.Status.EnforcementLatencyMilliseconds != nil && c.enforced() {
		return fmt.Sprintf("canary: %s, latency %dms", reason, *c.Status.EnforcementLatencyMilliseconds)
	}
	return "canary: " + reason
}
