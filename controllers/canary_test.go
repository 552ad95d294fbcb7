package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	cnp "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
)

// simulatedDataplane plays the canary client against the real API server: each time its
// log is read, it looks at the canary's policies there and says whether the client gets
// through on a dataplane that enforces the given directions.
type simulatedDataplane struct {
	ingressEnforced, egressEnforced bool
	// adminEnforced and baselineEnforced: the dataplane implements that tier's Deny.
	adminEnforced, baselineEnforced bool

	mu       sync.Mutex
	timeline []canary.Change
	// clusterPolicies are the canary's ClusterNetworkPolicies seen, by name, each with
	// the NetworkPolicies and ClusterNetworkPolicies in place alongside it.
	clusterPolicies map[string]seenClusterPolicy
}

type seenClusterPolicy struct {
	policy    cnp.ClusterNetworkPolicy
	alongside []string
}

func (d *simulatedDataplane) logs(ctx context.Context, namespace, _, _ string) ([]byte, error) {
	var list networkingv1.NetworkPolicyList
	if err := k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var cluster cnp.ClusterNetworkPolicyList
	// Where the API is not served, there is no ClusterNetworkPolicy to enforce. The
	// shared client maps the kind once another test installed its CRD, and then finds
	// no resource once that test removed it.
	if err := k8s.List(ctx, &cluster, client.HasLabels{canary.LabelCanary}); err != nil && !meta.IsNoMatchError(err) && !apierrors.IsNotFound(err) {
		return nil, err
	}
	has := func(suffix string) bool {
		return slices.ContainsFunc(list.Items, func(p networkingv1.NetworkPolicy) bool { return strings.HasSuffix(p.Name, suffix) })
	}
	hasCluster := func(suffix string) bool {
		return slices.ContainsFunc(cluster.Items, func(p cnp.ClusterNetworkPolicy) bool { return strings.HasSuffix(p.Name, suffix) })
	}
	d.see(list.Items, cluster.Items)
	var connected bool
	switch {
	case hasCluster("-admin-deny") && d.adminEnforced:
	case len(list.Items) == 0: // no NetworkPolicy selects the canary's pods
		connected = !hasCluster("-baseline-deny") || !d.baselineEnforced
	default:
		connected = (has("-allow-ingress") || !d.ingressEnforced) && (has("-allow-egress") || !d.egressEnforced)
	}
	obs := v1alpha1.ObservedRefused
	if connected {
		obs = v1alpha1.ObservedConnected
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.timeline); n == 0 || d.timeline[n-1].Observed != obs {
		d.timeline = append(d.timeline, canary.Change{At: time.Now(), Observed: obs})
	}
	var b strings.Builder
	for _, c := range d.timeline {
		fmt.Fprintln(&b, canary.FormatChange(c))
	}
	return []byte(b.String()), nil
}

