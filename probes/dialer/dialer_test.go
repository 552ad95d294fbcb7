package dialer

import (
	"context"
	"testing"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	listening := int32(tcpServer(t))
	tests := []struct {
		name         string
		check        probes.Check
		attempts     int
		want         v1alpha1.Observation
		wantAttempts int
	}{
		{"allow that connects stops at once", probes.Check{Kind: probes.KindTCP, Host: loopback, Port: listening}, 3, v1alpha1.ObservedConnected, 1},
		{"deny that connects uses every attempt", probes.Check{Kind: probes.KindTCP, Host: loopback, Port: listening, Deny: true}, 3, v1alpha1.ObservedConnected, 3},
		{"deny that is refused stops at once", probes.Check{Kind: probes.KindTCP, Host: loopback, Port: int32(freePort(t, "tcp")), Deny: true}, 3, v1alpha1.ObservedRefused, 1},
		{"zero attempts means one", probes.Check{Kind: probes.KindTCP, Host: loopback, Port: listening, Deny: true}, 0, v1alpha1.ObservedConnected, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProber(Config{Timeout: testTimeout, Attempts: tt.attempts, NameServers: []string{fakeDNS(t)}})
			pauses := 0
			p.pause = func(context.Context, time.Duration) bool { pauses++; return true }
			got := p.run(t.Context(), []probes.Check{tt.check})[0]
			if got.Observation != tt.want || got.Attempts != tt.wantAttempts || pauses != tt.wantAttempts-1 {
				t.Errorf("got %s after %d attempts and %d pauses, want %s after %d", got.Observation, got.Attempts, pauses, tt.want, tt.wantAttempts)
			}
		})
	}
}

// An allowed edge whose server comes up while the probe waits connects on the next attempt.
func TestRetryUntilListening(t *testing.T) {
	t.Parallel()
	port := freePort(t, "tcp")
	p := newProber(Config{Timeout: testTimeout, Attempts: 3, NameServers: []string{fakeDNS(t)}})
	p.pause = func(context.Context, time.Duration) bool { return listenLate(t, port) }
	got := p.run(t.Context(), []probes.Check{{Kind: probes.KindTCP, Host: loopback, Port: int32(port)}})[0]
	if got.Observation != v1alpha1.ObservedConnected || got.Attempts != 2 {
		t.Errorf("got %+v, want Connected on attempt 2", got)
	}
}

// Cancelling the run stops the retries without waiting out the backoff.
func TestCancelStopsRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	p := newProber(Config{Timeout: testTimeout, Attempts: 5, Backoff: time.Hour, NameServers: []string{fakeDNS(t)}})
	p.pause = func(ctx context.Context, d time.Duration) bool {
		cancel()
		return wait(ctx, d)
	}
	got := p.run(ctx, []probes.Check{{Kind: probes.KindTCP, Host: loopback, Port: int32(tcpServer(t)), Deny: true}})[0]
	if got.Attempts != 1 {
		t.Errorf("got %+v, want 1 attempt", got)
	}
	cancelled := p.run(ctx, []probes.Check{{Kind: probes.KindUDP, Host: loopback, Port: int32(udpServer(t, false)), Deny: true}})[0]
	if cancelled.Observation != v1alpha1.ObservedError {
		t.Errorf("check in a cancelled run: %+v, want Error", cancelled)
	}
}

func TestRunIsConcurrentAndOrdered(t *testing.T) {
	t.Parallel()
	silent, echo := int32(udpServer(t, false)), int32(udpServer(t, true))
	checks := make([]probes.Check, 50)
	for i := range checks {
		checks[i] = probes.Check{Kind: probes.KindUDP, Host: loopback, Port: silent}
	}
	checks[17].Port = echo
	start := time.Now()
	got := Run(t.Context(), Config{Timeout: testTimeout, Attempts: 1, NameServers: []string{fakeDNS(t)}}, checks)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("50 checks of 300ms took %s: they did not overlap", elapsed)
	}
	for i, r := range got {
		want := v1alpha1.ObservedTimeout
		if i == 17 {
			want = v1alpha1.ObservedConnected
		}
		if r.Observation != want || r.Attempts != 1 || r.Latency <= 0 {
			t.Errorf("check %d: %+v, want %s after 1 attempt", i, r, want)
		}
	}
}
