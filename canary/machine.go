package canary

import (
	"fmt"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Phase names, in the order the canary runs them.
const (
	PhaseAllowed     = "Allowed"
	PhaseDenied      = "Denied"
	PhaseIngressOnly = "IngressAllowOnly"
	PhaseEgressOnly  = "EgressAllowOnly"
	// PhaseAllowedAgain proves the server still serves once the denials are over.
	PhaseAllowedAgain = "AllowedAgain"
	// The admin-tier phases, where ClusterNetworkPolicy is checked.
	PhaseAdminAllowed = "AdminTierAllowed"
	PhaseAdminDeny    = "AdminTierDeny"
	PhaseBaselineOpen = "BaselineTierOpen"
	PhaseBaselineDeny = "BaselineTierDeny"
)

// step is one of the machine's states: a phase, or the pause between the two one-sided
// phases, where the ingress allow must be gone before the egress allow arrives (both
// at once would let traffic through on any dataplane).
type step int

const (
	stepAllowed step = iota
	stepDenied
	stepIngressOnly
	stepReset
	stepEgressOnly
	// stepAllowedAgain puts both allows back: a client that gets through again proves
	// that its server served all along, so the denials before were the policies'.
	stepAllowedAgain
	// The admin-tier steps: each Deny starts from traffic seen to flow, so that only the
	// Deny can stop it.
	stepAdminAllowed
	stepAdminDeny
	stepBaselineOpen
	stepBaselineDeny
	stepDone
)

// policiesOf is the allow set each step runs under.
var policiesOf = map[step]Policies{
	stepAllowed:      {Ingress: true, Egress: true},
	stepDenied:       {},
	stepIngressOnly:  {Ingress: true},
	stepReset:        {},
	stepEgressOnly:   {Egress: true},
	stepAllowedAgain: {Ingress: true, Egress: true},
	// Deleting the deny-all before the allows (see Objects) never leaves it alone, so
	// the way to no NetworkPolicy passes through no deny.
	stepAdminAllowed: {Ingress: true, Egress: true},
	stepAdminDeny:    {Ingress: true, Egress: true, AdminDeny: true},
	stepBaselineOpen: {Open: true},
	stepBaselineDeny: {Open: true, BaselineDeny: true},
	stepDone:         {},
}

// Machine runs the canary's phases over the client's timeline. It is pure: the caller
// applies the policies it asks for, says when it did, and feeds it the timeline.
type Machine struct {
	// Timeout bounds each wait for the dataplane.
	Timeout time.Duration
	// AdminTier says whether the admin-tier phases run once NetworkPolicy has a finding.
	AdminTier TierCheck

	step    step
	since   time.Time // when the current step's policy change was made
	latency time.Duration
	// measured is true once the deny was seen to apply, timing the latency.
	measured bool
	phases   []v1alpha1.CanaryPhase
	ingress  v1alpha1.Enforcement
	egress   v1alpha1.Enforcement
	failure  string
	tiers    tiers
}

// Start begins the first phase at t, once the client is probing under both allows.
func (m *Machine) Start(t time.Time) {
	m.step, m.since = stepAllowed, t
	m.ingress, m.egress = v1alpha1.Unknown, v1alpha1.Unknown
	m.tiers = tiers{admin: v1alpha1.Unknown, baseline: v1alpha1.Unknown}
}

// Policies are the allows the current step needs.
func (m *Machine) Policies() Policies { return policiesOf[m.step] }

// Done reports whether the canary has a finding.
func (m *Machine) Done() bool { return m.step == stepDone }

// Advance moves the machine on with the client's timeline at time now. It returns true
// when the step changed, so the caller must apply Policies and call Changed.
func (m *Machine) Advance(timeline []Change, now time.Time) bool {
	before := m.step
	switch m.step {
	case stepAllowed:
		m.advanceAllowed(timeline, now)
	case stepDenied:
		m.advanceDenied(timeline, now)
	case stepIngressOnly, stepEgressOnly:
		m.advanceOneSided(timeline, now)
	case stepReset:
		m.advanceReset(timeline, now)
	case stepAllowedAgain:
		m.advanceAllowedAgain(timeline, now)
	case stepAdminAllowed, stepBaselineOpen:
		m.advanceFlowing(timeline, now)
	case stepAdminDeny, stepBaselineDeny:
		m.advanceTierDeny(timeline, now)
	}
	return m.step != before
}

// Changed records when the policies of the current step were put in place: the time
// just before the first write, since the dataplane cannot act on a change before it.
func (m *Machine) Changed(t time.Time) { m.since = t }

// Fail ends the canary without a finding, for faults outside the dataplane. In the
// admin-tier phases, the NetworkPolicy finding stands and the admin tier's fails. Before,
// a direction found enforced turns Unknown: the fault (a server gone) may have caused
// the denials it rests on; one found not enforced stands, since traffic got through.
func (m *Machine) Fail(why string) {
	if m.step >= stepAdminAllowed {
		m.tiers.failure = why
	} else {
		m.failure = why
		for _, d := range []*v1alpha1.Enforcement{&m.ingress, &m.egress} {
			if *d == v1alpha1.Enforced {
				*d = v1alpha1.Unknown
			}
		}
	}
	m.step = stepDone
}

// RecheckAfter is how soon the timeline is worth reading again.
func (m *Machine) RecheckAfter() time.Duration { return 200 * time.Millisecond }

// advanceAllowed waits for the client to get through under both allows. The client
// started probing before the machine did, so what counts is what it sees now.
func (m *Machine) advanceAllowed(timeline []Change, now time.Time) {
	if c, ok := current(timeline); ok && c.Connected() {
		m.record(PhaseAllowed, v1alpha1.ExpectAllow, c.Observed, fmt.Sprintf("with %s in place the client connected", policiesOf[stepAllowed]))
		m.step = stepDenied
		return
	}
	if now.Sub(m.since) >= m.Timeout {
		observed := lastObserved(timeline)
		m.record(PhaseAllowed, v1alpha1.ExpectAllow, observed, fmt.Sprintf("with %s in place the client did not connect within %s", policiesOf[stepAllowed], m.Timeout))
		m.Fail(fmt.Sprintf("with both allows in place the canary client could not reach the canary server within %s (it saw %s)", m.Timeout, orNothing(observed)))
	}
}

func (m *Machine) advanceDenied(timeline []Change, now time.Time) {
	if c, ok := firstAfter(timeline, m.since, false); ok {
		m.latency, m.measured = max(c.At.Sub(m.since), 0), true
		m.record(PhaseDenied, v1alpha1.ExpectDeny, c.Observed, fmt.Sprintf("%s after the allows were removed the client saw %s", m.latency.Round(time.Millisecond), c.Observed))
		m.step = stepIngressOnly
		return
	}
	if now.Sub(m.since) >= m.Timeout {
		m.record(PhaseDenied, v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, fmt.Sprintf("the client still connected %s after the allows were removed", m.Timeout))
		m.ingress, m.egress = v1alpha1.NotEnforced, v1alpha1.NotEnforced
		m.networkPolicyFound()
	}
}

// advanceOneSided watches a phase with one half of the allow: an enforcing dataplane
// keeps denying. If traffic gets through, the other direction is not enforced. The
// watch lasts twice the measured enforcement latency plus a second, so a dataplane
// that applies an allow as fast as it applied the deny is caught.
func (m *Machine) advanceOneSided(timeline []Change, now time.Time) {
	name, unenforced, other := PhaseIngressOnly, &m.egress, "egress"
	if m.step == stepEgressOnly {
		name, unenforced, other = PhaseEgressOnly, &m.ingress, "ingress"
	}
	if c, ok := firstAfter(timeline, m.since, true); ok {
		*unenforced = v1alpha1.NotEnforced
		m.record(name, v1alpha1.ExpectDeny, c.Observed, fmt.Sprintf("with %s the client connected %s after the change: %s is not enforced", policiesOf[m.step], max(c.At.Sub(m.since), 0).Round(time.Millisecond), other))
		m.nextAfterOneSided()
		return
	}
	if hold := m.hold(); now.Sub(m.since) >= hold {
		*unenforced = v1alpha1.Enforced
		m.record(name, v1alpha1.ExpectDeny, lastObserved(timeline), fmt.Sprintf("with %s the client stayed denied for %s: %s is enforced", policiesOf[m.step], hold.Round(time.Millisecond), other))
		m.nextAfterOneSided()
	}
}

func (m *Machine) nextAfterOneSided() {
	if m.step == stepIngressOnly {
		m.step = stepReset
		return
	}
	m.step = stepAllowedAgain
}

// advanceAllowedAgain waits for the client to get through under both allows again; if
// it does not, the server may have stopped serving during the phases, and their denials
// say nothing.
func (m *Machine) advanceAllowedAgain(timeline []Change, now time.Time) {
	if c, ok := current(timeline); ok && c.Connected() {
		m.record(PhaseAllowedAgain, v1alpha1.ExpectAllow, c.Observed, fmt.Sprintf("with %s back in place the client connected again", policiesOf[stepAllowedAgain]))
		m.networkPolicyFound()
		return
	}
	if now.Sub(m.since) >= m.Timeout {
		observed := lastObserved(timeline)
		m.record(PhaseAllowedAgain, v1alpha1.ExpectAllow, observed, fmt.Sprintf("with %s back in place the client did not connect within %s", policiesOf[stepAllowedAgain], m.Timeout))
		m.Fail(fmt.Sprintf("with both allows back in place the canary client could not reach the canary server again within %s (it saw %s): the server may have stopped serving, so the denials before say nothing", m.Timeout, orNothing(observed)))
	}
}

// networkPolicyFound moves on once NetworkPolicy has a finding: to the admin tier, or
// to the end.
func (m *Machine) networkPolicyFound() {
	m.step = stepDone
	if m.AdminTier == TierRun {
		m.step = stepAdminAllowed
	}
}

// advanceReset waits, with no allow, until the client is denied again and for as long
// as the deny took to apply, so the ingress allow is gone before the egress one lands.
func (m *Machine) advanceReset(timeline []Change, now time.Time) {
	settled := true
	if m.egress == v1alpha1.NotEnforced { // traffic flowed: wait to see it stop
		_, settled = firstAfter(timeline, m.since, false)
	}
	if (settled && now.Sub(m.since) >= m.pause()) || now.Sub(m.since) >= m.Timeout {
		m.step = stepEgressOnly
	}
}

func (m *Machine) hold() time.Duration { return min(2*m.latency+time.Second, m.Timeout) }

func (m *Machine) pause() time.Duration { return max(2*m.latency, 500*time.Millisecond) }

func (m *Machine) record(name string, expected v1alpha1.Expectation, observed v1alpha1.Observation, message string) {
	m.phases = append(m.phases, v1alpha1.CanaryPhase{Name: name, Expected: expected, Observed: observed, Message: message})
}

func lastObserved(timeline []Change) v1alpha1.Observation {
	if c, ok := current(timeline); ok {
		return c.Observed
	}
	return ""
}

func orNothing(o v1alpha1.Observation) string {
	if o == "" {
		return "no result yet"
	}
	return string(o)
}
