package controllers

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestPolicyKindsTheModelReadsAndCannotRead: a manager starts and predicts on a cluster
// without the policy CRDs (PredictionsComplete=True). With the module's
// ClusterNetworkPolicy CRD and a Calico-like CRD installed and one Calico policy in the
// source's namespace, a Deny edge that the dataplane lets through (which the
// NetworkPolicies alone would diagnose DataplaneMismatch) gets no prediction and no
// diagnosis, the explanation names the kind, and the status says
// PredictionsComplete=False, UnreadablePolicies; a new ClusterNetworkPolicy is a policy
// change for a test that follows them.
func TestPolicyKindsTheModelReadsAndCannotRead(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	if served(t, "policy.networking.k8s.io/v1beta1") || served(t, "crd.projectcalico.org/v1") {
		t.Fatal("the policy CRDs are installed already: this test installs them, after a manager ran without them")
	}
	locked := newNamespace(t, "locked")
	denyEgress := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny-egress", Namespace: locked},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	if err := k8s.Create(ctx, denyEgress); err != nil {
		t.Fatal(err)
	}
	spec := v1alpha1.ReachabilityTestSpec{RerunOn: []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange}, Edges: []v1alpha1.Edge{
		hostEdge("locked-out", locked, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectDeny),
	}}

	// Without the CRDs.
	before := startManager(t, followingOptions())
	rt := runOnce(t, "without-policy-crds", spec)
	if c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPredictionsComplete); c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonAllPoliciesRead {
		t.Errorf("PredictionsComplete = %+v, want True, %s", c, v1alpha1.ReasonAllPoliciesRead)
	}
	if r := rt.Status.Results[0]; r.Diagnosis != v1alpha1.DiagnosisDataplaneMismatch {
		t.Errorf("without unreadable policies: diagnosis %q, want %s", r.Diagnosis, v1alpha1.DiagnosisDataplaneMismatch)
	}
	before.stop()

	// With them.
	crds := envtest.CRDInstallOptions{
		Paths: []string{moduleCRDs(t), filepath.Join("..", "internal", "policykinds", "testdata", "calico-networkpolicy-crd.yaml")}, ErrorIfPathMissing: true,
	}
	if _, err := envtest.InstallCRDs(apiServer, crds); err != nil {
		t.Fatalf("installing the CRDs: %v", err)
	}
	// Other tests start managers on a cluster without them.
	t.Cleanup(func() {
		if err := envtest.UninstallCRDs(apiServer, crds); err != nil {
			t.Errorf("removing the CRDs: %v", err)
		}
		eventually(t, 30*time.Second, "the policy CRDs to be no longer served", func(context.Context) (bool, error) {
			return !served(t, "policy.networking.k8s.io/v1beta1") && !served(t, "crd.projectcalico.org/v1"), nil
		})
	})
	calico := calicoPolicy(locked, "deny-all")
	if err := k8s.Create(ctx, calico); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), calico) })
	h := startManager(t, followingOptions())
	rt = runOnce(t, "with-a-calico-policy", spec)
	r := rt.Status.Results[0]
	if r.Predicted != "" || r.Diagnosis != "" || !strings.Contains(r.Explanation, "NetworkPolicy (crd.projectcalico.org/v1)") {
		t.Errorf("with a Calico policy in %s: predicted %q, diagnosis %q, explanation %q; want no prediction, no diagnosis, the kind named", locked, r.Predicted, r.Diagnosis, r.Explanation)
	}
	c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPredictionsComplete)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonUnreadablePolicies ||
		!strings.Contains(c.Message, "1 NetworkPolicy (crd.projectcalico.org/v1) in namespaces "+locked) {
		t.Errorf("PredictionsComplete = %+v, want False, %s, naming the Calico kind", c, v1alpha1.ReasonUnreadablePolicies)
	}

	cnp := &v1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "admin-deny"}, Spec: v1beta1.ClusterNetworkPolicySpec{
		Tier: v1beta1.AdminTier, Priority: 5,
		Subject: v1beta1.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": locked}}},
		Egress: []v1beta1.ClusterNetworkPolicyEgressRule{{Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
			To: []v1beta1.ClusterNetworkPolicyEgressPeer{{Namespaces: &metav1.LabelSelector{}}}}},
	}}
	seen := h.rec.changes.observedFor(rt.Name)
	if err := k8s.Create(ctx, cnp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cnp) })
	waitForObserved(t, h, rt.Name, seen+1)
}

