package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/probes"
)

// SetupOptions are everything a manager needs to run ReachabilityTests.
type SetupOptions struct {
	Options
	// MaxConcurrentProbePods caps probe pods across all tests; 0 means no cap.
	MaxConcurrentProbePods int
	// Registry receives the metrics.
	Registry prometheus.Registerer
}

// CacheOptions keep only probe pods in the manager's cache: target pods are read live,
// so memory does not grow with the cluster's pods.
func CacheOptions() cache.Options {
	probePods, err := labels.NewRequirement(probes.LabelRun, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant requirement
	}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}: {Label: labels.NewSelector().Add(*probePods)},
	}}
}

// Setup registers the ReachabilityTest reconciler and its metrics with a manager.
func Setup(mgr ctrl.Manager, opts SetupOptions) (*ReachabilityTestReconciler, error) {
	if opts.PodStartTimeout == 0 {
		opts.PodStartTimeout = 2 * time.Minute
	}
	r := &ReachabilityTestReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Events:    mgr.GetEventRecorder("netconform"),
		Metrics:   NewMetrics(opts.Registry, mgr.GetClient()),
		Limiter:   NewPodLimiter(opts.MaxConcurrentProbePods),
		Options:   opts.Options,
	}
	return r, r.SetupWithManager(mgr)
}
