package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

func serviceEdge(name, fromNS string, labels map[string]string, svc, svcNS string, port int, expect v1alpha1.Expectation) v1alpha1.Edge {
	return v1alpha1.Edge{
		Name:   name,
		From:   v1alpha1.Source{Namespace: fromNS, PodLabels: labels},
		To:     v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Name: svc, Namespace: svcNS, Port: intstr.FromInt(port)}},
		Expect: expect,
	}
}

func hostEdge(name, fromNS string, labels map[string]string, host string, port int32, expect v1alpha1.Expectation) v1alpha1.Edge {
	return v1alpha1.Edge{
		Name:   name,
		From:   v1alpha1.Source{Namespace: fromNS, PodLabels: labels},
		To:     v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: host, Port: port}},
		Expect: expect,
	}
}

func TestProbePodsAreRestrictedOwnedAndLabelled(t *testing.T) {
	ns := newNamespace(t, "shop")
	startManager(t, SetupOptions{})
	storefront := map[string]string{"app": "storefront"}
	rt := createTest(t, "pods-spec", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		serviceEdge("storefront-to-catalog", ns, storefront, "catalog", ns, 8080, v1alpha1.ExpectAllow),
		serviceEdge("storefront-to-postgres", ns, storefront, "postgres", ns, 5432, v1alpha1.ExpectDeny),
		hostEdge("intruder-to-postgres", ns, nil, "10.0.0.9", 5432, v1alpha1.ExpectDeny),
	}})

	// The namespace enforces the restricted Pod Security Standard, so every pod that
	// exists was admitted by the API server's PodSecurity plugin.
	pods := waitForPods(t, rt, 2)
	byApp := map[string]corev1.Pod{}
	for _, p := range pods {
		byApp[p.Labels["app"]] = p
	}
	sf, ok := byApp["storefront"]
	if !ok {
		t.Fatalf("no probe pod carries app=storefront: %v", pods)
	}
	checks, err := probes.ChecksOf(&sf)
	if err != nil || len(checks) != 2 {
		t.Fatalf("storefront pod carries %d checks (%v), want both storefront edges", len(checks), err)
	}
	for _, p := range pods {
		for k := range p.Labels {
			if k != "app" && !strings.HasPrefix(k, "netconform.io/") {
				t.Errorf("pod %s has label %s, want only the source's labels and netconform.io/ ones", p.Name, k)
			}
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != rt.UID || p.OwnerReferences[0].Kind != "ReachabilityTest" {
			t.Errorf("pod %s is owned by %v, want the test alone", p.Name, p.OwnerReferences)
		}
		if p.Labels[probes.TestLabel(rt.UID)] == "" || p.Labels[probes.LabelRun] == "" {
			t.Errorf("pod %s labels %v lack the test and run", p.Name, p.Labels)
		}
	}
	assertRestrictedIsEnforced(t, ns)
	rt = getTest(t, rt.Name)
	if c := condition(rt, v1alpha1.ConditionCompleted); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonRunning {
		t.Errorf("Completed = %+v while the pods run, want False/Running", c)
	}
	if rt.Status.ActiveRun == nil || rt.Status.ActiveRun.ID != pods[0].Labels[probes.TestLabel(rt.UID)] {
		t.Errorf("activeRun %+v does not name the pods' run %s", rt.Status.ActiveRun, pods[0].Labels[probes.TestLabel(rt.UID)])
	}
}

// Each check a probe pod carries says what the policies allowed when the run was
// planned, so that the probe waits for the enforcer only while the dataplane disagrees.
func TestProbePodsCarryWhatThePoliciesAllow(t *testing.T) {
	open, locked := newNamespace(t, "open"), newNamespace(t, "locked")
	denyEgress := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-egress", Namespace: locked},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	if err := k8s.Create(context.Background(), denyEgress); err != nil {
		t.Fatalf("creating the policy: %v", err)
	}
	startManager(t, SetupOptions{})
	rt := createTest(t, "verdicts", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("open-to-host", open, nil, "10.0.0.9", 443, v1alpha1.ExpectAllow),
		hostEdge("locked-to-host", locked, nil, "10.0.0.9", 443, v1alpha1.ExpectAllow),
	}})
	want := map[string]probes.PolicyVerdict{"open-to-host": probes.PolicyAllows, "locked-to-host": probes.PolicyDenies}
	for _, pod := range waitForPods(t, rt, 2) {
		checks, err := probes.ChecksOf(&pod)
		if err != nil || len(checks) != 1 {
			t.Fatalf("pod %s carries %v (%v), want one check", pod.Name, checks, err)
		}
		if c := checks[0]; c.Policy != want[c.Edge] {
			t.Errorf("check of %s carries the policy verdict %q, want %q", c.Edge, c.Policy, want[c.Edge])
		}
	}
}