func (d *simulatedDataplane) see(policies []networkingv1.NetworkPolicy, cluster []cnp.ClusterNetworkPolicy) {
	var names []string
	for _, p := range policies {
		names = append(names, p.Name)
	}
	for _, p := range cluster {
		names = append(names, p.Name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.clusterPolicies == nil {
		d.clusterPolicies = map[string]seenClusterPolicy{}
	}
	for _, p := range cluster {
		d.clusterPolicies[p.Name] = seenClusterPolicy{policy: p, alongside: names}
	}
}

// canaryTest is a test with a canary of NetworkPolicy only: the admin tier has tests of
// its own.
func canaryTest(t *testing.T, name, namespace string, edges ...v1alpha1.Edge) *v1alpha1.ReachabilityTest {
	t.Helper()
	return createTest(t, name, v1alpha1.ReachabilityTestSpec{
		Edges:  edges,
		Canary: &v1alpha1.CanarySpec{Namespace: namespace, TimeoutSeconds: 3, AdminTier: v1alpha1.AdminTierSkip},
	})
}

// runCanaryPods plays the kubelet for a test's canary: the server runs with an address,
// then the client, which must be told that address, runs.
func runCanaryPods(t *testing.T, rt *v1alpha1.ReachabilityTest, namespace string, notUIDs ...types.UID) (server, client *corev1.Pod) {
	t.Helper()
	names := canary.NamesFor(rt, namespace)
	server = waitForPod(t, namespace, names.Server(), notUIDs...)
	setPodStatus(t, server, servingStatus("10.244.0.10"))
	client = waitForPod(t, namespace, names.Client(), notUIDs...)
	if args := strings.Join(client.Spec.Containers[0].Args, " "); !strings.Contains(args, "--target=10.244.0.10:8080") {
		t.Fatalf("client args %q do not target the server's address", args)
	}
	setPodStatus(t, client, servingStatus("10.244.0.11"))
	return server, client
}

// servingStatus is a pod's status once its container runs: Running and Ready.
func servingStatus(ip string) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
}

// waitForDenyPhases waits until every pair of the canary is past its Allowed phase: the
// deny-all is in place and no egress allow is, so a client's denials now count.
func waitForDenyPhases(t *testing.T, namespace string) {
	t.Helper()
	eventually(t, 20*time.Second, "the canary's deny phases", func(context.Context) (bool, error) {
		names := canaryPolicies(t, namespace)
		deny := slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "-deny") })
		return deny && !slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "-allow-egress") }), nil
	})
}

// waitForPod waits for a live pod of that name, other than the pods notUIDs name.
func waitForPod(t *testing.T, namespace, name string, notUIDs ...types.UID) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	eventually(t, 20*time.Second, "pod "+namespace+"/"+name, func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod)
		return err == nil && pod.DeletionTimestamp == nil && !slices.Contains(notUIDs, pod.UID), client.IgnoreNotFound(err)
	})
	return pod
}

func canaryPolicies(t *testing.T, namespace string) []string {
	t.Helper()
	var list networkingv1.NetworkPolicyList
	if err := k8s.List(context.Background(), &list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

func TestCanaryFindsWhatTheDataplaneEnforces(t *testing.T) {
	tests := []struct {
		name            string
		plane           *simulatedDataplane
		reason          string
		enforced        metav1.ConditionStatus
		ingress, egress v1alpha1.Enforcement
	}{
		{"enforcing", &simulatedDataplane{ingressEnforced: true, egressEnforced: true}, v1alpha1.ReasonEnforced, metav1.ConditionTrue, v1alpha1.Enforced, v1alpha1.Enforced},
		{"no-op", &simulatedDataplane{}, v1alpha1.ReasonNotEnforced, metav1.ConditionFalse, v1alpha1.NotEnforced, v1alpha1.NotEnforced},
		{"ingress only", &simulatedDataplane{ingressEnforced: true}, v1alpha1.ReasonEgressNotEnforced, metav1.ConditionFalse, v1alpha1.Enforced, v1alpha1.NotEnforced},
		{"egress only", &simulatedDataplane{egressEnforced: true}, v1alpha1.ReasonIngressNotEnforced, metav1.ConditionFalse, v1alpha1.NotEnforced, v1alpha1.Enforced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t, "canary")
			h := startManager(t, SetupOptions{PodLogs: tt.plane.logs})
			rt := canaryTest(t, "canary-"+strings.ReplaceAll(tt.name, " ", "-"), ns)
			runCanaryPods(t, rt, ns)
			rt = waitForCompleted(t, rt.Name)

			cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced)
			if cond == nil || cond.Status != tt.enforced || cond.Reason != tt.reason {
				t.Fatalf("NetworkPolicyEnforced = %+v, want %s/%s", cond, tt.enforced, tt.reason)
			}
			c := rt.Status.Canary
			if c == nil || c.Ingress != tt.ingress || c.Egress != tt.egress {
				t.Fatalf("status.canary = %+v, want ingress %s, egress %s", c, tt.ingress, tt.egress)
			}
			passed := condition(rt, v1alpha1.ConditionPassed)
			if wantPassed := tt.reason == v1alpha1.ReasonEnforced; (passed.Status == metav1.ConditionTrue) != wantPassed {
				t.Errorf("Passed = %s (%s), want %v for a canary-only test that found %s", passed.Status, passed.Message, wantPassed, tt.reason)
			}
			if tt.reason != v1alpha1.ReasonNotEnforced && c.EnforcementLatencyMilliseconds == nil {
				t.Errorf("no enforcement latency although the deny applied")
			}
			// The metrics read the cache, and the policies go after the status is written.
			eventually(t, 10*time.Second, "2 directions x 3 states of netconform_canary_enforcement", func(context.Context) (bool, error) {
				return testutil.CollectAndCount(h.registry, "netconform_canary_enforcement") == 6, nil
			})
			measured := 0
			if c.EnforcementLatencyMilliseconds != nil {
				measured = 1
			}
			for _, metric := range []string{"netconform_canary_enforcement_latency_seconds", "netconform_canary_last_enforcement_latency_seconds"} {
				eventually(t, 10*time.Second, fmt.Sprintf("%d series of %s", measured, metric), func(context.Context) (bool, error) {
					return testutil.CollectAndCount(h.registry, metric) == measured, nil
				})
			}
			eventually(t, 10*time.Second, "the canary's policies to go", func(context.Context) (bool, error) {
				return len(canaryPolicies(t, ns)) == 0, nil
			})
			waitForPods(t, rt, 0)
			reason := EventNetworkPolicyNotEnforced
			if tt.reason == v1alpha1.ReasonEnforced {
				reason = EventNetworkPolicyEnforced
			}
			waitForEvent(t, rt, reason)
		})
	}
}

