package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// FailureNodeUnavailable is the reason when the node a probe pod is pinned to went
// NotReady, was cordoned or went away before the pod reported.
const FailureNodeUnavailable = "NodeUnavailable"

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch

// nodesFor resolves the nodes of an edge's from.nodes for a test, from the cache: each
// run resolves them afresh, so a node added meanwhile is in the next run.
func (r *ReachabilityTestReconciler) nodesFor(test *v1alpha1.ReachabilityTest) func(context.Context, v1alpha1.NodeSelection) ([]probes.NodeTarget, error) {
	return func(ctx context.Context, sel v1alpha1.NodeSelection) ([]probes.NodeTarget, error) {
		var nodes corev1.NodeList
		if err := r.Client.List(ctx, &nodes); err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		return probes.SelectNodes(nodes.Items, sel, test.Spec.ProbePod), nil
	}
}

// planOptions are the manager's planning options with the test's nodes.
func (r *ReachabilityTestReconciler) planOptions(test *v1alpha1.ReachabilityTest) probes.PlanOptions {
	opts := r.Options.Plan
	opts.Nodes = r.nodesFor(test)
	return opts
}

// refusedNoNodes checks, before a run starts, that every edge with from.nodes selects a
// node. When one selects none, it says so on the status (Completed and Passed False,
// reason NoMatchingNodes) and in an event, once, and returns true: no run starts, and a
// change to the nodes wakes the test to look again.
func (r *ReachabilityTestReconciler) refusedNoNodes(ctx context.Context, test *v1alpha1.ReachabilityTest) (bool, error) {
	var problems []string
	resolve := r.nodesFor(test)
	for i, edge := range test.Spec.Edges {
		if edge.From.Nodes == nil {
			continue
		}
		nodes, err := resolve(ctx, *edge.From.Nodes)
		if err != nil {
			return false, err
		}
		if len(nodes) == 0 {
			problems = append(problems, fmt.Sprintf("spec.edges[%d].from.nodes: %v", i, probes.NoNodesError(edge.Name, *edge.From.Nodes)))
		}
	}
	if len(problems) == 0 {
		return false, nil
	}
	message := truncateMessage("No run starts: " + listProblems(problems))
	if !noNodesStatus(&test.Status, test.Generation, message) {
		return true, nil // already said
	}
	if err := r.Client.Status().Update(ctx, test); err != nil {
		return false, fmt.Errorf("recording that from.nodes selects no node: %w", err)
	}
	r.Events.Eventf(test, nil, corev1.EventTypeWarning, v1alpha1.ReasonNoMatchingNodes, "SelectNodes", "%s", message)
	return true, nil
}

// noNodesStatus records that the generation cannot run yet; it says whether the status
// changed. observedGeneration stays: the generation runs as soon as a node matches.
func noNodesStatus(status *v1alpha1.ReachabilityTestStatus, generation int64, message string) bool {
	passed := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionPassed)
	if passed != nil && passed.Reason == v1alpha1.ReasonNoMatchingNodes && passed.Message == message && passed.ObservedGeneration == generation {
		return false
	}
	status.ActiveRun = nil
	for _, typ := range []string{v1alpha1.ConditionCompleted, v1alpha1.ConditionPassed} {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: typ, Status: metav1.ConditionFalse, ObservedGeneration: generation, Reason: v1alpha1.ReasonNoMatchingNodes, Message: message,
		})
	}
	return true
}

// nodeFailure says why a pinned probe pod that has not reported never will: its node
// went NotReady, was cordoned or is gone. Nil when the node can still run it.
func (r *ReachabilityTestReconciler) nodeFailure(ctx context.Context, pod *corev1.Pod) *podFailure {
	name := probes.PinnedNode(pod)
	if name == "" {
		return nil
	}
	node := &corev1.Node{}
	why := ""
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil // cannot tell: the pod's own deadline still bounds it
		}
		why = "is gone"
	} else if why = probes.Unavailable(node); why == "" {
		return nil
	}
	return &podFailure{Reason: FailureNodeUnavailable, Message: fmt.Sprintf("node %s %s: probe pod %s/%s gave no result", name, why, pod.Namespace, pod.Name)}
}

// testsFromNodes wakes the tests that check edges from nodes when a node changes: a run
// waiting on a node that failed ends, and a test whose selection matched nothing looks
// again.
func (r *ReachabilityTestReconciler) testsFromNodes(ctx context.Context, _ client.Object) []reconcile.Request {
	var tests v1alpha1.ReachabilityTestList
	if err := r.Client.List(ctx, &tests); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range tests.Items {
		t := &tests.Items[i]
		if r.runs(t.UID) && slices.ContainsFunc(t.Spec.Edges, func(e v1alpha1.Edge) bool { return e.From.Nodes != nil }) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: t.Name}})
		}
	}
	return reqs
}

// nodeChanges passes what changes which nodes an edge is checked from, or whether a
// probe can run there: not the status heartbeats every node sends.
var nodeChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*corev1.Node)
		node, ok := e.ObjectNew.(*corev1.Node)
		if !ok || !okOld {
			return true
		}
		return !maps.Equal(old.Labels, node.Labels) || probes.Unavailable(old) != probes.Unavailable(node) ||
			!slices.EqualFunc(old.Spec.Taints, node.Spec.Taints, func(a, b corev1.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value })
	},
}

// withoutImages keeps a cached node small: its image list is long and read by nothing.
func withoutImages(obj any) (any, error) {
	if node, ok := obj.(*corev1.Node); ok {
		node.Status.Images = nil
		node.ManagedFields = nil
	}
	return obj, nil
}
