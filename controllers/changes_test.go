package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/trigger"
	"github.com/netconform/netconform/probes"
)

// followingOptions follow changes with short times, so that the tests wait little: the
// floor of the minimum interval, a short quiet time.
func followingOptions() SetupOptions {
	return SetupOptions{Options: Options{FollowChanges: true, Rerun: trigger.Timing{
		Quiet: 100 * time.Millisecond, MaxDelay: 500 * time.Millisecond, MinInterval: MinRerunInterval, PredictEvery: 200 * time.Millisecond,
	}}}
}

var bothTriggers = []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange, v1alpha1.RerunOnLabelChange}

func podsEdge(name, fromNS string, from map[string]string, toNS string, to map[string]string, port int32, expect v1alpha1.Expectation) v1alpha1.Edge {
	return v1alpha1.Edge{Name: name, From: v1alpha1.Source{Namespace: fromNS, PodLabels: from},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: toNS, PodLabels: to, Port: intstr.FromInt32(port)}}, Expect: expect}
}

// plainNamespace creates a namespace without Pod Security labels, for destination pods.
func plainNamespace(t *testing.T, prefix string) string {
	t.Helper()
	requireAPIServer(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("namespace: %v", err)
	}
	return ns.Name
}

// readyPod creates a pod the API server reports ready at ip, as a kubelet would.
func readyPod(t *testing.T, ns, name string, labels map[string]string, ip string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatalf("pod %s/%s: %v", ns, name, err)
	}
	setPodStatus(t, pod, corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}})
	return pod
}

func createPolicy(t *testing.T, ns, name string, selector map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	t.Helper()
	p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: selector}, PolicyTypes: types}}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatalf("policy %s/%s: %v", ns, name, err)
	}
	return p
}

func relabel(t *testing.T, obj client.Object, key, value string) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[key] = value
	obj.SetLabels(l)
	if err := k8s.Update(context.Background(), obj); err != nil {
		t.Fatalf("relabelling %s: %v", obj.GetName(), err)
	}
}

// settle plays the kubelet for the test's probe pods until the test has no run in
// progress and no change waits, and returns the test.
func settle(t *testing.T, h *harness, name string, answer func(probes.Check) probes.Result) *v1alpha1.ReachabilityTest {
	t.Helper()
	var rt *v1alpha1.ReachabilityTest
	eventually(t, 30*time.Second, "test "+name+" to settle", func(context.Context) (bool, error) {
		rt = getTest(t, name)
		finished := false
		for _, p := range probePodsOf(t, rt) {
			if len(p.Status.ContainerStatuses) == 0 {
				finishPod(t, &p, answer)
				finished = true
			}
		}
		// rt may predate a run that started since; a pod just answered belongs to a run
		// still in progress. The manager records a run on the status before it takes
		// the waiting changes, so a status read after them is current.
		if _, waiting := h.rec.changes.runAt(rt); finished || waiting {
			return false, nil
		}
		rt = getTest(t, name)
		c := condition(rt, v1alpha1.ConditionCompleted)
		return rt.Status.ActiveRun == nil && c != nil && c.Status == metav1.ConditionTrue, nil
	})
	return rt
}

// runStartNotes are the notes of the test's RunStarted events, oldest first.
func runStartNotes(t *testing.T, rt *v1alpha1.ReachabilityTest) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.UID == rt.UID && e.Reason == EventRunStarted {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// waitForRuns waits until the test has started n runs and returns their notes.
func waitForRuns(t *testing.T, rt *v1alpha1.ReachabilityTest, n int) []string {
	t.Helper()
	var notes []string
	eventually(t, 20*time.Second, fmt.Sprintf("%d runs of %s", n, rt.Name), func(context.Context) (bool, error) {
		notes = runStartNotes(t, rt)
		return len(notes) >= n, nil
	})
	return notes
}

func waitForObserved(t *testing.T, h *harness, test string, n int) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("%d changes affecting %s", n, test), func(context.Context) (bool, error) {
		return h.rec.changes.observedFor(test) >= n, nil
	})
}

