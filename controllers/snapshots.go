package controllers

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/prediction"
)

// snapshots shares the model's view of the cluster between runs planned or completed
// together: tests that share probe pods would otherwise each read the same namespaces.
// A run only uses a view read after it started, and after the last change to a
// NetworkPolicy that the manager saw: the start is known to the second only, and
// policies applied just before a test must count.
type snapshots struct {
	recent recentReads[*netpol.Cluster] // by namespaces
	// kinds says which policy kinds beyond NetworkPolicy the cluster serves.
	kinds policykinds.Source
	// policiesChanged is when a NetworkPolicy last changed, in Unix nanoseconds.
	policiesChanged atomic.Int64
}

// policyChanged notes that a NetworkPolicy changed at now.
func (s *snapshots) policyChanged(now time.Time) {
	s.policiesChanged.Store(now.UnixNano())
}

// get returns a view of the namespaces read no earlier than since, nor than the last
// change to a policy.
func (s *snapshots) get(ctx context.Context, r client.Reader, namespaces []string, since, now time.Time) (*netpol.Cluster, error) {
	if changed := time.Unix(0, s.policiesChanged.Load()); changed.After(since) {
		since = changed
	}
	return s.recent.get(strings.Join(namespaces, ","), since, now, func() (*netpol.Cluster, error) {
		return prediction.SnapshotOf(ctx, r, s.kinds, namespaces)
	})
}
