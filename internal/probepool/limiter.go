package probepool

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// limiter caps the probe pods running at once across all tests. The cache lags the
// pods just created, so the limiter also counts its own recent reservations until the
// cache shows them.
type limiter struct {
	max    int
	mu     sync.Mutex
	recent map[types.NamespacedName]time.Time
	now    func() time.Time
}

// recentGrace is how long a reservation counts without the cache showing its pod.
const recentGrace = 30 * time.Second

// newLimiter allows at most max probe pods at once; max < 1 means no limit.
func newLimiter(max int) *limiter {
	return &limiter{max: max, recent: map[types.NamespacedName]time.Time{}, now: time.Now}
}

// reserve returns the prefix of names that may be created now, given the probe pods the
// cache knows (seen) and how many of them are still running, and counts them as started.
func (l *limiter) reserve(names []types.NamespacedName, seen map[types.NamespacedName]bool, running int) []types.NamespacedName {
	if l.max < 1 {
		return names
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetSettled(seen)
	free := max(l.max-running-len(l.recent), 0)
	granted := names[:min(free, len(names))]
	for _, name := range granted {
		l.recent[name] = l.now()
	}
	return granted
}

// forgetSettled drops the reservations the cache shows, or that have waited too long;
// l.mu is held.
func (l *limiter) forgetSettled(seen map[types.NamespacedName]bool) {
	now := l.now()
	for name, at := range l.recent {
		if seen[name] || now.Sub(at) > recentGrace {
			delete(l.recent, name)
		}
	}
}

// settle drops the reservations the cache now shows, so that none outlives its pod's
// appearance.
func (l *limiter) settle(seen map[types.NamespacedName]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetSettled(seen)
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent)
}

// release returns a reservation whose pod was not created.
func (l *limiter) release(name types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.recent, name)
}
