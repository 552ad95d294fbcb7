package canary

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// dataplane plays a cluster for the machine: given the allows in place, it says whether
// the client gets through, and applies each change after a delay.
type dataplane struct {
	ingressEnforced, egressEnforced bool
	delay                           time.Duration
	// neverConnects is a canary server that cannot be reached at all.
	neverConnects bool
	// adminEnforced and baselineEnforced: the dataplane implements that tier's Deny.
	adminEnforced, baselineEnforced bool
	// openBlip denies the traffic for that long once the canary's NetworkPolicies are
	// all gone, as a dataplane does that removes the allows before the deny-all.
	openBlip time.Duration
	// stopsAfterPolicies is a client pod that stops once the NetworkPolicy phases end.
	stopsAfterPolicies bool
	// serverDiesAfterAllowed is a server that stops serving once the Allowed phase is
	// over, unnoticed: its client is refused from then on, whatever the policies.
	serverDiesAfterAllowed bool
}

func (d dataplane) connected(p Policies) bool {
	switch {
	case d.neverConnects:
		return false
	case p.AdminDeny && d.adminEnforced:
		return false
	case p.Open:
		return !p.BaselineDeny || !d.baselineEnforced
	}
	return (p.Ingress || !d.ingressEnforced) && (p.Egress || !d.egressEnforced)
}

// simulate runs the machine against the dataplane on a 50 ms clock, as the client's
// timeline and the controller's polling would, and returns its finding.
func simulate(t *testing.T, d dataplane) Finding {
	t.Helper()
	return simulateTiers(t, d, TierSkip)
}

// simulateTiers is simulate with the admin tier checked as tier says.
func simulateTiers(t *testing.T, d dataplane, tier TierCheck) Finding {
	t.Helper()
	start := time.Unix(1_000_000, 0)
	m := Machine{Timeout: 10 * time.Second, AdminTier: tier}
	m.Start(start)
	type change struct {
		at       time.Time
		policies Policies
	}
	changes := []change{{start.Add(-time.Hour), m.Policies()}}
	var timeline []Change
	for now := start; now.Before(start.Add(time.Minute)); now = now.Add(Interval) {
		// What the dataplane enforces now: the latest change older than its delay.
		var applied Policies
		var openedAt time.Time // when the NetworkPolicies were last all gone
		for _, c := range changes {
			if !now.Before(c.at.Add(d.delay)) {
				if c.policies.Open && !applied.Open {
					openedAt = c.at.Add(d.delay)
				}
				applied = c.policies
			}
		}
		obs := v1alpha1.ObservedRefused
		blipping := applied.Open && now.Sub(openedAt) < d.openBlip
		serverGone := d.serverDiesAfterAllowed && m.step > stepAllowed
		if d.connected(applied) && !blipping && !serverGone {
			obs = v1alpha1.ObservedConnected
		}
		if d.stopsAfterPolicies && m.step >= stepAdminAllowed {
			m.Fail("the canary client pod ns/client stopped before the canary finished")
		}
		if len(timeline) == 0 || timeline[len(timeline)-1].Observed != obs {
			timeline = append(timeline, Change{At: now, Observed: obs})
		}
		if m.Advance(timeline, now) && !m.Done() {
			changes = append(changes, change{now, m.Policies()})
			m.Changed(now)
		}
		if m.Done() {
			return m.Finding()
		}
	}
	t.Fatal("the canary did not finish within a simulated minute")
	return Finding{}
}