// TestChangesTriggerOnlyTheTestsTheyCanAffect: changes in a namespace no edge touches,
// and bystander pods, re-run nothing; a relabelled destination namespace re-runs the
// tests that follow labels; a policy selecting the source re-runs those that follow
// policies; a test that follows nothing never re-runs.
func TestChangesTriggerOnlyTheTestsTheyCanAffect(t *testing.T) {
	src := newNamespace(t, "client")
	dst := plainNamespace(t, "db")
	other := plainNamespace(t, "other")
	elsewhere := newNamespace(t, "elsewhere")
	readyPod(t, dst, "db-0", map[string]string{"app": "db"}, "10.244.1.7")
	h := startManager(t, followingOptions())
	edges := []v1alpha1.Edge{podsEdge("client-to-db", src, map[string]string{"app": "client"}, dst, map[string]string{"app": "db"}, 5432, v1alpha1.ExpectAllow)}
	specs := map[string]v1alpha1.ReachabilityTestSpec{
		"follows":       {Edges: edges, RerunOn: bothTriggers},
		"policies-only": {Edges: edges, RerunOn: []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange}},
		"not-following": {Edges: edges},
		"elsewhere": {Edges: []v1alpha1.Edge{podsEdge("a-to-b", elsewhere, map[string]string{"app": "a"}, elsewhere, map[string]string{"app": "b"}, 80, v1alpha1.ExpectAllow)},
			RerunOn: bothTriggers},
	}
	tests := map[string]*v1alpha1.ReachabilityTest{}
	for name, spec := range specs {
		tests[name] = createTest(t, name, spec)
	}
	for name := range specs {
		settle(t, h, name, asExpected)
	}

	// Unrelated: a namespace no edge touches, and a pod of the destination's namespace
	// that is no destination.
	for i := range 5 {
		createPolicy(t, other, fmt.Sprintf("deny-%d", i), nil)
	}
	relabel(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}}, "team", "b")
	readyPod(t, other, "db-0", map[string]string{"app": "db"}, "10.244.2.7")
	bystander := readyPod(t, dst, "cache-0", map[string]string{"app": "cache"}, "10.244.1.8")
	relabel(t, bystander, "version", "2")
	// Related: the destination's namespace is relabelled.
	relabel(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dst}}, "team", "data")
	notes := waitForRuns(t, tests["follows"], 2)
	if want := "after namespace " + dst + " relabelled"; !strings.HasSuffix(notes[1], want) {
		t.Errorf("the triggered run says %q, want it to end %q: the unrelated changes must not count", notes[1], want)
	}
	settle(t, h, "follows", asExpected)

	// Related: a policy that selects the source's probe pods.
	createPolicy(t, src, "client-egress", map[string]string{"app": "client"}, networkingv1.PolicyTypeEgress)
	waitForRuns(t, tests["follows"], 3)
	notes = waitForRuns(t, tests["policies-only"], 2)
	if want := "after NetworkPolicy " + src + "/client-egress created"; !strings.HasSuffix(notes[1], want) {
		t.Errorf("policies-only's triggered run says %q, want it to end %q", notes[1], want)
	}
	for name := range specs {
		settle(t, h, name, asExpected)
	}
	want := map[string]int{"follows": 2, "policies-only": 1, "not-following": 0, "elsewhere": 0}
	for name, n := range want {
		if got := h.rec.changes.observedFor(name); got != n {
			t.Errorf("%s was affected by %d changes, want %d", name, got, n)
		}
		if got := len(runStartNotes(t, tests[name])); got != n+1 {
			t.Errorf("%s started %d runs, want %d", name, got, n+1)
		}
	}
	if got := testutil.ToFloat64(h.rec.Metrics.triggeredRuns.WithLabelValues("follows", string(trigger.CauseNamespaceLabels))); got != 1 {
		t.Errorf("netconform_triggered_runs_total{test=follows,cause=NamespaceLabels} = %v, want 1", got)
	}
}