// runOnce creates a test, lets the dataplane connect everything, and returns it once
// its run completed.
func runOnce(t *testing.T, name string, spec v1alpha1.ReachabilityTestSpec) *v1alpha1.ReachabilityTest {
	t.Helper()
	rt := createTest(t, name, spec)
	pods := waitForPods(t, rt, 1)
	finishPod(t, &pods[0], everythingConnects)
	rt = waitForCompleted(t, name)
	if len(rt.Status.Results) != 1 {
		t.Fatalf("%s: %d results, want 1", name, len(rt.Status.Results))
	}
	return rt
}

// served says whether the API server serves a group version.
func served(t *testing.T, groupVersion string) bool {
	t.Helper()
	d, err := discovery.NewDiscoveryClientForConfig(apiServer)
	if err != nil {
		t.Fatal(err)
	}
	// The group list, as the manager's discovery reads it: it lags the group's own
	// endpoint when a CRD goes.
	_, lists, err := d.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		t.Fatal(err)
	}
	return slices.ContainsFunc(lists, func(l *metav1.APIResourceList) bool { return l.GroupVersion == groupVersion })
}

// moduleCRDs is the folder of the CRDs the network-policy-api module ships.
func moduleCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/network-policy-api").Output()
	if err != nil {
		t.Fatalf("finding the network-policy-api module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
}

func calicoPolicy(namespace, name string) client.Object {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("crd.projectcalico.org/v1")
	u.SetKind("NetworkPolicy")
	u.SetNamespace(namespace)
	u.SetName(name)
	u.Object["spec"] = map[string]any{"selector": "all()", "types": []any{"Egress"}}
	return u
}

// TestAPolicyKindInstalledMidwayIsSeenAtOnce: a manager that has asked discovery already
// sees a policy kind installed after that at its next prediction, not one discovery
// answer later: until then it would predict confidently without it.
func TestAPolicyKindInstalledMidwayIsSeenAtOnce(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	if served(t, "crd.projectcalico.org/v1") {
		t.Fatal("the Calico-like CRD is installed already: this test installs it while a manager runs")
	}
	ns := newNamespace(t, "midway")
	spec := v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("to-api", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}}
	startManager(t, SetupOptions{})
	before := runOnce(t, "before-the-kind", spec)
	if c := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionPredictionsComplete); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("before the kind: PredictionsComplete = %+v, want True", c)
	}

	crds := envtest.CRDInstallOptions{Paths: []string{filepath.Join("..", "internal", "policykinds", "testdata", "calico-networkpolicy-crd.yaml")}, ErrorIfPathMissing: true}
	if _, err := envtest.InstallCRDs(apiServer, crds); err != nil {
		t.Fatalf("installing the CRD: %v", err)
	}
	t.Cleanup(func() {
		if err := envtest.UninstallCRDs(apiServer, crds); err != nil {
			t.Errorf("removing the CRD: %v", err)
		}
		eventually(t, 30*time.Second, "the Calico-like CRD to be no longer served", func(context.Context) (bool, error) {
			return !served(t, "crd.projectcalico.org/v1"), nil
		})
	})
	if err := k8s.Create(ctx, calicoPolicy(ns, "deny-all")); err != nil {
		t.Fatal(err)
	}
	after := runOnce(t, "after-the-kind", spec)
	c := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionPredictionsComplete)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonUnreadablePolicies {
		t.Errorf("after the kind was installed: PredictionsComplete = %+v, want False, %s", c, v1alpha1.ReasonUnreadablePolicies)
	}
}
