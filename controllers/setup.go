package controllers

import (
	"context"
	"fmt"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/internal/provenance"
	"github.com/netconform/netconform/probes"
)

// SetupOptions are everything a manager needs to run ReachabilityTests.
type SetupOptions struct {
	Options
	// Registry receives the metrics.
	Registry prometheus.Registerer
	// PodLogs reads the canary client's log; nil reads it through the API server.
	PodLogs PodLogs
	// Now is the reconciler's clock; nil is time.Now.
	Now func() time.Time
	// Only, when set, limits the reconciler to the tests whose UIDs it accepts: the gate
	// runs the tests it applied and no other, where an operator may run the rest.
	Only func(types.UID) bool
}

// CacheOptions keep only probe pods in the manager's cache: target pods are read live,
// so memory does not grow with the cluster's pods.
func CacheOptions() cache.Options {
	probePods, err := labels.NewRequirement(probes.LabelRun, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant requirement
	}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: labels.NewSelector().Add(*probePods)},
			// Nodes are read for edges checked from them (from.nodes).
			&corev1.Node{}: {Transform: withoutImages},
		},
		// Nothing reads managedFields, and on a probe pod they repeat its arguments'
		// shape: the cache holds hundreds of pods during a wave of tests.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// Setup registers the ReachabilityTest reconciler and its metrics with a manager.
func Setup(mgr ctrl.Manager, opts SetupOptions) (*ReachabilityTestReconciler, error) {
	opts.Options = opts.withDefaults()
	if opts.OpenReports && !mgr.GetScheme().Recognizes(schema.GroupVersionKind{Group: orv1.GroupName, Version: orv1.GroupVersion.Version, Kind: "ClusterReport"}) {
		return nil, fmt.Errorf("--openreports needs the manager's scheme to hold %s ClusterReport", orv1.GroupVersion)
	}
	if opts.PodLogs == nil {
		var err error
		if opts.PodLogs, err = podLogsFrom(mgr); err != nil {
			return nil, err
		}
	}
	r := &ReachabilityTestReconciler{
		PodLogs:   opts.PodLogs,
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Events:    mgr.GetEventRecorder("netconform"),
		Metrics:   NewMetrics(opts.Registry, mgr.GetClient()),
		Options:   opts.Options,
		Now:       opts.Now,
		Only:      opts.Only,
		// The clock that decides which pods are older than the manager is the real one:
		// creation times are the API server's.
		trust: provenance.New(nil),
	}
	r.Pool = probepool.New(mgr.GetClient(), probepool.Options{
		Pod:               opts.Pod,
		MaxChecksPerPod:   opts.MaxChecksPerPod,
		MaxConcurrentPods: opts.MaxConcurrentProbePods,
		Window:            opts.WaveWindow,
		Log:               mgr.GetLogger().WithName("probe-pool"),
		// Only the pods the manager made count against the cap, and the pool records
		// those it creates.
		Creating: r.trust.Creating, Made: r.trust.Made, Failed: r.trust.Failed,
		Ours: func(ctx context.Context, pod *corev1.Pod) bool { return r.ours(ctx, pod) == nil },
	})
	return r, r.SetupWithManager(mgr)
}

// podLogsFrom reads pod logs through the API server, which the cached client cannot.
func podLogsFrom(mgr ctrl.Manager) (PodLogs, error) {
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("creating a client for pod logs: %w", err)
	}
	return func(ctx context.Context, namespace, pod, container string) ([]byte, error) {
		return cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	}, nil
}
