package controllers

import (
	"context"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
)

// snapshotTTL is how long one read of the cluster's policies serves the runs that
// complete after it: tests that shared probe pods complete together, and would
// otherwise each read the same namespaces.
const snapshotTTL = 2 * time.Second

// snapshots shares the model's view of the cluster between runs that complete together.
// A run only uses a view read after it started, and never one older than snapshotTTL.
type snapshots struct {
	mu    sync.Mutex
	views map[string]snapshot // by namespaces
}

type snapshot struct {
	at      time.Time
	cluster *netpol.Cluster
}

// get returns a view of the namespaces read no earlier than since.
func (s *snapshots) get(ctx context.Context, r client.Reader, namespaces []string, since, now time.Time) (*netpol.Cluster, error) {
	key := strings.Join(namespaces, ",")
	if view, ok := s.fresh(key, since, now); ok {
		return view.cluster, nil
	}
	cluster, err := prediction.SnapshotOf(ctx, r, namespaces)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, view := range s.views {
		if now.Sub(view.at) >= snapshotTTL {
			delete(s.views, k)
		}
	}
	if s.views == nil {
		s.views = map[string]snapshot{}
	}
	s.views[key] = snapshot{at: now, cluster: cluster}
	return cluster, nil
}

func (s *snapshots) fresh(key string, since, now time.Time) (snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	view, ok := s.views[key]
	return view, ok && !view.at.Before(since) && now.Sub(view.at) < snapshotTTL
}
