package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/prediction"
	"github.com/netconform/netconform/probes"
)

// maxPredictionEvents bounds the PredictionChanged events of one prediction: the rest
// are named in one more.
const maxPredictionEvents = 10

// followChanges predicts a test's edges again when changes that can affect them wait,
// before any probe pod: an edge whose prediction flipped is said at once, on the status
// and in a PredictionChanged event, so that an alert can fire on the prediction alone.
// It returns how long until the next prediction is due, when changes go on.
func (r *ReachabilityTestReconciler) followChanges(ctx context.Context, test *v1alpha1.ReachabilityTest) (time.Duration, error) {
	if r.changes == nil || len(test.Spec.RerunOn) == 0 {
		return 0, nil
	}
	at, ok := r.changes.predictAt(test.Name)
	if !ok {
		return 0, nil
	}
	now := r.Now()
	if at.After(now) {
		return at.Sub(now), nil
	}
	what, since := r.changes.predicted(test.Name, now)
	if err := r.predictChanges(ctx, test, what, now); err != nil {
		r.changes.stale(test.Name)
		return 0, err
	}
	if !since.IsZero() {
		r.Metrics.ChangeToVerdict(StagePredicted, r.Now().Sub(since))
	}
	return 0, nil
}

// predictChanges predicts every edge from the cluster as read after now, and records the
// edges whose prediction flipped, or can no longer be made. When the policies cannot be
// read, the changes stay waiting and the error backs the reconcile off.
func (r *ReachabilityTestReconciler) predictChanges(ctx context.Context, test *v1alpha1.ReachabilityTest, what string, now time.Time) error {
	if len(test.Status.Results) == 0 {
		return nil // nothing to flip yet: the first run predicts
	}
	log := ctrl.LoggerFrom(ctx)
	cluster, err := r.snapshots.get(ctx, r.APIReader, prediction.NamespacesOf(test.Spec.Edges), now, now)
	if err != nil {
		return fmt.Errorf("reading the policies to predict the edges after %s: %w", what, err) // retried
	}
	// Live reads: a pod that just came or went must count.
	plan := probes.BuildPlan(ctx, test.Spec.Edges, apiResolver{reader: r.APIReader, now: r.Now}, r.planOptions(test))
	checks := map[string][]probes.Check{}
	for _, source := range plan.Sources {
		for _, c := range source.Checks {
			checks[c.Edge] = append(checks[c.Edge], c)
		}
	}
	edges := make(map[string]v1alpha1.Edge, len(test.Spec.Edges))
	for _, e := range test.Spec.Edges {
		edges[e.Name] = e
	}
	flips := predictionFlips(test.Status.Results, func(name string) (v1alpha1.Expectation, string) {
		edge, ok := edges[name]
		if !ok {
			return "", ""
		}
		return prediction.Current(cluster, edge, checks[name])
	})
	if len(flips) == 0 {
		log.V(4).Info("No prediction changed", "reachabilityTest", klog.KObj(test), "after", what)
		return nil
	}
	applyPredictionFlips(&test.Status, flips)
	if err := r.Client.Status().Update(ctx, test); err != nil {
		return fmt.Errorf("recording changed predictions: %w", err)
	}
	for i, f := range flips {
		if i == maxPredictionEvents {
			r.Events.Eventf(test, nil, corev1.EventTypeWarning, EventPredictionChanged, "Predict", "%d more edges changed prediction after %s: %s",
				len(flips)-i, what, listNames(flipNames(flips[i:])))
			break
		}
		kind := corev1.EventTypeNormal
		if f.Now != "" && f.Now != f.Expected {
			kind = corev1.EventTypeWarning
		}
		r.Events.Eventf(test, nil, kind, EventPredictionChanged, "Predict", "%s", truncateMessage(f.message(what)))
	}
	log.Info("Prediction changed", "reachabilityTest", klog.KObj(test), "edges", len(flips), "after", what)
	return nil
}

func flipNames(flips []predictionFlip) []string {
	names := make([]string, len(flips))
	for i, f := range flips {
		names[i] = f.Edge
	}
	return names
}
