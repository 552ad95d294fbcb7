package policykinds

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// Source says what the cluster serves now.
type Source interface {
	Served(ctx context.Context) (Served, error)
}

// Fixed is a Source that always answers the same: for a cluster whose APIs are known.
type Fixed Served

// Served returns the fixed answer.
func (f Fixed) Served(context.Context) (Served, error) { return Served(f), nil }

// discoveryTTL is how long an answer of the discovery API is reused: a CRD installed
// just before a test counts within this long, and runs completing together share one
// answer.
const discoveryTTL = 10 * time.Second

// Discoverer asks the cluster's discovery API, at most once per discoveryTTL.
type Discoverer struct {
	client discovery.DiscoveryInterface
	now    func() time.Time

	mu     sync.Mutex
	at     time.Time
	served Served
}

// NewDiscoverer asks the cluster at cfg.
func NewDiscoverer(cfg *rest.Config) (*Discoverer, error) {
	c, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a discovery client: %w", err)
	}
	return &Discoverer{client: c, now: time.Now}, nil
}

// Served says what the cluster serves, from an answer at most discoveryTTL old. A group
// whose discovery failed (an aggregated API that is down) is left out; the rest stands.
func (d *Discoverer) Served(context.Context) (Served, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if !d.at.IsZero() && now.Sub(d.at) < discoveryTTL {
		return d.served, nil
	}
	_, lists, err := d.client.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return Served{}, fmt.Errorf("asking the discovery API which policy kinds are served: %w", err)
	}
	d.served, d.at = Classify(lists), now
	return d.served, nil
}

// Forget drops the answer, so that the next question asks the cluster: a CRD came or
// went, and with it perhaps a policy kind.
func (d *Discoverer) Forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at = time.Time{}
}