func TestMachineFindings(t *testing.T) {
	tests := []struct {
		name          string
		plane         dataplane
		reason        string
		ingress       v1alpha1.Enforcement
		egress        v1alpha1.Enforcement
		phases        int
		latencyWithin [2]time.Duration
	}{
		{"enforcing", dataplane{ingressEnforced: true, egressEnforced: true, delay: 300 * time.Millisecond},
			v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced, 5, [2]time.Duration{300 * time.Millisecond, 400 * time.Millisecond}},
		{"enforcing at once", dataplane{ingressEnforced: true, egressEnforced: true},
			v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced, 5, [2]time.Duration{0, 100 * time.Millisecond}},
		{"no enforcement", dataplane{},
			v1alpha1.ReasonNotEnforced, v1alpha1.NotEnforced, v1alpha1.NotEnforced, 2, [2]time.Duration{-1, -1}},
		{"ingress only", dataplane{ingressEnforced: true, delay: 200 * time.Millisecond},
			v1alpha1.ReasonEgressNotEnforced, v1alpha1.Enforced, v1alpha1.NotEnforced, 5, [2]time.Duration{200 * time.Millisecond, 300 * time.Millisecond}},
		{"egress only", dataplane{egressEnforced: true, delay: 200 * time.Millisecond},
			v1alpha1.ReasonIngressNotEnforced, v1alpha1.NotEnforced, v1alpha1.Enforced, 5, [2]time.Duration{200 * time.Millisecond, 300 * time.Millisecond}},
		{"server unreachable", dataplane{neverConnects: true},
			v1alpha1.ReasonCanaryFailed, v1alpha1.Unknown, v1alpha1.Unknown, 1, [2]time.Duration{-1, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := simulate(t, tt.plane)
			if f.Reason != tt.reason || f.Status.Ingress != tt.ingress || f.Status.Egress != tt.egress {
				t.Fatalf("finding = %s (ingress %s, egress %s), want %s (ingress %s, egress %s): %s", f.Reason, f.Status.Ingress, f.Status.Egress, tt.reason, tt.ingress, tt.egress, f.Message)
			}
			if len(f.Status.Phases) != tt.phases {
				t.Errorf("%d phases recorded, want %d: %+v", len(f.Status.Phases), tt.phases, f.Status.Phases)
			}
			if tt.latencyWithin[0] < 0 {
				if f.Latency != nil {
					t.Errorf("latency %s measured, want none", *f.Latency)
				}
				return
			}
			if f.Latency == nil || *f.Latency < tt.latencyWithin[0] || *f.Latency > tt.latencyWithin[1] {
				t.Fatalf("latency = %v, want within %v", f.Latency, tt.latencyWithin)
			}
			if ms := *f.Status.EnforcementLatencyMilliseconds; int64(ms) != f.Latency.Milliseconds() {
				t.Errorf("status latency %d ms, finding %s", ms, *f.Latency)
			}
		})
	}
}

// A one-sided phase must not end before a dataplane as slow as the measured deny latency
// could have let traffic through.
func TestMachineWatchesOneSidedPhasesLongerThanTheDenyTook(t *testing.T) {
	f := simulate(t, dataplane{ingressEnforced: true, delay: 3 * time.Second})
	if f.Reason != v1alpha1.ReasonEgressNotEnforced {
		t.Fatalf("finding = %s, want %s: a slow dataplane's leak was missed", f.Reason, v1alpha1.ReasonEgressNotEnforced)
	}
}

func TestMachineMessagesSayWhatItMeans(t *testing.T) {
	for plane, want := range map[dataplane]string{
		{}:                      "Deny verdicts on this cluster say nothing about the policies",
		{ingressEnforced: true}: "egress rules (including a default-deny egress) restrict nothing",
		{egressEnforced: true}:  "a destination's ingress rules protect nothing",
		{neverConnects: true}:   "Whether this cluster enforces NetworkPolicy is unknown",
		{ingressEnforced: true, egressEnforced: true}: "NetworkPolicy is enforced for ingress and egress",
	} {
		if f := simulate(t, plane); !strings.Contains(f.Message, want) {
			t.Errorf("%+v: message %q does not say %q", plane, f.Message, want)
		}
	}
}

func TestMachineFailsWithTheGivenReason(t *testing.T) {
	var m Machine
	m.Start(time.Now())
	m.Fail("canary pod x/y cannot start: ErrImageNeverPull")
	if !m.Done() {
		t.Fatal("a failed machine is not done")
	}
	f := m.Finding()
	if f.Reason != v1alpha1.ReasonCanaryFailed || !strings.Contains(f.Message, "ErrImageNeverPull") || f.Latency != nil {
		t.Fatalf("finding = %+v", f)
	}
}

