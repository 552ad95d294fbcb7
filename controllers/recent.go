package controllers

import (
	"sync"
	"time"
)

// shareReadsFor is how long one read from the API server serves the runs after it: tests
// applied together plan, and complete, together, and would otherwise each read the same
// pods and policies.
const shareReadsFor = 2 * time.Second

// recentReads keeps values read from the API server for shareReadsFor, by key, and
// makes one read for every caller that asks for a key while it is being read.
type recentReads[T any] struct {
	mu      sync.Mutex
	reads   map[string]recentRead[T]
	flights map[string]*flight[T]
	// joined, when set, is told of each caller that waits for another's read; for tests.
	joined func()
}

type recentRead[T any] struct {
	at    time.Time
	value T
}

// flight is a read in progress; done is closed when value and err are set.
type flight[T any] struct {
	at    time.Time
	done  chan struct{}
	value T
	err   error
}

// get returns the value of key read no earlier than since and less than shareReadsFor
// ago. Otherwise it waits for a read in flight that began no earlier than since, or
// makes one with read, which began at now.
func (c *recentReads[T]) get(key string, since, now time.Time, read func() (T, error)) (T, error) {
	c.mu.Lock()
	if r, ok := c.reads[key]; ok && !r.at.Before(since) && now.Sub(r.at) < shareReadsFor {
		c.mu.Unlock()
		return r.value, nil
	}
	if f, ok := c.flights[key]; ok && !f.at.Before(since) {
		if c.joined != nil {
			c.joined()
		}
		c.mu.Unlock()
		<-f.done
		return f.value, f.err
	}
	f := &flight[T]{at: now, done: make(chan struct{})}
	if c.flights == nil {
		c.flights = map[string]*flight[T]{}
	}
	c.flights[key] = f
	c.mu.Unlock()

	f.value, f.err = read()
	close(f.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	if f.err == nil {
		c.store(key, f.value, f.at, now)
	}
	return f.value, f.err
}

// store records a read made at, and forgets the expired ones; c.mu is held.
func (c *recentReads[T]) store(key string, value T, at, now time.Time) {
	for k, read := range c.reads {
		if now.Sub(read.at) >= shareReadsFor {
			delete(c.reads, k)
		}
	}
	if c.reads == nil {
		c.reads = map[string]recentRead[T]{}
	}
	c.reads[key] = recentRead[T]{at: at, value: value}
}
