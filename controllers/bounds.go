package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/bounds"
)

// refusedOutOfBounds checks, before a run starts any pod, that the test asks for probe
// pods within the manager's bounds. When it does not, it says why on the status (Passed
// False, and Completed True: nothing runs until the spec changes) and in an event, and
// returns true: the caller starts no run.
func (r *ReachabilityTestReconciler) refusedOutOfBounds(ctx context.Context, test *v1alpha1.ReachabilityTest) (bool, error) {
	req := bounds.Request{Image: r.Options.Pod.Image, CanaryNamespace: r.Options.CanaryNamespace}
	if r.Options.Bounds.NamespaceSelector != "" {
		var err error
		if req.Selected, err = r.selectedNamespaces(ctx); err != nil {
			return false, err
		}
	}
	problems := r.Options.Bounds.Check(test.Spec, req)
	if len(problems) == 0 {
		return false, nil
	}
	message := truncateMessage(fmt.Sprintf("The manager will not start this test's pods: %s", listProblems(problems)))
	if !notAllowedStatus(&test.Status, test.Generation, message) {
		return true, nil // already said
	}
	if err := r.Client.Status().Update(ctx, test); err != nil {
		return false, fmt.Errorf("recording that the test is out of the manager's bounds: %w", err)
	}
	r.Events.Eventf(test, nil, corev1.EventTypeWarning, v1alpha1.ReasonNotAllowed, "CheckBounds", "%s", message)
	return true, nil
}

// selectedNamespaces are the namespaces the manager's namespace selector selects.
func (r *ReachabilityTestReconciler) selectedNamespaces(ctx context.Context) (map[string]bool, error) {
	sel, err := r.Options.Bounds.Selector()
	if err != nil {
		return nil, err
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.APIReader.List(ctx, list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing the namespaces the namespace selector selects: %w", err)
	}
	selected := make(map[string]bool, len(list.Items))
	for _, ns := range list.Items {
		selected[ns.Name] = true
	}
	return selected, nil
}

// notAllowedStatus records that the generation will not run, dropping the results of
// an earlier generation; it says whether the status changed.
func notAllowedStatus(status *v1alpha1.ReachabilityTestStatus, generation int64, message string) bool {
	passed := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionPassed)
	if status.ObservedGeneration == generation && passed != nil && passed.Reason == v1alpha1.ReasonNotAllowed && passed.Message == message {
		return false
	}
	status.ObservedGeneration = generation
	status.ActiveRun = nil
	status.Results = nil
	status.Summary = nil
	for _, typ := range []string{v1alpha1.ConditionCompleted, v1alpha1.ConditionPassed} {
		s := metav1.ConditionFalse
		if typ == v1alpha1.ConditionCompleted {
			s = metav1.ConditionTrue // done with this generation: it will not run
		}
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: typ, Status: s, ObservedGeneration: generation, Reason: v1alpha1.ReasonNotAllowed, Message: message,
		})
	}
	return true
}

// listProblems joins at most five problems, saying how many more there are.
func listProblems(problems []string) string {
	const shown = 5
	if len(problems) <= shown {
		return strings.Join(problems, "; ")
	}
	return strings.Join(problems[:shown], "; ") + fmt.Sprintf("; and %d more", len(problems)-shown)
}
