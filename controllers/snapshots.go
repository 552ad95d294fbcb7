package controllers

import (
	"context"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
)

// snapshots shares the model's view of the cluster between runs that complete together:
// tests that shared probe pods would otherwise each read the same namespaces. A run only
// uses a view read after it started.
type snapshots struct {
	recent recentReads[*netpol.Cluster] // by namespaces
}

// get returns a view of the namespaces read no earlier than since.
func (s *snapshots) get(ctx context.Context, r client.Reader, namespaces []string, since, now time.Time) (*netpol.Cluster, error) {
	key := strings.Join(namespaces, ",")
	if cluster, ok := s.recent.lookup(key, since, now); ok {
		return cluster, nil
	}
	cluster, err := prediction.SnapshotOf(ctx, r, namespaces)
	if err != nil {
		return nil, err
	}
	s.recent.store(key, cluster, now)
	return cluster, nil
}
