package trigger

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const ms = time.Millisecond

var timing = Timing{Quiet: 500 * ms, MaxDelay: 2 * time.Second, MinInterval: 30 * time.Second, PredictEvery: time.Second}

func deleted(name string) Change {
	return Change{Cause: CausePolicy, Namespace: "ns", Name: name, OldPolicy: policy("ns", name, matching())}
}

func TestRunAt(t *testing.T) {
	cases := []struct {
		name    string
		changes []time.Duration // when each change came
		lastRun time.Time       // when the last run started; zero: none
		want    time.Time
	}{
		{"one change runs after the quiet time", []time.Duration{0}, time.Time{}, at(500 * ms)},
		{"a burst runs once it is over", []time.Duration{0, 100 * ms, 300 * ms, 700 * ms}, time.Time{}, at(1200 * ms)},
		{"a burst that goes on runs at most MaxDelay after its first change", []time.Duration{0, 400 * ms, 800 * ms, 1200 * ms, 1600 * ms, 2000 * ms}, time.Time{}, at(2 * time.Second)},
		{"never sooner than MinInterval after the last run started", []time.Duration{0}, at(-10 * time.Second), at(20 * time.Second)},
		{"a run long ago does not delay it", []time.Duration{0}, at(-time.Hour), at(500 * ms)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s State
			for _, d := range c.changes {
				s.Observe(deleted("p"), at(d))
			}
			got, ok := s.RunAt(timing, c.lastRun)
			if !ok || !got.Equal(c.want) {
				t.Errorf("RunAt = %s, %v; want %s", got.Sub(t0), ok, c.want.Sub(t0))
			}
		})
	}
	var idle State
	if _, ok := idle.RunAt(timing, time.Time{}); ok {
		t.Error("RunAt with no change waiting must say no run")
	}
}

// TestBurstBecomesAtMostTwoRuns drives the state as the controller does: fifty changes,
// one every 80 ms (4 s), while runs take 3 s: the first run starts when the burst is 2 s old,
// the changes that come during it make one more run, and nothing else.
func TestBurstBecomesAtMostTwoRuns(t *testing.T) {
	var s State
	var runs []time.Time
	active, lastStart := false, time.Time{}
	var runEnds time.Time
	changes := 50
	for now := t0; now.Before(at(time.Minute)); now = now.Add(10 * ms) {
		if i := int(now.Sub(t0) / (80 * ms)); i < changes && now.Sub(t0)%(80*ms) == 0 {
			s.Observe(deleted("p"), now)
		}
		if active && !now.Before(runEnds) {
			active = false
		}
		if active {
			continue
		}
		if due, ok := s.RunAt(Timing{Quiet: 500 * ms, MaxDelay: 2 * time.Second, MinInterval: 2 * time.Second}, lastStart); ok && !now.Before(due) {
			s.Take()
			runs = append(runs, now)
			active, lastStart, runEnds = true, now, now.Add(3*time.Second)
		}
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs (%v), want 2: one for the burst, one for the changes during it", len(runs), runs)
	}
	if first := runs[0].Sub(t0); first != 2*time.Second {
		t.Errorf("the first run started %s after the first change, want MaxDelay (2s)", first)
	}
}

func TestPredictAt(t *testing.T) {
	var s State
	if _, ok := s.PredictAt(timing); ok {
		t.Fatal("nothing to predict without a change")
	}
	s.Observe(deleted("a"), at(0))
	if got, ok := s.PredictAt(timing); !ok || !got.Equal(at(0)) {
		t.Fatalf("the first change is predicted at once: got %s %v", got.Sub(t0), ok)
	}
	if since := s.Predicted(at(50 * ms)); !since.Equal(t0) {
		t.Errorf("the prediction covers the change of %s, want t0", since.Sub(t0))
	}
	if _, ok := s.PredictAt(timing); ok {
		t.Fatal("a change already in the predictions needs no other")
	}
	s.Observe(deleted("b"), at(100*ms))
	if got, ok := s.PredictAt(timing); !ok || !got.Equal(at(1050*ms)) {
		t.Fatalf("changes that go on are predicted at most every PredictEvery: got %s %v", got.Sub(t0), ok)
	}
	s.Predicted(at(1050 * ms))
	s.Stale()
	if got, ok := s.PredictAt(timing); !ok || !got.Equal(at(2050*ms)) {
		t.Fatalf("after a run wrote its own predictions, waiting changes are predicted again: got %s %v", got.Sub(t0), ok)
	}
	p := s.Take()
	if p.Changes != 2 || !p.First.Equal(t0) || p.Describe() != "NetworkPolicy ns/b deleted and 1 more changes" {
		t.Errorf("Take = %+v (%q)", p, p.Describe())
	}
	if _, ok := s.PredictAt(timing); ok {
		t.Error("after Take nothing waits")
	}
}

func TestCausesInOrder(t *testing.T) {
	var s State
	s.Observe(Change{Cause: CausePodLabels, Namespace: "a", Name: "p"}, t0)
	s.Observe(deleted("x"), t0)
	s.Observe(Change{Cause: CausePodLabels, Namespace: "a", Name: "q"}, t0)
	if got := s.Pending.Causes; len(got) != 2 || got[0] != CausePolicy || got[1] != CausePodLabels {
		t.Errorf("causes %v, want [PolicyChange PodLabels]", got)
	}
}
