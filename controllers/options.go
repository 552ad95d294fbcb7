package controllers

import (
	"time"

	"github.com/netconform/netconform/internal/bounds"
	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/internal/trigger"
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
	// FollowChanges watches NetworkPolicies and the labels of namespaces and pods, to
	// predict and re-run the tests that ask for it (spec.rerunOn) when a change can affect
	// their edges. The gate, which runs each test once, leaves it off.
	FollowChanges bool
	// Bounds are what a test may ask of its probe pods, and where they may run; a test
	// beyond them gets no pods (see bounds.go).
	Bounds bounds.Bounds
	// Rerun times the predictions and runs that changes trigger; its MinInterval is the
	// least time between the start of a test's last run and a triggered one.
	Rerun trigger.Timing

	// OpenReports writes an OpenReports ClusterReport for each test after each run (see
	// openreports.go); it needs the CRD and the config/openreports component's RBAC.
	OpenReports bool

	// Bounds on a run's checks. A run over either makes no check: every edge is an
	// Error that names the edge, the count, the cap and the fix.
	//
	// MaxChecksPerEdge is the most checks one edge makes: a pods destination makes one
	// per ready matching pod.
	MaxChecksPerEdge int
	// MaxChecksPerRun is the most checks one run of a test makes.
	MaxChecksPerRun int
}

// MinRerunInterval is the least minimum interval between a test's runs that changes
// can trigger: run IDs are made of the start second.
const MinRerunInterval = 2 * time.Second

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
		FollowChanges:           true,
		Rerun:                   trigger.DefaultTiming(),
		Bounds:                  bounds.Default(),
		MaxChecksPerEdge:        DefaultMaxChecksPerEdge,
		MaxChecksPerRun:         DefaultMaxChecksPerRun,
	}
}

// Default bounds on a run's checks: an edge to a thousand pods is one probe pod's worth
// of ten; a run of the most edges a test may have (2000) fits with room for pods
// destinations.
const (
	DefaultMaxChecksPerEdge = 1000
	DefaultMaxChecksPerRun  = 5000
)

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
	if o.Rerun.Quiet <= 0 {
		o.Rerun.Quiet = d.Rerun.Quiet
	}
	if o.Rerun.MaxDelay <= 0 {
		o.Rerun.MaxDelay = d.Rerun.MaxDelay
	}
	switch {
	case o.Rerun.MinInterval == 0:
		o.Rerun.MinInterval = d.Rerun.MinInterval
	case o.Rerun.MinInterval < MinRerunInterval:
		o.Rerun.MinInterval = MinRerunInterval
	}
	if o.MaxChecksPerEdge <= 0 {
		o.MaxChecksPerEdge = d.MaxChecksPerEdge
	}
	if o.MaxChecksPerRun <= 0 {
		o.MaxChecksPerRun = d.MaxChecksPerRun
	}
	if o.Bounds.MaxCPU.IsZero() {
		o.Bounds.MaxCPU = d.Bounds.MaxCPU
	}
	if o.Bounds.MaxMemory.IsZero() {
		o.Bounds.MaxMemory = d.Bounds.MaxMemory
	}
	if o.Rerun.PredictEvery <= 0 {
		o.Rerun.PredictEvery = d.Rerun.PredictEvery
	}
	return o
}
