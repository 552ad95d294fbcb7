package probepool

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// unitClock is a clock the test moves by hand.
type unitClock struct{ t time.Time }

func (c *unitClock) now() time.Time              { return c.t }
func (c *unitClock) advance(d time.Duration)     { c.t = c.t.Add(d) }
func unitLimiter(max int, c *unitClock) *limiter { l := newLimiter(max); l.now = c.now; return l }

var unitNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keys turns "namespace/name" strings into the limiter's keys.
func keys(names []string) []types.NamespacedName {
	out := make([]types.NamespacedName, len(names))
	for i, n := range names {
		ns, name, _ := strings.Cut(n, "/")
		out[i] = types.NamespacedName{Namespace: ns, Name: name}
	}
	return out
}

func TestLimiterReserve(t *testing.T) {
	// step is one call of the limiter: advance the clock, release, then reserve.
	type step struct {
		advance time.Duration
		release []string
		names   []string
		seen    []string
		running int
		want    []string
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{
			name:  "under the cap everything is granted",
			max:   5,
			steps: []step{{names: []string{"ns/a", "ns/b"}, want: []string{"ns/a", "ns/b"}}},
		},
		{
			name:  "running pods count against the cap",
			max:   3,
			steps: []step{{names: []string{"ns/a", "ns/b", "ns/c"}, running: 2, want: []string{"ns/a"}}},
		},
		{
			name:  "more running than the cap grants nothing",
			max:   2,
			steps: []step{{names: []string{"ns/a"}, running: 5, want: []string{}}},
		},
		{
			name:  "nothing asked, nothing granted",
			max:   2,
			steps: []step{{names: []string{}, want: []string{}}},
		},
		{
			name: "recent reservations count until the cache shows them",
			max:  3,
			steps: []step{
				{names: []string{"ns/a", "ns/b"}, want: []string{"ns/a", "ns/b"}},
				// The cache lags: neither pod is seen yet, so only one slot is left.
				{advance: time.Second, names: []string{"ns/c", "ns/d"}, want: []string{"ns/c"}},
				{advance: time.Second, names: []string{"ns/d"}, want: []string{}},
			},
		},
		{
			name: "seen reservations stop counting: the cache accounts for them",
			max:  3,
			steps: []step{
				{names: []string{"ns/a", "ns/b", "ns/c"}, want: []string{"ns/a", "ns/b", "ns/c"}},
				// a and b are in the cache now; a still runs, b has ended.
				{advance: time.Second, names: []string{"ns/d", "ns/e"}, seen: []string{"ns/a", "ns/b"}, running: 1, want: []string{"ns/d"}},
				// Everything is seen and only d still runs.
				{advance: time.Second, names: []string{"ns/e", "ns/f", "ns/g"}, seen: []string{"ns/a", "ns/b", "ns/c", "ns/d"}, running: 1, want: []string{"ns/e", "ns/f"}},
			},
		},
		{
			name: "a seen pod is not counted twice",
			max:  2,
			steps: []step{
				{names: []string{"ns/a"}, want: []string{"ns/a"}},
				{names: []string{"ns/b", "ns/c"}, seen: []string{"ns/a"}, running: 1, want: []string{"ns/b"}},
			},
		},
		{
			name: "reservations expire after the grace",
			max:  2,
			steps: []step{
				{names: []string{"ns/a", "ns/b"}, want: []string{"ns/a", "ns/b"}},
				{advance: recentGrace, names: []string{"ns/c"}, want: []string{}},
				{advance: time.Nanosecond, names: []string{"ns/c", "ns/d", "ns/e"}, want: []string{"ns/c", "ns/d"}},
			},
		},
		{
			name: "only the old reservations expire",
			max:  2,
			steps: []step{
				{names: []string{"ns/a"}, want: []string{"ns/a"}},
				{advance: 20 * time.Second, names: []string{"ns/b"}, want: []string{"ns/b"}},
				{advance: 11 * time.Second, names: []string{"ns/c", "ns/d"}, want: []string{"ns/c"}},
				{advance: time.Second, names: []string{"ns/d"}, want: []string{}},
			},
		},
		{
			name: "release frees a slot",
			max:  2,
			steps: []step{
				{names: []string{"ns/a", "ns/b"}, want: []string{"ns/a", "ns/b"}},
				{names: []string{"ns/c"}, want: []string{}},
				{release: []string{"ns/b"}, names: []string{"ns/c", "ns/d"}, want: []string{"ns/c"}},
			},
		},
		{
			name: "releasing an unknown name is harmless",
			max:  1,
			steps: []step{
				{names: []string{"ns/a"}, want: []string{"ns/a"}},
				{release: []string{"ns/zzz"}, names: []string{"ns/b"}, want: []string{}},
			},
		},
		{
			name: "zero means unlimited",
			max:  0,
			steps: []step{
				{names: []string{"ns/a", "ns/b", "ns/c"}, running: 1000, want: []string{"ns/a", "ns/b", "ns/c"}},
				{names: []string{"ns/d"}, running: 1000, want: []string{"ns/d"}},
			},
		},
		{
			name:  "negative means unlimited",
			max:   -1,
			steps: []step{{names: []string{"ns/a", "ns/b"}, running: 7, want: []string{"ns/a", "ns/b"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &unitClock{t: unitNow}
			l := unitLimiter(tt.max, clock)
			for i, s := range tt.steps {
				clock.advance(s.advance)
				for _, name := range keys(s.release) {
					l.release(name)
				}
				seen := map[types.NamespacedName]bool{}
				for _, name := range keys(s.seen) {
					seen[name] = true
				}
				got := l.reserve(keys(s.names), seen, s.running)
				if len(got) == 0 && len(s.want) == 0 {
					continue
				}
				if !reflect.DeepEqual(got, keys(s.want)) {
					t.Fatalf("step %d: Reserve(%v, seen %v, running %d) = %v, want %v", i, s.names, s.seen, s.running, got, s.want)
				}
			}
		})
	}
}

// TestLimiterUnlimitedKeepsNoReservations: without a cap there is nothing to remember.
func TestLimiterUnlimitedKeepsNoReservations(t *testing.T) {
	l := newLimiter(0)
	l.reserve(keys([]string{"ns/a", "ns/b"}), nil, 0)
	if len(l.recent) != 0 {
		t.Errorf("recent = %v, want none", l.recent)
	}
}

// TestLimiterConcurrentReserve: concurrent workers never exceed the cap together.
func TestLimiterConcurrentReserve(t *testing.T) {
	const max, workers = 7, 20
	l := newLimiter(max)
	granted := make(chan int, workers)
	for w := range workers {
		go func() {
			names := []string{"ns/" + string(rune('a'+w)) + "-0", "ns/" + string(rune('a'+w)) + "-1"}
			granted <- len(l.reserve(keys(names), nil, 0))
		}()
	}
	total := 0
	for range workers {
		total += <-granted
	}
	if total != max {
		t.Errorf("%d pods granted in total, want %d", total, max)
	}
}
