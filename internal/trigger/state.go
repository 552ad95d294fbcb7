package trigger

import (
	"fmt"
	"slices"
	"time"
)

// Timing says how the changes that affect a test turn into predictions and runs.
type Timing struct {
	// Quiet: a triggered run starts once no change has come for this long, so that a
	// burst (kubectl apply of many policies, a rollout) becomes one run...
	Quiet time.Duration
	// MaxDelay: ...or this long after the burst's first change, whichever is sooner.
	MaxDelay time.Duration
	// MinInterval: a triggered run never starts sooner than this after the test's last
	// run started.
	MinInterval time.Duration
	// PredictEvery: the prediction is made at once for a change after a quiet moment,
	// then at most this often while changes go on.
	PredictEvery time.Duration
}

// DefaultTiming is what a manager uses unless told otherwise.
func DefaultTiming() Timing {
	return Timing{Quiet: 500 * time.Millisecond, MaxDelay: 2 * time.Second, MinInterval: 30 * time.Second, PredictEvery: time.Second}
}

// Pending are the changes that affect a test and that no run has covered yet.
type Pending struct {
	// First and Last are when the first and the last of them came.
	First, Last time.Time
	// Changes counts them.
	Changes int
	// Causes are their causes, in the order of Causes.
	Causes []Cause
	// Latest is the last of them, in words.
	Latest string
}

// Describe says what the changes were, such as "NetworkPolicy x/y deleted and 3 more
// changes".
func (p Pending) Describe() string {
	if p.Changes <= 1 {
		return p.Latest
	}
	return fmt.Sprintf("%s and %d more changes", p.Latest, p.Changes-1)
}

// State is what a test that follows changes has waiting. The controller holds one per
// test; the zero value has nothing waiting.
type State struct {
	// Pending are the changes no run has covered yet.
	Pending Pending
	// predicted is when the edges were last predicted; covered is the time up to which
	// the changes are in the status' predictions; uncovered is when the first change
	// since then came.
	predicted, covered, uncovered time.Time
}

// Observe adds a change that affects the test, seen at now.
func (s *State) Observe(c Change, now time.Time) {
	p := &s.Pending
	if p.Changes == 0 {
		p.First = now
	}
	if s.uncovered.IsZero() {
		s.uncovered = now
	}
	p.Last, p.Latest = now, c.String()
	p.Changes++
	if !slices.Contains(p.Causes, c.Cause) {
		p.Causes = append(p.Causes, c.Cause)
		slices.SortFunc(p.Causes, func(a, b Cause) int { return slices.Index(Causes, a) - slices.Index(Causes, b) })
	}
}

// PredictAt says when the edges should be predicted again, and false when every change
// is already in the predictions.
func (s *State) PredictAt(t Timing) (time.Time, bool) {
	p := s.Pending
	if p.Changes == 0 || !s.covered.Before(p.Last) {
		return time.Time{}, false
	}
	if s.predicted.IsZero() {
		return p.Last, true
	}
	return maxTime(p.Last, s.predicted.Add(t.PredictEvery)), true
}

// Predicted records that the edges were predicted from a view of the cluster read after
// now: every change seen until now is in the predictions. It returns when the first of
// the changes this prediction covers came (zero: none).
func (s *State) Predicted(now time.Time) time.Time {
	since := s.uncovered
	s.predicted, s.covered, s.uncovered = now, now, time.Time{}
	return since
}

// Stale says that the status' predictions no longer hold the changes (a run completed
// and wrote its own, read when it started): predict again if changes are waiting.
func (s *State) Stale() {
	s.covered = time.Time{}
	if s.Pending.Changes > 0 && s.uncovered.IsZero() {
		s.uncovered = s.Pending.First
	}
}

// RunAt says when a triggered run may start, and false when no change is waiting: once
// the burst is over (Quiet after its last change, at most MaxDelay after its first),
// and never sooner than MinInterval after the last run started (zero: none yet). A run
// in progress is never interrupted: the caller asks only when no run is active.
func (s *State) RunAt(t Timing, lastRunStart time.Time) (time.Time, bool) {
	p := s.Pending
	if p.Changes == 0 {
		return time.Time{}, false
	}
	at := minTime(p.Last.Add(t.Quiet), p.First.Add(t.MaxDelay))
	if !lastRunStart.IsZero() {
		at = maxTime(at, lastRunStart.Add(t.MinInterval))
	}
	return at, true
}

// Take hands the waiting changes to a run that starts now: whatever its reason (the
// changes, the schedule, a new spec), the run sees the cluster as it is after them.
// Changes that come after it wait for the next run: at most one more.
func (s *State) Take() Pending {
	p := s.Pending
	s.Pending = Pending{}
	return p
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