// The canary's policies select only its own two pods.
func TestCanaryPoliciesSelectOnlyCanaryPods(t *testing.T) {
	ns := newNamespace(t, "canary")
	plane := &simulatedDataplane{ingressEnforced: true, egressEnforced: true}
	startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := canaryTest(t, "canary-selectors", ns)
	eventually(t, 20*time.Second, "the canary's policies", func(context.Context) (bool, error) {
		return len(canaryPolicies(t, ns)) == 3, nil
	})
	var list networkingv1.NetworkPolicyList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	id := canary.NamesFor(rt, ns).ID
	for _, p := range list.Items {
		if p.Spec.PodSelector.MatchLabels[canary.LabelCanary] != id || len(p.Spec.PodSelector.MatchExpressions) > 0 {
			t.Errorf("policy %s selects %+v, not only this canary's pods", p.Name, p.Spec.PodSelector)
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != rt.UID {
			t.Errorf("policy %s is not owned by its test: %+v", p.Name, p.OwnerReferences)
		}
	}
	runCanaryPods(t, rt, ns)
	waitForCompleted(t, rt.Name)
}

func TestCanaryAndEdgesCompleteTogether(t *testing.T) {
	ns := newNamespace(t, "canary")
	plane := &simulatedDataplane{}
	startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := canaryTest(t, "canary-with-edges", ns, hostEdge("a-to-x", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow))
	runCanaryPods(t, rt, ns)
	probe := waitForPods(t, rt, 3) // the probe pod and the canary's two
	for i := range probe {
		if _, isCanary := probe[i].Labels[canary.LabelCanary]; !isCanary {
			finishPod(t, &probe[i], asExpected)
		}
	}
	rt = waitForCompleted(t, rt.Name)
	if rt.Status.Summary.Passed != 1 {
		t.Fatalf("edge results: %+v", rt.Status.Results)
	}
	passed := condition(rt, v1alpha1.ConditionPassed)
	if passed.Status != metav1.ConditionFalse || passed.Reason != v1alpha1.ReasonCanaryNotEnforced || !strings.Contains(passed.Message, "say nothing about the policies") {
		t.Fatalf("Passed = %+v: edges that pass on a dataplane that enforces nothing must not pass the test", passed)
	}
}

// A client whose server stopped serving mid-run sees refusals that look like denials:
// the canary must not call them enforcement.
func TestCanaryWhoseServerStopsMidRunIsNotEnforced(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, server *corev1.Pod)
		// mention must be in the condition's message.
		mention string
	}{
		{"deleted", func(t *testing.T, server *corev1.Pod) {
			if err := k8s.Delete(context.Background(), server); err != nil {
				t.Fatal(err)
			}
		}, "went away"},
		{"not ready", func(t *testing.T, server *corev1.Pod) {
			status := servingStatus("10.244.0.10")
			status.Conditions[0].Status = corev1.ConditionFalse
			setPodStatus(t, server, status)
		}, "stopped being Ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t, "canary")
			plane := &simulatedDataplane{ingressEnforced: true, egressEnforced: true}
			startManager(t, SetupOptions{PodLogs: plane.logs})
			rt := canaryTest(t, "canary-server-"+strings.ReplaceAll(tt.name, " ", "-"), ns)
			server, _ := runCanaryPods(t, rt, ns)
			waitForDenyPhases(t, ns)
			tt.stop(t, server)
			rt = waitForCompleted(t, rt.Name)
			cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced)
			want := fmt.Sprintf("canary server pod %s/%s %s", ns, server.Name, tt.mention)
			if cond.Status != metav1.ConditionUnknown || cond.Reason != v1alpha1.ReasonCanaryFailed || !strings.Contains(cond.Message, want) {
				t.Fatalf("NetworkPolicyEnforced = %+v, want Unknown/CanaryFailed saying %q", cond, want)
			}
			if c := rt.Status.Canary; c.Ingress != v1alpha1.Unknown || c.Egress != v1alpha1.Unknown {
				t.Errorf("status.canary = %+v, want both directions Unknown", c)
			}
			waitForEvent(t, rt, EventCanaryFailed)
		})
	}
}