// A server that stops serving mid-phases, unnoticed, refuses like a deny: its client not
// getting through again once both allows are back makes the finding Unknown.
func TestMachineServerGoneMidPhasesIsNotEnforced(t *testing.T) {
	f := simulate(t, dataplane{ingressEnforced: true, egressEnforced: true, serverDiesAfterAllowed: true})
	if f.Reason != v1alpha1.ReasonCanaryFailed || f.Status.Ingress != v1alpha1.Unknown || f.Status.Egress != v1alpha1.Unknown {
		t.Fatalf("finding %s (ingress %s, egress %s), want CanaryFailed with both Unknown: %s", f.Reason, f.Status.Ingress, f.Status.Egress, f.Message)
	}
	last := f.Status.Phases[len(f.Status.Phases)-1]
	if last.Name != PhaseAllowedAgain || last.Observed == v1alpha1.ObservedConnected || !strings.Contains(f.Message, "could not reach the canary server again") {
		t.Errorf("last phase %+v, message %q: want AllowedAgain not connecting, said in the message", last, f.Message)
	}
}

// A fault during the NetworkPolicy phases leaves no direction Enforced: the denials it
// rests on may be the fault's (a server gone refuses like a deny).
func TestMachineFailedMidPhasesFindsNothingEnforced(t *testing.T) {
	m := Machine{Timeout: time.Second}
	start := time.Now()
	m.Start(start)
	m.Advance([]Change{{At: start, Observed: v1alpha1.ObservedConnected}}, start)
	m.Changed(start)
	denied := []Change{{At: start, Observed: v1alpha1.ObservedConnected}, {At: start.Add(time.Millisecond), Observed: v1alpha1.ObservedRefused}}
	m.Advance(denied, start.Add(time.Millisecond)) // Denied: the deny applied
	m.Changed(start.Add(time.Millisecond))
	m.Advance(denied, start.Add(5*time.Second)) // IngressAllowOnly held: egress found enforced
	if m.egress != v1alpha1.Enforced {
		t.Fatalf("egress = %s after the ingress-only phase held, want Enforced", m.egress)
	}
	m.Fail("the canary server pod x/y went away")
	f := m.Finding()
	if f.Reason != v1alpha1.ReasonCanaryFailed || f.Status.Ingress != v1alpha1.Unknown || f.Status.Egress != v1alpha1.Unknown {
		t.Fatalf("finding %s (ingress %s, egress %s), want CanaryFailed with both Unknown", f.Reason, f.Status.Ingress, f.Status.Egress)
	}
}