// TestPredictionChangedBeforeTheRun: deleting the policy that alone keeps a Deny edge
// closed flips its prediction on the status and in a PredictionChanged event before any
// probe pod of the run that follows exists; that run then finds the hole.
func TestPredictionChangedBeforeTheRun(t *testing.T) {
	src := newNamespace(t, "web")
	dst := plainNamespace(t, "vault")
	readyPod(t, dst, "vault-0", map[string]string{"app": "vault"}, "10.244.3.7")
	deny := createPolicy(t, dst, "default-deny", nil, networkingv1.PolicyTypeIngress)
	h := startManager(t, followingOptions())
	rt := createTest(t, "prediction-flips", v1alpha1.ReachabilityTestSpec{RerunOn: bothTriggers, Edges: []v1alpha1.Edge{
		podsEdge("web-to-vault", src, map[string]string{"app": "web"}, dst, map[string]string{"app": "vault"}, 8200, v1alpha1.ExpectDeny),
	}})
	rt = settle(t, h, rt.Name, asExpected)
	if p := rt.Status.Results[0].Predicted; p != v1alpha1.ExpectDeny {
		t.Fatalf("the first run predicted %q, want Deny under the default deny", p)
	}

	if err := k8s.Delete(context.Background(), deny); err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, rt, EventPredictionChanged)
	rt = getTest(t, rt.Name)
	if p := rt.Status.Results[0].Predicted; p != v1alpha1.ExpectAllow {
		t.Errorf("after the deletion the status predicts %q, want Allow", p)
	}
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Regarding.UID == rt.UID && e.Reason == EventPredictionChanged {
			for _, words := range []string{"web-to-vault", "predicted Deny to predicted Allow", "NetworkPolicy " + dst + "/default-deny deleted"} {
				if !strings.Contains(e.Note, words) {
					t.Errorf("PredictionChanged says %q, want it to name %q", e.Note, words)
				}
			}
		}
	}
	if n := testutil.CollectAndCount(h.registry, "netconform_edge_prediction"); n != 1 {
		t.Errorf("netconform_edge_prediction has %d series, want 1", n)
	}

	// The run that follows confirms it: the dataplane lets the traffic through.
	rt = settle(t, h, rt.Name, everythingConnects)
	if r := rt.Status.Results[0]; r.Verdict != v1alpha1.VerdictFail || r.Predicted != v1alpha1.ExpectAllow {
		t.Errorf("the triggered run found %s predicted %s (%s), want Fail predicted Allow", r.Verdict, r.Predicted, r.Message)
	}
	waitForEvent(t, rt, EventEdgeRegressed)
	if n := testutil.CollectAndCount(h.registry, "netconform_change_to_verdict_seconds"); n != 2 {
		t.Errorf("netconform_change_to_verdict_seconds has %d series, want the predicted and probed stages", n)
	}
}

// TestBurstAndRunInProgress: fifty policies applied at once become at most two runs; a
// run in progress is not interrupted by the changes that come during it, and is followed
// by exactly one more.
func TestBurstAndRunInProgress(t *testing.T) {
	src := newNamespace(t, "burst")
	dst := plainNamespace(t, "burst-db")
	readyPod(t, dst, "db-0", map[string]string{"app": "db"}, "10.244.4.7")
	h := startManager(t, followingOptions())
	rt := createTest(t, "burst", v1alpha1.ReachabilityTestSpec{RerunOn: bothTriggers, Edges: []v1alpha1.Edge{
		podsEdge("client-to-db", src, map[string]string{"app": "client"}, dst, map[string]string{"app": "db"}, 5432, v1alpha1.ExpectAllow),
	}})
	settle(t, h, rt.Name, asExpected)

	for i := range 50 {
		createPolicy(t, dst, fmt.Sprintf("allow-%d", i), map[string]string{"app": "db"})
	}
	waitForObserved(t, h, rt.Name, 50)
	settle(t, h, rt.Name, asExpected)
	// Events are written asynchronously: wait for the first triggered run's.
	if runs := len(waitForRuns(t, rt, 2)) - 1; runs < 1 || runs > 2 {
		t.Errorf("50 policy changes made %d runs, want 1 or 2", runs)
	}

	// A run in progress, and changes during it.
	before := len(runStartNotes(t, rt))
	createPolicy(t, src, "egress", map[string]string{"app": "client"}, networkingv1.PolicyTypeEgress)
	var active *v1alpha1.Run
	eventually(t, 20*time.Second, "the triggered run", func(context.Context) (bool, error) {
		active = getTest(t, rt.Name).Status.ActiveRun
		return active != nil, nil
	})
	pods := waitForPods(t, rt, 1)
	for i := range 3 {
		createPolicy(t, dst, fmt.Sprintf("during-%d", i), map[string]string{"app": "db"})
	}
	waitForObserved(t, h, rt.Name, 54)
	if now := getTest(t, rt.Name).Status.ActiveRun; now == nil || now.ID != active.ID {
		t.Fatalf("the run in progress %s was replaced by %+v", active.ID, now)
	}
	finishPod(t, &pods[0], asExpected)
	settle(t, h, rt.Name, asExpected)
	notes := waitForRuns(t, rt, before+2)
	if after := len(notes) - before; after != 2 {
		t.Errorf("%d runs after the change, want the run in progress and one more: %q", after, notes[before:])
	}
	if last := notes[len(notes)-1]; !strings.Contains(last, "and 2 more changes") {
		t.Errorf("the run after the one in progress says %q, want it to cover the 3 changes made during it", last)
	}
}

