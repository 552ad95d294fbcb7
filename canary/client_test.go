package canary

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/netconform/netconform/api/v1alpha1"
)

// syncBuffer is an io.Writer the test can read while Watch writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) timeline(t *testing.T) []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	tl, err := ParseTimeline(strings.NewReader(s.b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// The client logs a change only when what its dials see changes, timed by the first
// dial that saw it: closing the server is seen within an interval or two.
func TestWatchLogsEachChangeOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, ln.Addr().String(), 20*time.Millisecond, time.Second, &out) }()

	waitFor(t, "a first change", func() bool { return len(out.timeline(t)) == 1 })
	closedAt := time.Now()
	_ = ln.Close()
	waitFor(t, "the refusal", func() bool { return len(out.timeline(t)) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tl := out.timeline(t)
	if len(tl) != 2 || tl[0].Observed != v1alpha1.ObservedConnected || tl[1].Observed != v1alpha1.ObservedRefused {
		t.Fatalf("timeline = %+v, want Connected then Refused", tl)
	}
	if lag := tl[1].At.Sub(closedAt); lag < -20*time.Millisecond || lag > 100*time.Millisecond {
		t.Errorf("the refusal is timed %s after the server closed, want within the 100 ms precision", lag)
	}
}

func TestParseTimeline(t *testing.T) {
	log := "starting\n" + FormatChange(Change{At: time.Unix(0, 1500), Observed: v1alpha1.ObservedConnected}) + "\n" +
		FormatChange(Change{At: time.Unix(2, 0), Observed: v1alpha1.ObservedTimeout}) + "\n"
	tl, err := ParseTimeline(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 2 || tl[0].At.UnixNano() != 1500 || !tl[0].Connected() || tl[1].Connected() || tl[1].Observed != v1alpha1.ObservedTimeout {
		t.Fatalf("timeline = %+v", tl)
	}
	if _, err := ParseTimeline(strings.NewReader("canary soon Connected\n")); err == nil || !strings.Contains(err.Error(), "nanoseconds") {
		t.Fatalf("a malformed line gave %v", err)
	}
}