// assertRestrictedIsEnforced shows that the namespace's admission really rejects a pod
// that breaks the restricted standard, so the probe pods' admission means something.
func assertRestrictedIsEnforced(t *testing.T, ns string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "not-restricted", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "netconform:test"}}},
	}
	err := k8s.Create(context.Background(), pod)
	if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
		t.Fatalf("a non-compliant pod in %s was not rejected by PodSecurity: %v", ns, err)
	}
}

func TestRunCompletesFromTerminationMessages(t *testing.T) {
	ns := newNamespace(t, "shop")
	h := startManager(t, SetupOptions{})
	front := map[string]string{"app": "front"}
	back := map[string]string{"app": "back"}
	rt := createTest(t, "complete", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("front-to-api", ns, front, "10.0.0.1", 8080, v1alpha1.ExpectAllow),
		hostEdge("back-to-api-denied", ns, back, "10.0.0.1", 8080, v1alpha1.ExpectDeny),
		hostEdge("front-to-db", ns, front, "10.0.0.2", 5432, v1alpha1.ExpectDeny),
		hostEdge("front-to-cache", ns, front, "10.0.0.3", 6379, v1alpha1.ExpectAllow),
	}})
	pods := waitForPods(t, rt, 2)
	answer := func(c probes.Check) probes.Result {
		switch c.Edge {
		case "front-to-cache": // an outage: the allowed edge is blocked
			return probes.Result{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Target: c.Address(), Latency: 2 * time.Second}
		case "front-to-db": // refused, but nothing shows that 10.0.0.2:5432 listens
			return probes.Result{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: c.Address()}
		}
		return asExpected(c)
	}
	for i := range pods {
		finishPod(t, &pods[i], answer)
	}
	rt = waitForCompleted(t, rt.Name)

	want := map[string]struct {
		observed v1alpha1.Observation
		verdict  v1alpha1.Verdict
	}{
		"front-to-api":       {v1alpha1.ObservedConnected, v1alpha1.VerdictPass},
		"back-to-api-denied": {v1alpha1.ObservedRefused, v1alpha1.VerdictPass}, // front-to-api connected to the same address
		"front-to-db":        {v1alpha1.ObservedRefused, v1alpha1.VerdictInconclusive},
		"front-to-cache":     {v1alpha1.ObservedTimeout, v1alpha1.VerdictFail},
	}
	if len(rt.Status.Results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(rt.Status.Results), len(want), rt.Status.Results)
	}
	for _, r := range rt.Status.Results {
		w := want[r.Edge]
		if r.Observed != w.observed || r.Verdict != w.verdict {
			t.Errorf("%s: observed %s verdict %s, want %s %s (%s)", r.Edge, r.Observed, r.Verdict, w.observed, w.verdict, r.Message)
		}
	}
	if got := *rt.Status.Summary; got != (v1alpha1.Summary{Edges: 4, Passed: 2, Failed: 1, Inconclusive: 1}) {
		t.Errorf("summary %+v", got)
	}
	if c := condition(rt, v1alpha1.ConditionPassed); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonEdgesFailed {
		t.Errorf("Passed = %+v, want False/EdgesFailed", c)
	}
	if rt.Status.ObservedGeneration != rt.Generation || rt.Status.ActiveRun != nil || rt.Status.LastRunCompletionTime == nil {
		t.Errorf("status after the run: observedGeneration %d (generation %d), activeRun %v, completion %v",
			rt.Status.ObservedGeneration, rt.Generation, rt.Status.ActiveRun, rt.Status.LastRunCompletionTime)
	}
	waitForPods(t, rt, 0) // read pods are deleted
	waitForEvent(t, rt, EventRunFailed)

	violations := `
# HELP netconform_violations_total Runs in which an edge did not do what it declared: unexpected_allow (a security hole) or unexpected_deny (an outage).
# TYPE netconform_violations_total counter
netconform_violations_total{edge="front-to-cache",kind="unexpected_deny",test="complete"} 1
`
	if err := testutil.GatherAndCompare(h.registry, strings.NewReader(violations), "netconform_violations_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(h.registry, "netconform_edge_verdict"); n != 4*3 {
		t.Errorf("netconform_edge_verdict has %d series, want 3 per edge", n)
	}
	if err := k8s.Delete(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the deleted test's series to go", func(context.Context) (bool, error) {
		return testutil.CollectAndCount(h.registry, "netconform_violations_total", "netconform_edge_verdict") == 0, nil
	})
}

