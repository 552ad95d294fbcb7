package canary

import (
	"fmt"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TierCheck says whether the canary checks the admin tier, ClusterNetworkPolicy.
type TierCheck int

const (
	// TierSkip means the test opted out; there is no admin-tier finding.
	TierSkip TierCheck = iota
	// TierNotServed means the cluster does not serve ClusterNetworkPolicy; the finding says so.
	TierNotServed
	// TierRun runs the admin-tier phases after the NetworkPolicy ones.
	TierRun
)

// tiers is what the admin-tier phases found.
type tiers struct {
	admin, baseline v1alpha1.Enforcement
	latency         time.Duration
	measured        bool
	failure         string
}

// advanceFlowing waits until the client's traffic flows, and has for a pause, under a
// policy set that allows it: the Deny that follows must be what stops it, not a change
// still on its way through the dataplane.
func (m *Machine) advanceFlowing(timeline []Change, now time.Time) {
	name, next := PhaseAdminAllowed, stepAdminDeny
	if m.step == stepBaselineOpen {
		name, next = PhaseBaselineOpen, stepBaselineDeny
	}
	if c, ok := current(timeline); ok && c.Connected() && now.Sub(later(c.At, m.since)) >= m.pause() {
		m.step = next
		return
	}
	if now.Sub(m.since) >= m.Timeout {
		observed := lastObserved(timeline)
		m.record(name, v1alpha1.ExpectAllow, observed, fmt.Sprintf("with %s the client did not connect within %s", policiesOf[m.step], m.Timeout))
		m.Fail(fmt.Sprintf("with %s the canary client could not reach the canary server within %s (it saw %s)", policiesOf[m.step], m.Timeout, orNothing(observed)))
	}
}

// advanceTierDeny watches a tier's Deny: an enforcing dataplane stops the traffic.
func (m *Machine) advanceTierDeny(timeline []Change, now time.Time) {
	name, found, next := PhaseAdminDeny, &m.tiers.admin, stepBaselineOpen
	if m.step == stepBaselineDeny {
		name, found, next = PhaseBaselineDeny, &m.tiers.baseline, stepDone
	}
	if c, ok := firstAfter(timeline, m.since, false); ok {
		latency := max(c.At.Sub(m.since), 0)
		if m.step == stepAdminDeny {
			m.tiers.latency, m.tiers.measured = latency, true
		}
		*found = v1alpha1.Enforced
		m.record(name, v1alpha1.ExpectDeny, c.Observed, fmt.Sprintf("with %s the client saw %s %s after the Deny was created", policiesOf[m.step], c.Observed, latency.Round(time.Millisecond)))
		m.step = next
		return
	}
	if now.Sub(m.since) >= m.Timeout {
		*found = v1alpha1.NotEnforced
		m.record(name, v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, fmt.Sprintf("with %s the client still connected %s after the Deny was created", policiesOf[m.step], m.Timeout))
		m.step = next
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// AdminTierFinding is the canary's conclusion on ClusterNetworkPolicy: the reason and
// message of the ClusterNetworkPolicyEnforced condition, and the status to publish.
type AdminTierFinding struct {
	Reason  string
	Message string
	Status  v1alpha1.AdminTierStatus
	// Latency is the Admin-tier Deny's enforcement latency; nil when none was measured.
	Latency *time.Duration
}

// Enforced reports whether the dataplane enforces both tiers' Deny.
func (f AdminTierFinding) Enforced() bool { return f.Reason == v1alpha1.ReasonEnforced }

// adminTierFinding is nil when the test skips the admin tier.
func (m *Machine) adminTierFinding() *AdminTierFinding {
	if m.AdminTier == TierSkip {
		return nil
	}
	t := m.tiers
	f := &AdminTierFinding{Status: v1alpha1.AdminTierStatus{Admin: t.admin, Baseline: t.baseline}}
	if f.Status.Admin == "" {
		f.Status.Admin, f.Status.Baseline = v1alpha1.Unknown, v1alpha1.Unknown
	}
	if t.measured {
		latency := t.latency
		f.Latency = &latency
		ms := int32(latency.Milliseconds())
		f.Status.EnforcementLatencyMilliseconds = &ms
	}
	f.Reason, f.Message = m.tierVerdict()
	return f
}

func (m *Machine) tierVerdict() (string, string) {
	const untrusted = "ClusterNetworkPolicies on this cluster are stored but do not protect anything: traffic they deny gets through."
	t := m.tiers
	switch {
	case m.AdminTier == TierNotServed:
		return v1alpha1.ReasonNotServed, "ClusterNetworkPolicy (policy.networking.k8s.io/v1beta1) is not served on this cluster, so the canary did not check the admin tier. Install the CRDs of sigs.k8s.io/network-policy-api and a dataplane that implements them to check it."
	case m.failure != "":
		return v1alpha1.ReasonCanaryFailed, fmt.Sprintf("The canary could not run: %s. Whether this cluster enforces ClusterNetworkPolicy is unknown.", m.failure)
	case t.failure != "":
		return v1alpha1.ReasonCanaryFailed, fmt.Sprintf("The canary's admin-tier phases could not run: %s. Whether this cluster enforces ClusterNetworkPolicy is unknown.", t.failure)
	case t.admin == v1alpha1.NotEnforced && t.baseline == v1alpha1.NotEnforced:
		return v1alpha1.ReasonNotEnforced, fmt.Sprintf("The dataplane does not enforce ClusterNetworkPolicy: neither an Admin-tier Deny over a NetworkPolicy allow nor a Baseline-tier Deny under no NetworkPolicy stopped the canary's traffic within %s. %s", m.Timeout, untrusted)
	case t.admin == v1alpha1.NotEnforced:
		return v1alpha1.ReasonAdminTierNotEnforced, fmt.Sprintf("The Admin tier of ClusterNetworkPolicy is not enforced: an Admin-tier Deny did not override a NetworkPolicy allow within %s. The Baseline tier is enforced.", m.Timeout)
	case t.baseline == v1alpha1.NotEnforced:
		return v1alpha1.ReasonBaselineTierNotEnforced, fmt.Sprintf("The Baseline tier of ClusterNetworkPolicy is not enforced: a Baseline-tier Deny did not stop traffic that no NetworkPolicy selects within %s. The Admin tier is enforced.", m.Timeout)
	}
	return v1alpha1.ReasonEnforced, fmt.Sprintf("ClusterNetworkPolicy is enforced: an Admin-tier Deny overrode a NetworkPolicy allow %s after it was created, and a Baseline-tier Deny stopped traffic that no NetworkPolicy selects.", t.latency.Round(time.Millisecond))
}
