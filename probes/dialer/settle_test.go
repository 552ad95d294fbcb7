package dialer

import (
	"context"
	"testing"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// fakeClock makes a prober's pauses advance a clock of its own instead of sleeping, and
// calls onPause, if set, with the pauses made so far.
type fakeClock struct {
	now     time.Time
	pauses  []time.Duration
	onPause func(n int) bool
}

func settlingProber(t *testing.T, cfg Config) (*prober, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)}
	cfg.Timeout, cfg.NameServers = testTimeout, []string{fakeDNS(t)}
	p := newProber(cfg)
	p.now = func() time.Time { return clock.now }
	p.settled, p.maxSettled = clock.now.Add(cfg.Settle), clock.now.Add(cfg.MaxSettle)
	p.pause = func(_ context.Context, d time.Duration) bool {
		clock.now = clock.now.Add(d)
		clock.pauses = append(clock.pauses, d)
		if clock.onPause != nil {
			return clock.onPause(len(clock.pauses))
		}
		return true
	}
	return p, clock
}

// A check the policies have a verdict on does not wait out the settle time when the
// dataplane already agrees: that is the time a new pod's checks save.
func TestPolicyVerdictThatAgreesStartsAtOnce(t *testing.T) {
	t.Parallel()
	listening, closed := int32(tcpServer(t)), int32(freePort(t, "tcp"))
	for _, c := range []probes.Check{
		{Kind: probes.KindTCP, Host: loopback, Port: listening, Policy: probes.PolicyAllows},
		{Kind: probes.KindTCP, Host: loopback, Port: closed, Deny: true, Policy: probes.PolicyDenies},
		// A policy that contradicts the edge: the dataplane agreeing with it is the answer.
		{Kind: probes.KindTCP, Host: loopback, Port: listening, Deny: true, Policy: probes.PolicyAllows},
	} {
		p, clock := settlingProber(t, Config{Attempts: 3, Settle: time.Hour, MaxSettle: time.Hour})
		got := p.run(t.Context(), []probes.Check{c})[0]
		if !c.Policy.Agrees(got.Observation) || got.Attempts != 1 || len(clock.pauses) != 0 {
			t.Errorf("check %+v: %s after %d attempts and pauses %v, want %s at once", c, got.Observation, got.Attempts, clock.pauses, c.Policy)
		}
	}
}

// An enforcer that programs the new pod late: an allowed check is refused until then, and
// connects once programmed, even past the edge's attempts. Without the verdict the
// same check fails after its 3 attempts.
func TestPolicyVerdictWaitsForALateEnforcer(t *testing.T) {
	t.Parallel()
	for _, withVerdict := range []bool{true, false} {
		port := freePort(t, "tcp")
		p, clock := settlingProber(t, Config{Attempts: 3, MaxSettle: 10 * time.Second})
		const programmedAfter = 6 // pauses
		clock.onPause = func(n int) bool { return n != programmedAfter || listenLate(t, port) }
		c := probes.Check{Kind: probes.KindTCP, Host: loopback, Port: int32(port)}
		if withVerdict {
			c.Policy = probes.PolicyAllows
		}
		got := p.run(t.Context(), []probes.Check{c})[0]
		switch {
		case withVerdict && (got.Observation != v1alpha1.ObservedConnected || got.Attempts != programmedAfter+1):
			t.Errorf("with the verdict: %s after %d attempts, want Connected after %d", got.Observation, got.Attempts, programmedAfter+1)
		case !withVerdict && (got.Observation != v1alpha1.ObservedRefused || got.Attempts != 3):
			t.Errorf("without the verdict: %s after %d attempts, want Refused after 3", got.Observation, got.Attempts)
		}
		for _, d := range clock.pauses {
			if d > maxSettleBackoff {
				t.Errorf("paused %s, more than %s, between attempts", d, maxSettleBackoff)
			}
		}
	}
}

// A dataplane that never agrees with the policies (an enforcer that enforces nothing) is
// retried until MaxSettle, and then reported as it is: a leak is never hidden.
func TestPolicyVerdictGivesUpAtMaxSettle(t *testing.T) {
	t.Parallel()
	p, clock := settlingProber(t, Config{Attempts: 3, MaxSettle: 10 * time.Second})
	start := clock.now
	c := probes.Check{Kind: probes.KindTCP, Host: loopback, Port: int32(tcpServer(t)), Deny: true, Policy: probes.PolicyDenies}
	got := p.run(t.Context(), []probes.Check{c})[0]
	if got.Observation != v1alpha1.ObservedConnected {
		t.Fatalf("got %s, want Connected", got.Observation)
	}
	if waited := clock.now.Sub(start); waited < 10*time.Second || waited > 10*time.Second+probes.MaxBackoff*3 {
		t.Errorf("gave up after %s, want MaxSettle (10s) and the edge's attempts at most", waited)
	}
	if got.Attempts < 10 {
		t.Errorf("%d attempts in 10s, want the dataplane retried throughout", got.Attempts)
	}
}

// A check the policies have no verdict on waits the settle time before its first attempt.
func TestNoVerdictWaitsTheSettleTime(t *testing.T) {
	t.Parallel()
	p, clock := settlingProber(t, Config{Attempts: 3, Settle: 2 * time.Second, MaxSettle: 10 * time.Second})
	got := p.run(t.Context(), []probes.Check{{Kind: probes.KindTCP, Host: loopback, Port: int32(tcpServer(t))}})[0]
	if got.Observation != v1alpha1.ObservedConnected || len(clock.pauses) != 1 || clock.pauses[0] != 2*time.Second {
		t.Errorf("got %s after pauses %v, want Connected after one pause of 2s", got.Observation, clock.pauses)
	}
}
