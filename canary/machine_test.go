package canary

import (
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
}

func (d dataplane) connected(p Policies) bool {
	if d.neverConnects {
		return false
	}
	return (p.Ingress || !d.ingressEnforced) && (p.Egress || !d.egressEnforced)
}

// simulate runs the machine against the dataplane on a 50 ms clock, as the client's
// timeline and the controller's polling would, and returns its finding.
func simulate(t *testing.T, d dataplane) Finding {
	t.Helper()
	start := time.Unix(1_000_000, 0)
	m := Machine{Timeout: 10 * time.Second}
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
		for _, c := range changes {
			if !now.Before(c.at.Add(d.delay)) {
				applied = c.policies
			}
		}
		obs := v1alpha1.ObservedRefused
		if d.connected(applied) {
			obs = v1alpha1.ObservedConnected
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
			v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced, 4, [2]time.Duration{300 * time.Millisecond, 400 * time.Millisecond}},
		{"enforcing at once", dataplane{ingressEnforced: true, egressEnforced: true},
			v1alpha1.ReasonEnforced, v1alpha1.Enforced, v1alpha1.Enforced, 4, [2]time.Duration{0, 100 * time.Millisecond}},
		{"no enforcement", dataplane{},
			v1alpha1.ReasonNotEnforced, v1alpha1.NotEnforced, v1alpha1.NotEnforced, 2, [2]time.Duration{-1, -1}},
		{"ingress only", dataplane{ingressEnforced: true, delay: 200 * time.Millisecond},
			v1alpha1.ReasonEgressNotEnforced, v1alpha1.Enforced, v1alpha1.NotEnforced, 4, [2]time.Duration{200 * time.Millisecond, 300 * time.Millisecond}},
		{"egress only", dataplane{egressEnforced: true, delay: 200 * time.Millisecond},
			v1alpha1.ReasonIngressNotEnforced, v1alpha1.NotEnforced, v1alpha1.Enforced, 4, [2]time.Duration{200 * time.Millisecond, 300 * time.Millisecond}},
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
		{true, true, 0, false}:  "NetworkPolicy is enforced for ingress and egress",
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

// Each step asks for the allows its phase needs, and the one-sided phases never follow
// each other without a step with no allow in between.
func TestMachinePolicySequence(t *testing.T) {
	var m Machine
	start := time.Unix(0, 0)
	m.Start(start)
	m.Timeout = 5 * time.Second
	want := []Policies{{Ingress: true, Egress: true}, {}, {Ingress: true}, {}, {Egress: true}}
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