func TestCanaryPodThatCannotStartEndsInCanaryFailed(t *testing.T) {
	ns := newNamespace(t, "canary")
	plane := &simulatedDataplane{}
	startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := canaryTest(t, "canary-no-image", ns)
	server := waitForPod(t, ns, canary.NamesFor(rt, ns).Server())
	setPodStatus(t, server, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: canary.ContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}},
	}}})
	rt = waitForCompleted(t, rt.Name)
	cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced)
	if cond.Status != metav1.ConditionUnknown || cond.Reason != v1alpha1.ReasonCanaryFailed || !strings.Contains(cond.Message, "ErrImageNeverPull") {
		t.Fatalf("NetworkPolicyEnforced = %+v", cond)
	}
	waitForEvent(t, rt, EventCanaryFailed)
}

func TestCanaryInAMissingNamespaceEndsInCanaryFailed(t *testing.T) {
	startManager(t, SetupOptions{PodLogs: (&simulatedDataplane{}).logs})
	rt := canaryTest(t, "canary-no-namespace", "does-not-exist")
	rt = waitForCompleted(t, rt.Name)
	cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced)
	if cond.Reason != v1alpha1.ReasonCanaryFailed || !strings.Contains(cond.Message, "does-not-exist") {
		t.Fatalf("NetworkPolicyEnforced = %+v", cond)
	}
}

// A manager that dies mid-canary leaves pods it does not remember: the next one starts
// the canary over and still reaches a finding, with one run.
func TestCanaryRestartsAfterAManagerRestart(t *testing.T) {
	ns := newNamespace(t, "canary")
	plane := &simulatedDataplane{ingressEnforced: true, egressEnforced: true}
	first := startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := canaryTest(t, "canary-restart", ns)
	server, client := runCanaryPods(t, rt, ns)
	eventually(t, 20*time.Second, "the canary to remove its allows", func(context.Context) (bool, error) {
		return len(canaryPolicies(t, ns)) == 1, nil
	})
	first.stop()
	startManager(t, SetupOptions{PodLogs: plane.logs})
	runCanaryPods(t, rt, ns, server.UID, client.UID) // the new manager replaces them
	rt = waitForCompleted(t, rt.Name)
	if cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced); cond.Reason != v1alpha1.ReasonEnforced {
		t.Fatalf("NetworkPolicyEnforced = %+v", cond)
	}
	if n := countEvents(t, rt, EventRunStarted); n != 1 {
		t.Errorf("%d RunStarted events, want 1", n)
	}
}

