package controllers

import (
	"time"

	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/probes"
)

// Options configure the reconciler and its probe-pod pool. DefaultOptions holds their
// defaults: the manager's and the gate's flags start from it, and Setup takes from it
// every field whose zero value would not work.
type Options struct {
	// Pod holds the manager-wide probe pod settings.
	Pod probes.PodSettings
	// Plan tunes planning.
	Plan probes.PlanOptions
	// MaxChecksPerPod is the most connections one probe pod makes before another is added.
	MaxChecksPerPod int
	// MaxConcurrentProbePods caps probe pods across all tests; 0 means no cap.
	MaxConcurrentProbePods int
	// PodStartTimeout bounds how long a probe pod may take to start.
	PodStartTimeout time.Duration
	// MaxConcurrentReconciles is the number of workers.
	MaxConcurrentReconciles int
	// CanaryNamespace is where canaries run unless a test names another namespace.
	CanaryNamespace string
	// CreateCanaryNamespace lets the reconciler create a missing canary namespace.
	CreateCanaryNamespace bool
	// WaveWindow is how long runs that start together are gathered so that they share
	// probe pods.
	WaveWindow time.Duration
}

// DefaultOptions are the settings of a manager that is told nothing else.
func DefaultOptions() Options {
	return Options{
		Pod:                     probes.PodSettings{Settle: 2 * time.Second, MaxSettle: 10 * time.Second},
		Plan:                    probes.PlanOptions{ClusterDomain: "cluster.local"},
		MaxChecksPerPod:         100,
		MaxConcurrentProbePods:  20,
		PodStartTimeout:         2 * time.Minute,
		MaxConcurrentReconciles: 16,
		CanaryNamespace:         "netconform-system",
		WaveWindow:              probepool.DefaultWaveWindow,
	}
}

// withDefaults fills the fields whose zero value would not work from DefaultOptions.
// Zero settle times and a zero cap on probe pods mean none.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Plan.ClusterDomain == "" {
		o.Plan.ClusterDomain = d.Plan.ClusterDomain
	}
	if o.MaxChecksPerPod <= 0 {
		o.MaxChecksPerPod = d.MaxChecksPerPod
	}
	if o.PodStartTimeout <= 0 {
		o.PodStartTimeout = d.PodStartTimeout
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = d.MaxConcurrentReconciles
	}
	if o.CanaryNamespace == "" {
		o.CanaryNamespace = d.CanaryNamespace
	}
	if o.WaveWindow <= 0 {
		o.WaveWindow = d.WaveWindow
	}
	return o
}
