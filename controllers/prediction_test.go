package controllers

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// TestResultsCarryThePoliciesPredictionAndDiagnosis: every edge gets what the cluster's
// policies predict, and edges where intent, policies and dataplane disagree are
// diagnosed: a deny the dataplane ignores is DataplaneMismatch, a flow the policies never
// restrict though the edge expects Deny is PolicyMismatch.
func TestResultsCarryThePoliciesPredictionAndDiagnosis(t *testing.T) {
	locked := newNamespace(t, "locked")
	open := newNamespace(t, "open")
	denyEgress := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny-egress", Namespace: locked},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	if err := k8s.Create(context.Background(), denyEgress); err != nil {
		t.Fatal(err)
	}
	h := startManager(t, SetupOptions{})
	rt := createTest(t, "predicted", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("locked-out", locked, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectDeny),
		hostEdge("open-door", open, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectDeny),
	}})
	pods := waitForPods(t, rt, 2)
	for i := range pods {
		finishPod(t, &pods[i], everythingConnects)
	}
	rt = waitForCompleted(t, rt.Name)
	want := map[string]struct {
		predicted v1alpha1.Expectation
		diagnosis v1alpha1.Diagnosis
	}{
		"locked-out": {v1alpha1.ExpectDeny, v1alpha1.DiagnosisDataplaneMismatch},
		"open-door":  {v1alpha1.ExpectAllow, v1alpha1.DiagnosisPolicyMismatch},
	}
	for _, r := range rt.Status.Results {
		if w := want[r.Edge]; r.Predicted != w.predicted || r.Diagnosis != w.diagnosis || r.Explanation == "" {
			t.Errorf("%s: predicted %q diagnosis %q (%q), want %s %s with an explanation", r.Edge, r.Predicted, r.Diagnosis, r.Explanation, w.predicted, w.diagnosis)
		}
	}
	waitForEvent(t, rt, string(v1alpha1.DiagnosisDataplaneMismatch))
	waitForEvent(t, rt, string(v1alpha1.DiagnosisPolicyMismatch))
	if n := testutil.CollectAndCount(h.registry, "netconform_edge_diagnosis"); n != 2 {
		t.Errorf("netconform_edge_diagnosis has %d series, want one per diagnosed edge", n)
	}
}

// everythingConnects answers every check as a cluster that enforces nothing would.
func everythingConnects(c probes.Check) probes.Result {
	return probes.Result{Observation: v1alpha1.ObservedConnected, Attempts: 3, Target: targetOf(c)}
}
