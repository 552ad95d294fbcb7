package controllers

import (
	"sync"
	"time"
)

// shareReadsFor is how long one read from the API server serves the runs after it: tests
// applied together plan, and complete, together, and would otherwise each read the same
// pods and policies.
const shareReadsFor = 2 * time.Second

// recentReads keeps values read from the API server for shareReadsFor, by key.
type recentReads[T any] struct {
	mu    sync.Mutex
	reads map[string]recentRead[T]
}

type recentRead[T any] struct {
	at    time.Time
	value T
}

// lookup returns the value read for key no earlier than since and less than
// shareReadsFor ago.
func (c *recentReads[T]) lookup(key string, since, now time.Time) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	read, ok := c.reads[key]
	return read.value, ok && !read.at.Before(since) && now.Sub(read.at) < shareReadsFor
}

// store records a read made at now and forgets the expired ones.
func (c *recentReads[T]) store(key string, value T, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, read := range c.reads {
		if now.Sub(read.at) >= shareReadsFor {
			delete(c.reads, k)
		}
	}
	if c.reads == nil {
		c.reads = map[string]recentRead[T]{}
	}
	c.reads[key] = recentRead[T]{at: now, value: value}
}
