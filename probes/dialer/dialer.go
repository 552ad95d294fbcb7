// Package dialer is what runs inside a probe pod: it makes each check's TCP handshake,
// UDP exchange or DNS look-up, retries while the outcome differs from the expectation,
// and reports how every check ended.
package dialer

import (
	"context"
	"sync"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

const (
	// maxInFlight lets every check of a pod run at once, so a pod ends within its deadline;
	// at most MaxChecksPerPod sockets stay well below a pod's file limit.
	maxInFlight       = probes.MaxChecksPerPod
	defaultResolvConf = "/etc/resolv.conf"
	defaultBackoff    = probes.BaseBackoff
	defaultTimeout    = 2 * time.Second
	// settleBackoff is the first pause while a check waits for the dataplane to agree
	// with the policies; it doubles up to maxSettleBackoff. Retrying a denied check
	// often would spend the node's rate-limited ICMP rejects that other checks wait for.
	settleBackoff    = 100 * time.Millisecond
	maxSettleBackoff = time.Second
)

// Config tunes how checks are made.
type Config struct {
	// Timeout bounds each attempt's connect, UDP reply wait and DNS query.
	Timeout time.Duration
	// Attempts is how often a check is tried while it differs from its expectation; at least 1.
	Attempts int
	// NameServers are "ip:port" addresses; empty means those in ResolvConf.
	NameServers []string
	// ResolvConf is read when NameServers is empty; default /etc/resolv.conf.
	ResolvConf string
	// Backoff is the first pause between attempts, doubling after each; default probes.BaseBackoff.
	Backoff time.Duration
	// Settle is how long a check that carries no policy verdict waits before its first
	// attempt, for the enforcer to program this new pod.
	Settle time.Duration
	// MaxSettle is how long after the start a check that carries a policy verdict is
	// retried while the dataplane disagrees with it: the enforcer may not have
	// programmed this new pod yet. It starts at once.
	MaxSettle time.Duration
}

// prober holds what every check of one Run shares.
type prober struct {
	timeout  time.Duration
	attempts int
	backoff  time.Duration
	// settled and maxSettled are when checks without and with a policy verdict stop
	// waiting for the enforcer.
	settled, maxSettled time.Time
	resolver            *resolver
	// resolverErr is why no name server is known; it fails only checks that need one.
	resolverErr error
	// pause waits between attempts and reports whether to go on, and now reads the
	// clock; tests replace both.
	pause func(ctx context.Context, d time.Duration) bool
	now   func() time.Time
}

func newProber(cfg Config) *prober {
	p := &prober{timeout: cfg.Timeout, attempts: cfg.Attempts, backoff: cfg.Backoff, pause: wait, now: time.Now}
	p.settled, p.maxSettled = p.now().Add(cfg.Settle), p.now().Add(cfg.MaxSettle)
	if p.timeout <= 0 {
		p.timeout = defaultTimeout
	}
	p.attempts = max(p.attempts, 1)
	if p.backoff <= 0 {
		p.backoff = defaultBackoff
	}
	servers, err := nameServers(cfg)
	p.resolver, p.resolverErr = &resolver{servers: servers, timeout: p.timeout}, err
	return p
}

// Run runs all checks concurrently and returns their results in check order.
func Run(ctx context.Context, cfg Config, checks []probes.Check) []probes.Result {
	return newProber(cfg).run(ctx, checks)
}

func (p *prober) run(ctx context.Context, checks []probes.Check) []probes.Result {
	results := make([]probes.Result, len(checks))
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i, c := range checks {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			results[i] = p.check(ctx, c)
		})
	}
	wg.Wait()
	return results
}

// check tries c until it behaves as expected, its attempts run out or ctx ends. A new
// pod is under no policy until the enforcer has programmed it, and the enforcer says
// nothing when it is done: a check with a policy verdict starts at once and is retried
// while the dataplane disagrees with the policies, until MaxSettle; one without waits
// Settle first.
func (p *prober) check(ctx context.Context, c probes.Check) probes.Result {
	settling := c.Policy != ""
	if wait := p.settled.Sub(p.now()); !settling && wait > 0 {
		p.pause(ctx, wait)
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		r := p.attempt(ctx, c)
		r.Latency, r.Attempts = time.Since(start), attempt
		if err := ctx.Err(); err != nil && r.Observation != v1alpha1.ObservedConnected {
			// A cancelled probe saw nothing about the network.
			r.Observation, r.Message = v1alpha1.ObservedError, "probe stopped: "+err.Error()
			return r
		}
		if settling {
			if c.Policy.Agrees(r.Observation) {
				return r
			}
			if p.waitForEnforcer(ctx, attempt) {
				continue
			}
			settling = false // the dataplane disagrees with the policies: judge by the edge
		}
		if expected(c, r.Observation) || attempt >= p.attempts || !p.pause(ctx, probes.Backoff(p.backoff, attempt)) {
			return r
		}
	}
}

// waitForEnforcer pauses after the given attempt of a check whose dataplane disagrees
// with the policies, and reports whether to try again: false once MaxSettle has passed
// or ctx has ended.
func (p *prober) waitForEnforcer(ctx context.Context, attempt int) bool {
	left := p.maxSettled.Sub(p.now())
	pause := min(settleBackoff<<min(attempt-1, 4), maxSettleBackoff, left)
	return left > 0 && p.pause(ctx, pause)
}

// expected reports whether o is what c's edge declared, which ends the retries.
func expected(c probes.Check, o v1alpha1.Observation) bool {
	if !c.Deny {
		return o == v1alpha1.ObservedConnected
	}
	switch o {
	case v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout, v1alpha1.ObservedUnreachable:
		return true
	}
	return false
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