func TestDenyEvidenceFromReadyEndpoints(t *testing.T) {
	ns := newNamespace(t, "db")
	createService(t, ns, "postgres", 5432, true)
	createService(t, ns, "stopped", 5432, false)
	startManager(t, SetupOptions{})
	web := map[string]string{"app": "web"}
	rt := createTest(t, "evidence", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		serviceEdge("web-to-postgres", ns, web, "postgres", ns, 5432, v1alpha1.ExpectDeny),
		serviceEdge("web-to-stopped", ns, web, "stopped", ns, 5432, v1alpha1.ExpectDeny),
	}})
	pods := waitForPods(t, rt, 1)
	finishPod(t, &pods[0], func(c probes.Check) probes.Result {
		return probes.Result{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: "10.96.0." + map[string]string{"web-to-postgres": "5", "web-to-stopped": "6"}[c.Edge] + ":5432"}
	})
	rt = waitForCompleted(t, rt.Name)
	verdicts := map[string]v1alpha1.Verdict{}
	for _, r := range rt.Status.Results {
		verdicts[r.Edge] = r.Verdict
	}
	if verdicts["web-to-postgres"] != v1alpha1.VerdictPass || verdicts["web-to-stopped"] != v1alpha1.VerdictInconclusive {
		t.Errorf("verdicts %v: want Pass for a Service with a ready endpoint, Inconclusive for one without", verdicts)
	}
}

// createService creates a Service on port and an EndpointSlice whose one endpoint is
// ready or not (envtest runs no EndpointSlice controller).
func createService(t *testing.T, ns, name string, port int32, ready bool) {
	t.Helper()
	ctx := context.Background()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "main", Port: port, Protocol: corev1.ProtocolTCP}}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("main"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, obj := range []client.Object{svc, slice} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRestartMidRunResumesWithoutDuplicates(t *testing.T) {
	ns := newNamespace(t, "restart")
	first := startManager(t, SetupOptions{})
	rt := createTest(t, "restart", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("a-to-x", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
		hostEdge("b-to-x", ns, map[string]string{"app": "b"}, "10.0.0.1", 80, v1alpha1.ExpectDeny),
	}})
	before := waitForPods(t, rt, 2)
	runID := getTest(t, rt.Name).Status.ActiveRun.ID
	first.stop() // the manager dies mid-run

	// One pod finishes while no manager runs; the other after the new one starts.
	finishPod(t, &before[0], asExpected)
	startManager(t, SetupOptions{})
	finishPod(t, &before[1], asExpected)
	rt = waitForCompleted(t, rt.Name)

	if rt.Status.LastRunStartTime == nil || len(rt.Status.Results) != 2 {
		t.Fatalf("status after resuming: %+v", rt.Status)
	}
	for _, r := range rt.Status.Results {
		if r.Verdict != v1alpha1.VerdictPass {
			t.Errorf("%s: %s %s (%s)", r.Edge, r.Observed, r.Verdict, r.Message)
		}
	}
	if !strings.Contains(condition(rt, v1alpha1.ConditionCompleted).Message, runID) {
		t.Errorf("completed run is %q, want the run %s that was in progress", condition(rt, v1alpha1.ConditionCompleted).Message, runID)
	}
	waitForPods(t, rt, 0)
	if n := countEvents(t, rt, EventRunStarted); n != 1 {
		t.Errorf("%d RunStarted events, want 1: the restart must not start another run", n)
	}
}

func TestRejectedProbePodBecomesError(t *testing.T) {
	ns := newNamespace(t, "quota")
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-pods", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}},
	}
	if err := k8s.Create(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	// Play the quota controller, which envtest does not run: admission enforces the status.
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}}
	if err := k8s.Status().Update(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	h := startManager(t, SetupOptions{})
	rt := createTest(t, "rejected", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("blocked-by-quota", ns, nil, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}})
	rt = waitForCompleted(t, rt.Name)
	r := rt.Status.Results[0]
	if r.Observed != v1alpha1.ObservedError || r.Verdict != v1alpha1.VerdictInconclusive || !strings.Contains(r.Message, "rejected") {
		t.Errorf("result %+v, want Error/Inconclusive saying the pod was rejected", r)
	}
	waitForEvent(t, rt, EventProbePodFailed)
	if v := testutil.ToFloat64(h.rec.Metrics.probeErrors.WithLabelValues(FailureRejected)); v != 1 {
		t.Errorf("probe errors for %s = %v, want 1", FailureRejected, v)
	}
}