// The gate runs its canary in a namespace of its own, which it creates when missing.
func TestCanaryCreatesItsNamespaceWhenAllowed(t *testing.T) {
	const ns = "canary-created-on-demand"
	plane := &simulatedDataplane{ingressEnforced: true, egressEnforced: true}
	startManager(t, SetupOptions{PodLogs: plane.logs, Options: Options{CanaryNamespace: ns, CreateCanaryNamespace: true}})
	rt := createTest(t, "canary-own-namespace", v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{TimeoutSeconds: 3, AdminTier: v1alpha1.AdminTierSkip}})
	runCanaryPods(t, rt, ns)
	rt = waitForCompleted(t, rt.Name)
	if cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced); cond.Reason != v1alpha1.ReasonEnforced {
		t.Fatalf("NetworkPolicyEnforced = %+v", cond)
	}
	var created corev1.Namespace
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: ns}, &created); err != nil {
		t.Fatal(err)
	}
	if created.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("the canary namespace enforces %q, want restricted", created.Labels["pod-security.kubernetes.io/enforce"])
	}
}

// canaryClusterPolicies are the names of the canary ClusterNetworkPolicies in place.
func canaryClusterPolicies(t *testing.T) []string {
	t.Helper()
	var list cnp.ClusterNetworkPolicyList
	if err := k8s.List(context.Background(), &list, client.HasLabels{canary.LabelCanary}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// withClusterNetworkPolicyCRDs installs the module's ClusterNetworkPolicy CRDs for a
// test, and removes them after it if they were not there before: other tests start
// managers on a cluster without them.
func withClusterNetworkPolicyCRDs(t *testing.T) {
	t.Helper()
	requireAPIServer(t)
	if served(t, "policy.networking.k8s.io/v1beta1") {
		return
	}
	opts := envtest.CRDInstallOptions{Paths: []string{moduleCRDs(t)}, ErrorIfPathMissing: true}
	if _, err := envtest.InstallCRDs(apiServer, opts); err != nil {
		t.Fatalf("installing the ClusterNetworkPolicy CRDs: %v", err)
	}
	t.Cleanup(func() {
		if err := envtest.UninstallCRDs(apiServer, opts); err != nil {
			t.Errorf("removing the ClusterNetworkPolicy CRDs: %v", err)
		}
		eventually(t, 30*time.Second, "ClusterNetworkPolicy to be no longer served", func(context.Context) (bool, error) {
			return !served(t, "policy.networking.k8s.io/v1beta1"), nil
		})
	})
}

// Where ClusterNetworkPolicy is not served, the canary has no admin-tier phase and says
// so: Unknown, NotServed, no status, no series, no event.
func TestCanaryAdminTierNotServed(t *testing.T) {
	requireAPIServer(t)
	if served(t, "policy.networking.k8s.io/v1beta1") {
		t.Fatal("ClusterNetworkPolicy is served already: this test needs a cluster without it")
	}
	ns := newNamespace(t, "canary")
	plane := &simulatedDataplane{ingressEnforced: true, egressEnforced: true}
	h := startManager(t, SetupOptions{PodLogs: plane.logs})
	rt := createTest(t, "canary-tiers-not-served", v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{Namespace: ns, TimeoutSeconds: 2}})
	runCanaryPods(t, rt, ns)
	rt = waitForCompleted(t, rt.Name)
	cond := condition(rt, v1alpha1.ConditionClusterNetworkPolicyEnforced)
	if cond == nil || cond.Status != metav1.ConditionUnknown || cond.Reason != v1alpha1.ReasonNotServed || !strings.Contains(cond.Message, "not served") {
		t.Fatalf("ClusterNetworkPolicyEnforced = %+v, want Unknown/NotServed", cond)
	}
	if c := rt.Status.Canary; c == nil || c.AdminTier != nil || len(c.Phases) != 5 {
		t.Fatalf("status.canary = %+v, want the 5 NetworkPolicy phases and no admin tier", c)
	}
	if cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced); cond.Reason != v1alpha1.ReasonEnforced {
		t.Fatalf("NetworkPolicyEnforced = %+v", cond)
	}
	if n := testutil.CollectAndCount(h.registry, "netconform_canary_cluster_network_policy_enforcement"); n != 0 {
		t.Errorf("%d admin-tier series where the API is not served, want none", n)
	}
	for _, reason := range []string{EventClusterNetworkPolicyEnforced, EventClusterNetworkPolicyNotEnforced} {
		if n := countEvents(t, rt, reason); n != 0 {
			t.Errorf("%d %s events where the API is not served, want none", n, reason)
		}
	}
}