// A canary's policies come and go with every canary run and select its own pods only:
// following them would have canaries re-run tests, and tests re-run canaries.
func TestCanaryPoliciesTriggerNothing(t *testing.T) {
	test := &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "guards-the-manager"},
		Spec: v1alpha1.ReachabilityTestSpec{RerunOn: bothTriggers, Edges: []v1alpha1.Edge{
			podsEdge("to-metrics", "netconform-system", map[string]string{"app": "intruder"}, "netconform-system", map[string]string{"app": "manager"}, 8443, v1alpha1.ExpectDeny),
		}},
	}
	reader := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(test).Build()
	c := newChanges(reader, DefaultOptions().Rerun, time.Now, logr.Discard())
	handler := c.policyHandler(func() {})
	canaryPolicy := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "netconform-system", Name: "canary-deny-all",
		Labels: map[string]string{canary.LabelCanary: "c1"}}}
	handler.OnAdd(canaryPolicy, false)
	handler.OnDelete(canaryPolicy)
	if n := c.observedFor(test.Name); n != 0 {
		t.Fatalf("the canary's policies affected the test %d times, want none", n)
	}
	handler.OnAdd(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "netconform-system", Name: "deny-all"}}, false)
	if n := c.observedFor(test.Name); n != 1 {
		t.Errorf("a default deny of the destination's namespace affected the test %d times, want 1", n)
	}
}

// The canary's ClusterNetworkPolicies are cluster-wide, yet select its own pods only:
// they re-run no test, while any other ClusterNetworkPolicy may affect every test.
func TestCanaryClusterPoliciesTriggerNothing(t *testing.T) {
	test := &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "follows-cluster-policies"},
		Spec: v1alpha1.ReachabilityTestSpec{RerunOn: bothTriggers, Edges: []v1alpha1.Edge{
			podsEdge("a-to-b", "a", map[string]string{"app": "a"}, "b", map[string]string{"app": "b"}, 80, v1alpha1.ExpectAllow),
		}},
	}
	reader := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(test).Build()
	r := &ReachabilityTestReconciler{Now: time.Now, changes: newChanges(reader, DefaultOptions().Rerun, time.Now, logr.Discard())}
	handler := r.clusterPolicyHandler("ClusterNetworkPolicy")
	names := canary.Names{ID: "c1", Namespace: "netconform-system"}
	for _, p := range []*cnpv1beta1.ClusterNetworkPolicy{canary.AdminDeny(names), canary.BaselineDeny(names)} {
		handler.OnAdd(metadataOf(p), false)
		handler.OnDelete(metadataOf(p))
	}
	if n := r.changes.observedFor(test.Name); n != 0 {
		t.Fatalf("the canary's ClusterNetworkPolicies affected the test %d times, want none", n)
	}
	other := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "admin-deny-all"}}
	handler.OnAdd(other, false)
	if n := r.changes.observedFor(test.Name); n != 1 {
		t.Errorf("a ClusterNetworkPolicy of the cluster's affected the test %d times, want 1", n)
	}
}

// metadataOf is an object as the manager's metadata informer hands it over.
func metadataOf(obj *cnpv1beta1.ClusterNetworkPolicy) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: obj.ObjectMeta}
}
