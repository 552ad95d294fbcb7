package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/provenance"
	"github.com/netconform/netconform/probes"
)

// EventForeignProbePod is the reason of the event that reports a pod with a test's
// labels that the manager did not make: its results are ignored, it is not deleted, and
// it does not count against the cap.
const EventForeignProbePod = "ForeignProbePod"

// ours says why the manager did not make a pod, or nil when it did (see
// internal/provenance): this process created it, or it is older than this process and
// is what the manager renders for one of its members' tests.
func (r *ReachabilityTestReconciler) ours(ctx context.Context, pod *corev1.Pod) error {
	return r.trust.Ours(pod, func(pod *corev1.Pod) error {
		if isCanaryPod(pod) {
			return r.recogniseCanaryPod(ctx, pod)
		}
		return r.recogniseProbePod(ctx, pod)
	})
}

// recogniseProbePod renders an older probe pod again with the spec of each member
// whose test still exists, until one gives the pod. For a member whose run is in
// progress, the pod's checks must also be what the run plans: the checks are the
// pod's own arguments, and a pod made for another plan answers nothing of this one.
func (r *ReachabilityTestReconciler) recogniseProbePod(ctx context.Context, pod *corev1.Pod) error {
	members, err := probes.MembersOf(pod)
	if err != nil {
		return err
	}
	content, err := decodePodContent(pod)
	if err != nil {
		return err
	}
	why := errors.New("none of the tests it names exists")
	for i, m := range members {
		test, err := r.memberTest(ctx, m.Test, m.UID)
		if err != nil || test == nil {
			continue
		}
		if why = probes.Unrendered(pod, test.Spec, r.Options.Pod); why != nil {
			continue
		}
		run := test.Status.ActiveRun
		if run == nil || run.ID != m.Run {
			return nil // its run is over: it is only ever deleted
		}
		if checks, _ := content.checksOf(i); planned(r.planFor(ctx, test, *run), pod, checks) {
			return nil
		}
		why = fmt.Errorf("its checks for test %s are not those run %s plans", test.Name, run.ID)
	}
	return why
}

// recogniseCanaryPod accepts an older canary pod that has the name, namespace and
// labels of its test's canary. It is only ever deleted: a restarted manager starts the
// canary over.
func (r *ReachabilityTestReconciler) recogniseCanaryPod(ctx context.Context, pod *corev1.Pod) error {
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		return errors.New("it has no controlling test")
	}
	test, err := r.memberTest(ctx, owner.Name, owner.UID)
	if err != nil || test == nil || test.Spec.Canary == nil {
		return errors.New("its test does not exist or has no canary")
	}
	n := canary.NamesFor(test, r.canaryNamespace(test.Spec.Canary)).ForPair(canary.PairOf(pod))
	if pod.Namespace != n.Namespace || (pod.Name != n.Server() && pod.Name != n.Client()) || pod.Labels[canary.LabelCanary] != n.ID {
		return fmt.Errorf("it is not named as the canary of test %s", test.Name)
	}
	return nil
}

// memberTest returns the test of that name if it has that UID.
func (r *ReachabilityTestReconciler) memberTest(ctx context.Context, name string, uid types.UID) (*v1alpha1.ReachabilityTest, error) {
	test := &v1alpha1.ReachabilityTest{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, test); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if test.UID != uid {
		return nil, nil
	}
	return test, nil
}

// trustedPods keeps the pods the manager made, and notes the others once.
func (r *ReachabilityTestReconciler) trustedPods(ctx context.Context, test *v1alpha1.ReachabilityTest, pods []corev1.Pod) []corev1.Pod {
	trusted := pods[:0:0]
	for i := range pods {
		if err := r.ours(ctx, &pods[i]); err != nil {
			if !errors.Is(err, provenance.ErrNotYet) {
				r.noteForeign(ctx, test, &pods[i], err)
			}
			continue
		}
		trusted = append(trusted, pods[i])
	}
	return trusted
}

// noteForeign reports, once, a pod that carries the test's labels but that the
// manager did not make.
func (r *ReachabilityTestReconciler) noteForeign(ctx context.Context, test *v1alpha1.ReachabilityTest, pod *corev1.Pod, why error) {
	if !r.trust.Note(pod.UID) {
		return
	}
	ctrl.LoggerFrom(ctx).Info("Ignoring a pod with probe labels that the manager did not make", "reachabilityTest", klog.KObj(test), "pod", klog.KObj(pod), "why", why.Error())
	r.Metrics.ForeignProbePod()
	r.Events.Eventf(test, nil, corev1.EventTypeWarning, EventForeignProbePod, "ReadProbePods",
		"Pod %s/%s carries this test's labels but is not a probe pod of the manager (%v): its results are ignored, it is not deleted and it does not count against the probe pod cap",
		pod.Namespace, pod.Name, why)
}

// planned says whether the checks a pod carries for a run are checks of the run's plan
// from the pod's identity: an older pod was made by a manager that planned the run
// before, and a check it did not plan is no answer to the run.
func planned(plan probes.Plan, pod *corev1.Pod, checks []probes.Check) bool {
	id := probes.PodIdentity(pod)
	for _, source := range plan.Sources {
		if probes.SameIdentity(source.Identity, id) {
			return len(withoutChecks(checks, source.Checks)) == 0
		}
	}
	return false
}

// forgetPod drops what the reconciler holds of a pod that is gone.
func (r *ReachabilityTestReconciler) forgetPod(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		r.pods.forget(pod.UID)
		r.trust.Forget(pod.UID)
	}
}

// forgetGonePods follows the deletions of the pods in the cache.
func (r *ReachabilityTestReconciler) forgetGonePods(mgr ctrl.Manager) error {
	informer, err := mgr.GetCache().GetInformer(context.Background(), &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("watching probe pods: %w", err)
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: r.forgetPod})
	return err
}