// Where ClusterNetworkPolicy is served, a canary checks the admin tier by default, with
// policies that select only its own pods, are owned by the test, and are gone when the
// phase and the run end.
func TestCanaryChecksTheAdminTier(t *testing.T) {
	withClusterNetworkPolicyCRDs(t)
	tests := []struct {
		name            string
		plane           *simulatedDataplane
		reason          string
		enforced        metav1.ConditionStatus
		admin, baseline v1alpha1.Enforcement
		event           string
	}{
		{"both tiers", &simulatedDataplane{ingressEnforced: true, egressEnforced: true, adminEnforced: true, baselineEnforced: true},
			v1alpha1.ReasonEnforced, metav1.ConditionTrue, v1alpha1.Enforced, v1alpha1.Enforced, EventClusterNetworkPolicyEnforced},
		{"no tier", &simulatedDataplane{ingressEnforced: true, egressEnforced: true},
			v1alpha1.ReasonNotEnforced, metav1.ConditionFalse, v1alpha1.NotEnforced, v1alpha1.NotEnforced, EventClusterNetworkPolicyNotEnforced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t, "canary")
			h := startManager(t, SetupOptions{PodLogs: tt.plane.logs})
			rt := createTest(t, "canary-tiers-"+strings.ReplaceAll(tt.name, " ", "-"), v1alpha1.ReachabilityTestSpec{
				Canary: &v1alpha1.CanarySpec{Namespace: ns, TimeoutSeconds: 2},
			})
			runCanaryPods(t, rt, ns)
			rt = waitForCompleted(t, rt.Name)

			if cond := condition(rt, v1alpha1.ConditionNetworkPolicyEnforced); cond == nil || cond.Reason != v1alpha1.ReasonEnforced {
				t.Fatalf("NetworkPolicyEnforced = %+v, want Enforced", cond)
			}
			cond := condition(rt, v1alpha1.ConditionClusterNetworkPolicyEnforced)
			if cond == nil || cond.Status != tt.enforced || cond.Reason != tt.reason {
				t.Fatalf("ClusterNetworkPolicyEnforced = %+v, want %s/%s; phases %+v", cond, tt.enforced, tt.reason, rt.Status.Canary.Phases)
			}
			a := rt.Status.Canary.AdminTier
			if a == nil || a.Admin != tt.admin || a.Baseline != tt.baseline {
				t.Fatalf("status.canary.adminTier = %+v, want admin %s, baseline %s", a, tt.admin, tt.baseline)
			}
			if passed := condition(rt, v1alpha1.ConditionPassed); passed.Status != metav1.ConditionTrue {
				t.Errorf("Passed = %+v: the admin tier is reported, it does not fail the test", passed)
			}
			assertCanaryClusterPolicies(t, tt.plane, rt, ns)
			eventually(t, 10*time.Second, "the canary's ClusterNetworkPolicies to go", func(context.Context) (bool, error) {
				return len(canaryClusterPolicies(t)) == 0 && len(canaryPolicies(t, ns)) == 0, nil
			})
			eventually(t, 10*time.Second, "2 tiers x 3 states of netconform_canary_cluster_network_policy_enforcement", func(context.Context) (bool, error) {
				return testutil.CollectAndCount(h.registry, "netconform_canary_cluster_network_policy_enforcement") == 6, nil
			})
			waitForEvent(t, rt, tt.event)
		})
	}
}

