package controllers

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
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

// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=list;watch

// forgetter is a discovery whose answer a new or removed CRD makes stale.
type forgetter interface{ Forget() }

// followDefinitions watches CustomResourceDefinitions, from their metadata: a policy kind
// installed or removed while the manager runs is seen by the next prediction, not one
// discovery answer later, so that no prediction overlooks it.
func (r *ReachabilityTestReconciler) followDefinitions(mgr ctrl.Manager) error {
	f, ok := r.snapshots.kinds.(forgetter)
	if !ok {
		return nil
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	informer, err := mgr.GetCache().GetInformer(context.Background(), obj)
	if err != nil {
		return fmt.Errorf("watching CustomResourceDefinitions: %w", err)
	}
	changed := func() {
		f.Forget()
		r.snapshots.policyChanged(r.Now())
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() }, // established: now served
		DeleteFunc: func(any) { changed() },
	})
	return err
}

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
