package canary

import (
	"fmt"
	"time"

	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Finding is what the canary concluded: the condition's reason and message, and the
// status to publish.
type Finding struct {
	Reason  string
	Message string
	Status  v1alpha1.CanaryStatus
	// Latency is the measured enforcement latency; nil when none was measured.
	Latency *time.Duration
	// AdminTier is the finding on ClusterNetworkPolicy; nil when the test skips it.
	AdminTier *AdminTierFinding
}

// Enforced reports whether the dataplane enforces both directions.
func (f Finding) Enforced() bool { return f.Reason == v1alpha1.ReasonEnforced }

// Finding reads the machine's conclusion; call it once Done.
func (m *Machine) Finding() Finding {
	f := Finding{Status: v1alpha1.CanaryStatus{Ingress: m.ingress, Egress: m.egress, Phases: m.phases}}
	if f.Status.Ingress == "" {
		f.Status.Ingress, f.Status.Egress = v1alpha1.Unknown, v1alpha1.Unknown
	}
	if m.measured {
		f.Latency = ptr.To(m.latency)
		f.Status.EnforcementLatencyMilliseconds = ptr.To(int32(m.latency.Milliseconds()))
	}
	f.Reason, f.Message = m.verdict()
	// Where the API is not served there is nothing to publish but the condition.
	if f.AdminTier = m.adminTierFinding(); f.AdminTier != nil && f.AdminTier.Reason != v1alpha1.ReasonNotServed {
		f.Status.AdminTier = f.AdminTier.Status.DeepCopy()
	}
	return f
}

func (m *Machine) verdict() (string, string) {
	if m.failure != "" {
		return v1alpha1.ReasonCanaryFailed, fmt.Sprintf("The canary could not run: %s. Whether this cluster enforces NetworkPolicy is unknown.", m.failure)
	}
	return directionVerdict(m.ingress, m.egress, m.latency)
}

// directionVerdict is the reason and message for what the dataplane enforces, the same
// everywhere it was checked.
func directionVerdict(ingress, egress v1alpha1.Enforcement, latency time.Duration) (string, string) {
	const untrusted = "Deny verdicts on this cluster say nothing about the policies: the traffic they expect to be denied gets through no matter what the policies say."
	switch {
	case ingress == v1alpha1.NotEnforced && egress == v1alpha1.NotEnforced:
		return v1alpha1.ReasonNotEnforced, fmt.Sprintf("The dataplane does not enforce NetworkPolicy: the canary's traffic still got through after its allow was removed and a deny-all put in place. Is the CNI's policy agent installed and running? %s", untrusted)
	case egress == v1alpha1.NotEnforced:
		return v1alpha1.ReasonEgressNotEnforced, "Egress policy is not enforced: an ingress allow alone let the canary's traffic through, so egress rules (including a default-deny egress) restrict nothing on this cluster. Ingress policy is enforced."
	case ingress == v1alpha1.NotEnforced:
		return v1alpha1.ReasonIngressNotEnforced, "Ingress policy is not enforced: an egress allow alone let the canary's traffic through, so a destination's ingress rules protect nothing on this cluster. Egress policy is enforced."
	}
	return v1alpha1.ReasonEnforced, fmt.Sprintf("NetworkPolicy is enforced for ingress and egress: the canary's traffic stopped %s after its allow was removed, and neither half of an allow let it through alone.", latency.Round(time.Millisecond))
}
