package controllers

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// A reconciler with Only set (the gate's) shares the cluster with an operator and with
// other gates: it must not run, or touch the probe pods of, tests it was not given.
// Events are filtered by UID, and Reconcile checks the UID again, for a name may come to
// hold another test between an event and its reconcile.

// runs tells whether the reconciler runs the test with this UID.
func (r *ReachabilityTestReconciler) runs(uid types.UID) bool {
	return r.Only == nil || r.Only(uid)
}

// onlyTests passes the events of the tests the reconciler runs.
func (r *ReachabilityTestReconciler) onlyTests() predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool { return r.runs(o.GetUID()) })
}

// onlyPodsOfTests passes the events of probe pods that one of those tests owns.
func (r *ReachabilityTestReconciler) onlyPodsOfTests() predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		return slices.ContainsFunc(o.GetOwnerReferences(), func(ref metav1.OwnerReference) bool { return r.runs(ref.UID) })
	})
}