func TestProbePodThatNeverStartsEndsInError(t *testing.T) {
	ns := newNamespace(t, "stuck")
	startManager(t, SetupOptions{Options: Options{PodStartTimeout: 2 * time.Second}})
	rt := createTest(t, "never-starts", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("unschedulable", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
		hostEdge("image-missing", ns, map[string]string{"app": "b"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}})
	pods := waitForPods(t, rt, 2)
	for i := range pods {
		if pods[i].Labels["app"] != "b" {
			continue // envtest has no scheduler: this pod stays Pending
		}
		setPodStatus(t, &pods[i], corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name:  probes.ContainerName,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}},
		}}})
	}
	rt = waitForCompleted(t, rt.Name)
	msgs := map[string]string{}
	for _, r := range rt.Status.Results {
		if r.Observed != v1alpha1.ObservedError {
			t.Errorf("%s observed %s, want Error", r.Edge, r.Observed)
		}
		msgs[r.Edge] = r.Message
	}
	if !strings.Contains(msgs["unschedulable"], "did not start within 2s") {
		t.Errorf("unschedulable: %q", msgs["unschedulable"])
	}
	if !strings.Contains(msgs["image-missing"], "ErrImageNeverPull") {
		t.Errorf("image-missing: %q", msgs["image-missing"])
	}
}

func TestSpecChangeStartsNewRun(t *testing.T) {
	ns := newNamespace(t, "change")
	startManager(t, SetupOptions{})
	rt := createTest(t, "change", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("a", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}})
	pods := waitForPods(t, rt, 1)
	firstRun := pods[0].Labels[probes.TestLabel(rt.UID)]

	// Change the spec while the first run is still going: its pods are abandoned.
	rt = getTest(t, rt.Name)
	rt.Spec.Edges = append(rt.Spec.Edges, hostEdge("b", ns, map[string]string{"app": "b"}, "10.0.0.1", 81, v1alpha1.ExpectAllow))
	if err := k8s.Update(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	var second []corev1.Pod
	eventually(t, 20*time.Second, "the second generation's pods", func(context.Context) (bool, error) {
		second = probePodsOf(t, rt)
		return len(second) == 2 && second[0].Labels[probes.TestLabel(rt.UID)] != firstRun && second[1].Labels[probes.TestLabel(rt.UID)] != firstRun, nil
	})
	for i := range second {
		finishPod(t, &second[i], asExpected)
	}
	rt = waitForCompleted(t, rt.Name)
	if rt.Status.ObservedGeneration != 2 || len(rt.Status.Results) != 2 {
		t.Errorf("observedGeneration %d with %d results, want generation 2 with both edges", rt.Status.ObservedGeneration, len(rt.Status.Results))
	}
}

func TestConcurrentProbePodsStayUnderTheCap(t *testing.T) {
	ns := newNamespace(t, "cap")
	startManager(t, SetupOptions{Options: Options{MaxConcurrentProbePods: 1}})
	var edges []v1alpha1.Edge
	for _, app := range []string{"a", "b", "c"} {
		edges = append(edges, hostEdge("from-"+app, ns, map[string]string{"app": app}, "10.0.0.1", 80, v1alpha1.ExpectAllow))
	}
	rt := createTest(t, "capped", v1alpha1.ReachabilityTestSpec{Edges: edges})
	seen := map[string]bool{}
	for len(seen) < 3 {
		running := waitForRunningPod(t, rt, seen)
		seen[running.Name] = true
		finishPod(t, &running, asExpected)
	}
	rt = waitForCompleted(t, rt.Name)
	if rt.Status.Summary.Passed != 3 {
		t.Errorf("summary %+v, want all 3 edges passed", rt.Status.Summary)
	}
}

// waitForRunningPod waits for exactly one unfinished probe pod that is new, and fails if
// ever more than one runs at once.
func waitForRunningPod(t *testing.T, rt *v1alpha1.ReachabilityTest, seen map[string]bool) corev1.Pod {
	t.Helper()
	var found corev1.Pod
	eventually(t, 20*time.Second, "the next probe pod", func(context.Context) (bool, error) {
		var running []corev1.Pod
		for _, p := range probePodsOf(t, rt) {
			if p.Status.Phase != corev1.PodSucceeded {
				running = append(running, p)
			}
		}
		if len(running) > 1 {
			t.Fatalf("%d probe pods run at once under a cap of 1", len(running))
		}
		if len(running) == 1 && !seen[running[0].Name] {
			found = running[0]
			return true, nil
		}
		return false, nil
	})
	return found
}

func waitForEvent(t *testing.T, rt *v1alpha1.ReachabilityTest, reason string) {
	t.Helper()
	eventually(t, 10*time.Second, "event "+reason, func(context.Context) (bool, error) {
		return countEvents(t, rt, reason) > 0, nil
	})
}

func countEvents(t *testing.T, rt *v1alpha1.ReachabilityTest, reason string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	return len(slices.DeleteFunc(list.Items, func(e eventsv1.Event) bool {
		return e.Regarding.UID != rt.UID || e.Reason != reason
	}))
}