// assertCanaryClusterPolicies checks the ClusterNetworkPolicies the canary put in place:
// each selects only this canary's pods in its namespace, is owned by the test, and the
// Baseline Deny stands alone, with no NetworkPolicy and no Admin Deny beside it.
func assertCanaryClusterPolicies(t *testing.T, plane *simulatedDataplane, rt *v1alpha1.ReachabilityTest, ns string) {
	t.Helper()
	names := canary.NamesFor(rt, ns)
	plane.mu.Lock()
	defer plane.mu.Unlock()
	admin, baseline := canary.AdminDeny(names).Name, canary.BaselineDeny(names).Name
	if _, ok := plane.clusterPolicies[admin]; !ok {
		t.Fatalf("the canary never put its Admin-tier Deny %s in place; saw %v", admin, plane.clusterPolicies)
	}
	seen, ok := plane.clusterPolicies[baseline]
	if !ok {
		t.Fatalf("the canary never put its Baseline-tier Deny %s in place; saw %v", baseline, plane.clusterPolicies)
	}
	if !slices.Equal(seen.alongside, []string{baseline}) {
		t.Errorf("the Baseline-tier Deny stood with %v, want alone", seen.alongside)
	}
	onlyCanary := &cnp.NamespacedPod{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
		PodSelector:       metav1.LabelSelector{MatchLabels: map[string]string{canary.LabelCanary: names.ID, canary.LabelPair: "0"}},
	}
	for name, s := range plane.clusterPolicies {
		p := s.policy
		if !equality.Semantic.DeepEqual(p.Spec.Subject, cnp.ClusterNetworkPolicySubject{Pods: onlyCanary}) {
			t.Errorf("%s applies to %+v, not only this canary's pods", name, p.Spec.Subject)
		}
		for _, peer := range p.Spec.Ingress[0].From {
			if peer.Namespaces != nil || peer.Pods == nil || peer.Pods.PodSelector.MatchLabels[canary.LabelCanary] != names.ID || peer.Pods.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != ns {
				t.Errorf("%s denies traffic from %+v, not only from this canary's client", name, peer)
			}
		}
		for _, peer := range p.Spec.Egress[0].To {
			if peer.Namespaces != nil || peer.Pods == nil || peer.Pods.PodSelector.MatchLabels[canary.LabelCanary] != names.ID || peer.Pods.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != ns {
				t.Errorf("%s denies traffic to %+v, not only to this canary's server", name, peer)
			}
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != rt.UID {
			t.Errorf("%s is not owned by its test: %+v", name, p.OwnerReferences)
		}
		if p.Labels[canary.LabelCanary] != names.ID {
			t.Errorf("%s is not labelled as the canary's: %v", name, p.Labels)
		}
	}
}

// Should the manager be gone, the canary's pods still outlive the longest canary: each
// of its nine waits (five for NetworkPolicy, four for the admin tier) at its timeout,
// and both pods' starts.
func TestCanaryPodsOutliveTheLongestCanary(t *testing.T) {
	r := &ReachabilityTestReconciler{Options: DefaultOptions()}
	test := &v1alpha1.ReachabilityTest{Spec: v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{TimeoutSeconds: 15}}}
	longest := 9*15*time.Second + 2*r.Options.PodStartTimeout
	if got := r.canaryPodSettings(test, v1alpha1.Run{ID: "r1"}).Deadline; got < longest {
		t.Fatalf("canary pods live %s, less than the longest canary, %s", got, longest)
	}
}