// Each step asks for the allows its phase needs, and the one-sided phases never follow
// each other without a step with no allow in between.
func TestMachinePolicySequence(t *testing.T) {
	var m Machine
	start := time.Unix(0, 0)
	m.Start(start)
	m.Timeout = 5 * time.Second
	want := []Policies{{Ingress: true, Egress: true}, {}, {Ingress: true}, {}, {Egress: true}, {Ingress: true, Egress: true}}
	got := []Policies{m.Policies()}
	timeline := []Change{{At: start, Observed: v1alpha1.ObservedConnected}}
	for now := start; !m.Done(); now = now.Add(Interval) {
		if len(got) == 2 && len(timeline) == 1 {
			timeline = append(timeline, Change{At: now, Observed: v1alpha1.ObservedTimeout})
		}
		if m.Advance(timeline, now) && !m.Done() {
			got = append(got, m.Policies())
			m.Changed(now)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("policy sequence %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("policy sequence %v, want %v", got, want)
		}
	}
}

func TestMachineAdminTierFindings(t *testing.T) {
	enforcing := dataplane{ingressEnforced: true, egressEnforced: true, delay: 300 * time.Millisecond}
	both := enforcing
	both.adminEnforced, both.baselineEnforced = true, true
	adminOnly := enforcing
	adminOnly.adminEnforced = true
	baselineOnly := enforcing
	baselineOnly.baselineEnforced = true
	noPolicy := dataplane{adminEnforced: true, baselineEnforced: true}
	blip := enforcing
	blip.openBlip = 200 * time.Millisecond
	stops := enforcing
	stops.stopsAfterPolicies = true
	tests := []struct {
		name              string
		plane             dataplane
		tier              TierCheck
		reason            string
		admin, baseline   v1alpha1.Enforcement
		networkPolicy     string
		phases            int
		adminLatencyRange [2]time.Duration
	}{
		{"both tiers enforced", both, TierRun, v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced,
			v1alpha1.ReasonEnforced, 7, [2]time.Duration{300 * time.Millisecond, 400 * time.Millisecond}},
		// kube-router: NetworkPolicy enforced, ClusterNetworkPolicy stored but ignored.
		{"no tier enforced", enforcing, TierRun, v1alpha1.ReasonNotEnforced, v1alpha1.NotEnforced, v1alpha1.NotEnforced,
			v1alpha1.ReasonEnforced, 7, [2]time.Duration{-1, -1}},
		{"admin tier only", adminOnly, TierRun, v1alpha1.ReasonBaselineTierNotEnforced, v1alpha1.Enforced, v1alpha1.NotEnforced,
			v1alpha1.ReasonEnforced, 7, [2]time.Duration{300 * time.Millisecond, 400 * time.Millisecond}},
		{"baseline tier only", baselineOnly, TierRun, v1alpha1.ReasonAdminTierNotEnforced, v1alpha1.NotEnforced, v1alpha1.Enforced,
			v1alpha1.ReasonEnforced, 7, [2]time.Duration{-1, -1}},
		// The admin tier is checked even where NetworkPolicy is not enforced.
		{"tiers without NetworkPolicy", noPolicy, TierRun, v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced,
			v1alpha1.ReasonNotEnforced, 4, [2]time.Duration{0, 100 * time.Millisecond}},
		// Removing the NetworkPolicies denies for a moment: that is not the Baseline Deny.
		{"a deny on the way to no NetworkPolicy", blip, TierRun, v1alpha1.ReasonNotEnforced, v1alpha1.NotEnforced, v1alpha1.NotEnforced,
			v1alpha1.ReasonEnforced, 7, [2]time.Duration{-1, -1}},
		{"client gone in the admin-tier phases", stops, TierRun, v1alpha1.ReasonCanaryFailed, v1alpha1.Unknown, v1alpha1.Unknown,
			v1alpha1.ReasonEnforced, 5, [2]time.Duration{-1, -1}},
		{"not served", enforcing, TierNotServed, v1alpha1.ReasonNotServed, v1alpha1.Unknown, v1alpha1.Unknown,
			v1alpha1.ReasonEnforced, 5, [2]time.Duration{-1, -1}},
		{"NetworkPolicy canary failed", dataplane{neverConnects: true}, TierRun, v1alpha1.ReasonCanaryFailed, v1alpha1.Unknown, v1alpha1.Unknown,
			v1alpha1.ReasonCanaryFailed, 1, [2]time.Duration{-1, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := simulateTiers(t, tt.plane, tt.tier)
			a := f.AdminTier
			if a == nil {
				t.Fatalf("no admin-tier finding; NetworkPolicy finding %s: %s", f.Reason, f.Message)
			}
			if a.Reason != tt.reason || a.Status.Admin != tt.admin || a.Status.Baseline != tt.baseline {
				t.Fatalf("admin-tier finding = %s (admin %s, baseline %s), want %s (admin %s, baseline %s): %s; phases %+v",
					a.Reason, a.Status.Admin, a.Status.Baseline, tt.reason, tt.admin, tt.baseline, a.Message, f.Status.Phases)
			}
			if f.Reason != tt.networkPolicy {
				t.Errorf("NetworkPolicy finding = %s, want %s: %s", f.Reason, tt.networkPolicy, f.Message)
			}
			if len(f.Status.Phases) != tt.phases {
				t.Errorf("%d phases recorded, want %d: %+v", len(f.Status.Phases), tt.phases, f.Status.Phases)
			}
			if want := &a.Status; tt.tier == TierNotServed && f.Status.AdminTier != nil {
				t.Errorf("status.canary.adminTier = %+v where ClusterNetworkPolicy is not served, want none", f.Status.AdminTier)
			} else if tt.tier == TierRun && !reflect.DeepEqual(f.Status.AdminTier, want) {
				t.Errorf("status.canary.adminTier = %+v, want %+v", f.Status.AdminTier, a.Status)
			}
			if tt.adminLatencyRange[0] < 0 {
				if a.Latency != nil {
					t.Errorf("admin-tier latency %s measured, want none", *a.Latency)
				}
				return
			}
			if a.Latency == nil || *a.Latency < tt.adminLatencyRange[0] || *a.Latency > tt.adminLatencyRange[1] {
				t.Fatalf("admin-tier latency = %v, want within %v", a.Latency, tt.adminLatencyRange)
			}
		})
	}
}

func TestMachineSkipsTheAdminTier(t *testing.T) {
	f := simulate(t, dataplane{ingressEnforced: true, egressEnforced: true})
	if f.AdminTier != nil || f.Status.AdminTier != nil || len(f.Status.Phases) != 5 {
		t.Fatalf("a test that skips the admin tier got %+v, phases %+v", f.AdminTier, f.Status.Phases)
	}
}

func TestMachineAdminTierMessagesSayWhatItMeans(t *testing.T) {
	enforcing := dataplane{ingressEnforced: true, egressEnforced: true}
	for _, c := range []struct {
		plane dataplane
		tier  TierCheck
		want  string
	}{
		{enforcing, TierRun, "ClusterNetworkPolicies on this cluster are stored but do not protect anything"},
		{enforcing, TierNotServed, "policy.networking.k8s.io/v1beta1) is not served on this cluster"},
		{dataplane{neverConnects: true}, TierRun, "Whether this cluster enforces ClusterNetworkPolicy is unknown"},
	} {
		if f := simulateTiers(t, c.plane, c.tier); !strings.Contains(f.AdminTier.Message, c.want) {
			t.Errorf("%+v: message %q does not say %q", c.plane, f.AdminTier.Message, c.want)
		}
	}
}

// The Deny of each tier lands on traffic seen to flow, and the way from the Admin-tier
// Deny to the Baseline one passes through no NetworkPolicy and no ClusterNetworkPolicy.
func TestMachineAdminTierPolicySequence(t *testing.T) {
	m := Machine{Timeout: 5 * time.Second, AdminTier: TierRun}
	start := time.Unix(0, 0)
	m.Start(start)
	want := []Policies{{Ingress: true, Egress: true}, {}, {Ingress: true}, {}, {Egress: true},
		{Ingress: true, Egress: true}, {Ingress: true, Egress: true}, {Ingress: true, Egress: true, AdminDeny: true},
		{Open: true}, {Open: true, BaselineDeny: true}}
	got := []Policies{m.Policies()}
	// A dataplane that enforces NetworkPolicy only.
	timeline := []Change{{At: start, Observed: v1alpha1.ObservedConnected}}
	for now := start; !m.Done(); now = now.Add(Interval) {
		obs := v1alpha1.ObservedTimeout
		if p := m.Policies(); (p.Ingress && p.Egress) || p.Open {
			obs = v1alpha1.ObservedConnected
		}
		if timeline[len(timeline)-1].Observed != obs {
			timeline = append(timeline, Change{At: now, Observed: obs})
		}
		if m.Advance(timeline, now) && !m.Done() {
			got = append(got, m.Policies())
			m.Changed(now)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("policy sequence\n%v, want\n%v", got, want)
	}
}
