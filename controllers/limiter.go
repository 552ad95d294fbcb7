package controllers

import (
	"sync"
	"time"
)

// PodLimiter caps the probe pods running at once across all tests. The cache lags the
// pods just created, so the limiter also counts its own recent reservations until the
// cache shows them.
type PodLimiter struct {
	max    int
	mu     sync.Mutex
	recent map[string]time.Time
	now    func() time.Time
}

// recentGrace is how long a reservation counts without the cache showing its pod.
const recentGrace = 30 * time.Second

// NewPodLimiter allows at most max probe pods at once; max < 1 means no limit.
func NewPodLimiter(max int) *PodLimiter {
	return &PodLimiter{max: max, recent: map[string]time.Time{}, now: time.Now}
}

// Reserve returns the prefix of names that may be created now, given the probe pods the
// cache knows (seen) and how many of them are still running, and counts them as started.
func (l *PodLimiter) Reserve(names []string, seen map[string]bool, running int) []string {
	if l.max < 1 {
		return names
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for name, at := range l.recent {
		if seen[name] || now.Sub(at) > recentGrace {
			delete(l.recent, name)
		}
	}
	free := max(l.max-running-len(l.recent), 0)
	granted := names[:min(free, len(names))]
	for _, name := range granted {
		l.recent[name] = now
	}
	return granted
}

// Release returns a reservation whose pod was not created.
func (l *PodLimiter) Release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.recent, name)
}
