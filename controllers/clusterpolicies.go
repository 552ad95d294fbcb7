package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/trigger"
)

// The cluster-wide policy kinds the model reads, and the kinds it cannot read but counts
// (their metadata only). Nothing else of them: no get, no write.
// +kubebuilder:rbac:groups=policy.networking.k8s.io,resources=clusternetworkpolicies;adminnetworkpolicies;baselineadminnetworkpolicies,verbs=list;watch
// +kubebuilder:rbac:groups=projectcalico.org;crd.projectcalico.org,resources=networkpolicies;globalnetworkpolicies,verbs=list
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies;ciliumclusterwidenetworkpolicies,verbs=list
// +kubebuilder:rbac:groups=crd.antrea.io,resources=networkpolicies;clusternetworkpolicies,verbs=list

// followClusterPolicies watches the cluster-wide policy kinds the cluster serves when
// the manager starts (none: no watch, and the manager runs as before), from their
// metadata: a new generation is a policy change, for the snapshots and, when the
// manager follows changes, for every test that follows policy changes.
func (r *ReachabilityTestReconciler) followClusterPolicies(mgr ctrl.Manager) error {
	ctx := context.Background()
	served, err := r.snapshots.kinds.Served(ctx)
	if err != nil {
		return err
	}
	for _, res := range served.Watched() {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(res.GroupVersionKind())
		informer, err := mgr.GetCache().GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %s: %w", res, err)
		}
		if _, err := informer.AddEventHandler(r.clusterPolicyHandler(res.Kind)); err != nil {
			return err
		}
		mgr.GetLogger().Info("Following cluster-wide policies", "kind", res.Kind, "version", res.Version)
	}
	return nil
}

// clusterPolicyHandler turns events of a cluster-wide policy kind into policy changes;
// an update that leaves the generation alone (its status) is none.
func (r *ReachabilityTestReconciler) clusterPolicyHandler(kind string) toolscache.ResourceEventHandler {
	changed := func(obj any, event trigger.ClusterEvent) {
		r.snapshots.policyChanged(r.Now())
		m, ok := deleted(obj).(metav1.Object)
		// The canary's ClusterNetworkPolicies select its own pods only and come and go
		// with every canary run, as its NetworkPolicies do: following them would have
		// canaries re-run tests.
		if r.changes == nil || !ok || canary.Owns(m) {
			return
		}
		r.changes.observe(trigger.Change{Cause: trigger.CausePolicy, Name: m.GetName(), ClusterKind: kind, ClusterEvent: event})
	}
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if initial {
				r.snapshots.policyChanged(r.Now()) // no change to follow, but a newer view
				return
			}
			changed(obj, trigger.ClusterCreated)
		},
		UpdateFunc: func(oldObj, obj any) {
			old, okOld := oldObj.(metav1.Object)
			m, ok := obj.(metav1.Object)
			if ok && okOld && old.GetGeneration() != m.GetGeneration() {
				changed(obj, trigger.ClusterChanged)
			}
		},
		DeleteFunc: func(obj any) { changed(obj, trigger.ClusterDeleted) },
	}
}
