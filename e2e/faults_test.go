//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// fault is one way the cluster breaks while a run is in progress.
type fault struct {
	name string
	// strike breaks the cluster while the case's run is in progress and restores it.
	strike func(c *faultCase)
	// dataplane: the fault broke the dataplane itself, so the run it struck may report
	// what it saw; the next run must be right.
	dataplane bool
	// when is how far a probe pod of the run must be before the fault strikes; nil: as
	// soon as it is scheduled.
	when func(*corev1.Pod) bool
}

var faults = []fault{
	{name: "manager-sigkill", strike: killManager},
	// The enforcer learns a new pod's address through the API server: while it is down,
	// kube-router may not know the probe yet (even once the kubelet published the
	// address, its watch may not have delivered it), so the allow that selects the
	// probe's labels does not cover it: a real outage of the dataplane, which the run
	// may rightly report; the next run must be right.
	{name: "apiserver-restart", strike: restartAPIServer, when: hasAddress, dataplane: true},
	{name: "enforcer-killed", strike: killEnforcer, dataplane: true},
	{name: "probe-pod-deleted", strike: deleteProbePod},
	{name: "probe-pod-evicted", strike: evictProbePod},
	{name: "forged-probe-pod", strike: forgeProbePod},
}

// TestFaults: the manager, the API server and the policy enforcer crash mid-run, and a
// probe pod is deleted, evicted or forged by a tenant. Each case ends with every edge
// judged right (the first run after a broken dataplane excepted), one run per trigger,
// no probe pod left once the test is deleted, and a status that tells the truth.
func TestFaults(t *testing.T) {
	if cfg.profile != enforcing {
		t.Skip("the fault suite runs on the enforcing profile only")
	}
	localCluster(t)
	started := time.Now()
	ns := namespace("faults")
	s := newScenario(t, ns)
	client, server := labels("app", "client"), labels("app", "server")
	s.deploy(ns, workload{name: "server", labels: server, ports: []port{{name: "http", number: 8080, servicePort: 80}}})
	s.create(
		denyAll(ns, ingressOnly),
		allowIngress(ns, "server-from-client", selector(server), peers(podPeer(selector(client))), namedPorts("http")),
	)
	suite := &faultSuite{parent: s, ns: ns, pods: watchProbePods(t), edges: []v1alpha1.Edge{
		allow("client-to-server", source(ns, client), toService(ns, "server", 80)),
		allow("client-to-server-pod", source(ns, client), toPods(ns, server, intstr.FromString("http"))),
		deny("stranger-to-server", source(ns, nil), toService(ns, "server", 80)),
		deny("stranger-to-server-pod", source(ns, nil), toPods(ns, server, intstr.FromInt32(8080))),
	}}
	suite.tenant = tenantClient(s, ns)
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) { suite.run(t, f) })
	}
	report("faults=%d survived=%d lost-results=%d orphaned-pods=%d duplicate-runs=%d",
		suite.faults, suite.survived, suite.lost, suite.orphaned, suite.duplicates)
	report("fault-times total=%s %s", time.Since(started).Round(time.Second), strings.Join(suite.times, " "))
}

// faultSuite is what the cases share, and the figures of the closing line.
type faultSuite struct {
	parent *scenario
	ns     string
	edges  []v1alpha1.Edge
	pods   *probePodWatch
	// tenant impersonates a user who may create pods in ns, and do nothing else.
	tenant client.Client

	faults, survived, lost, orphaned, duplicates int
	times                                        []string
}

// faultCase is one fault striking one test's run.
type faultCase struct {
	*scenario
	suite *faultSuite
	// test as it was when the fault struck; pod is one of its probe pods that had not
	// reported then.
	test *v1alpha1.ReachabilityTest
	pod  *corev1.Pod
}

func (fs *faultSuite) run(t *testing.T, f fault) {
	start := time.Now()
	fs.faults++
	defer func() {
		if !t.Failed() {
			fs.survived++
		}
		fs.times = append(fs.times, fmt.Sprintf("%s=%s", f.name, time.Since(start).Round(100*time.Millisecond)))
	}()
	s := &scenario{t: t, ctx: t.Context(), namespaces: fs.parent.namespaces}
	name := "e2e-fault-" + f.name
	s.create(&v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{e2eLabel: "true"}},
		Spec:       v1alpha1.ReachabilityTestSpec{Edges: fs.edges},
	})
	s.tests = append(s.tests, name)
	test, pod := s.midRun(fs.pods, name, f.when)
	t.Logf("%s: run %s in progress, probe pod %s/%s has not reported: %s strikes", name, test.Status.ActiveRun.ID, pod.Namespace, pod.Name, f.name)
	f.strike(&faultCase{scenario: s, suite: fs, test: test, pod: pod})

	rt := test.DeepCopy()
	s.waitCompleted(rt)
	fs.check(s, rt, !f.dataplane)
	triggers := 1
	if f.dataplane {
		rt = s.runAgain(rt)
		triggers++
		fs.check(s, rt, true)
	}
	fs.checkRuns(s, rt, triggers)
	fs.checkCleanUp(s, rt)
}

// runAgain starts the test's next run with a new generation (one attempt more changes
// no verdict) and waits until it completed.
func (s *scenario) runAgain(rt *v1alpha1.ReachabilityTest) *v1alpha1.ReachabilityTest {
	s.t.Helper()
	rt.Spec.Attempts++
	s.update(rt)
	s.waitCompleted(rt)
	return rt
}

// check: a result for every edge (the fault lost none), a status that says the run is
// over and counts what it shows, and, when judge is set, every verdict right.
func (fs *faultSuite) check(s *scenario, rt *v1alpha1.ReachabilityTest, judge bool) {
	s.t.Helper()
	p := phase{name: rt.Name, edges: fs.edges}
	counts, problems, ex := s.compare(p, rt)
	s.t.Logf("ReachabilityTest %s, generation %d:\n%s", rt.Name, rt.Generation, resultTable(p, rt, ex))
	results := map[string]v1alpha1.EdgeResult{}
	for _, r := range rt.Status.Results {
		results[r.Edge] = r
	}
	for _, e := range fs.edges {
		if r, ok := results[e.Name]; !ok || r.Observed == v1alpha1.ObservedError {
			fs.lost++
			s.t.Errorf("edge %s lost its result to the fault: %+v", e.Name, r)
		}
	}
	if run := rt.Status.ActiveRun; run != nil {
		s.t.Errorf("the status still shows run %s in progress after Completed", run.ID)
	}
	if sum := rt.Status.Summary; sum == nil || int(sum.Edges) != len(fs.edges) || int(sum.Passed+sum.Failed+sum.Inconclusive) != len(rt.Status.Results) {
		s.t.Errorf("summary %+v does not count the %d edges and %d results", sum, len(fs.edges), len(rt.Status.Results))
	}
	if !judge {
		return
	}
	countEdges(len(fs.edges), counts)
	if len(problems) > 0 {
		s.t.Errorf("ReachabilityTest %s after the fault:\n  %s\nstate saved in %s", rt.Name, strings.Join(problems, "\n  "), s.dump(rt.Name))
	}
}

// checkRuns counts the test's runs, from its probe pods and its RunStarted events: one
// per trigger, none started again by a fault.
func (fs *faultSuite) checkRuns(s *scenario, rt *v1alpha1.ReachabilityTest, want int) {
	s.t.Helper()
	runs := map[string]bool{}
	for _, r := range fs.pods.runsOf(rt) {
		runs[r] = true
	}
	started, err := runsStarted(s.ctx, rt)
	if err != nil {
		s.t.Errorf("%v", err)
	}
	for _, r := range started {
		runs[r] = true
	}
	s.t.Logf("%s: runs %v (probe pods %v, RunStarted events %v); %d probe pods made", rt.Name, keys(runs), fs.pods.runsOf(rt), started, fs.pods.podsMade(rt))
	switch {
	case len(runs) > want:
		fs.duplicates += len(runs) - want
		s.t.Errorf("%s ran %d times for %d triggers: %v", rt.Name, len(runs), want, keys(runs))
	case len(runs) < want:
		s.t.Errorf("%s shows %d runs for %d triggers: %v", rt.Name, len(runs), want, keys(runs))
	}
}

// checkCleanUp deletes the test and expects every probe pod of it to go.
func (fs *faultSuite) checkCleanUp(s *scenario, rt *v1alpha1.ReachabilityTest) {
	s.t.Helper()
	s.remove(rt)
	if left := probePodsLeft(s.ctx, rt, time.Minute); len(left) > 0 {
		fs.orphaned += len(left)
		s.t.Errorf("probe pods of %s left a minute after it was deleted: %v", rt.Name, left)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// killManager kills the manager's process with SIGKILL (no clean shutdown, its lease is
// not released) and waits until the kubelet has restarted it.
func killManager(c *faultCase) {
	mgr, err := managerPod(c.ctx)
	if err != nil {
		c.fatalf("finding the manager: %v", err)
	}
	id, restarts := containerState(mgr, "manager")
	breakCluster(c.t, "kill-container", id)
	c.waitUntil("the kubelet to restart the manager", func(ctx context.Context) (bool, string, error) {
		pod := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(mgr), pod); err != nil {
			return false, "", err
		}
		_, n := containerState(pod, "manager")
		return n > restarts && podReady(pod), fmt.Sprintf("restarts %d, ready %v", n, podReady(pod)), nil
	})
}

func hasAddress(pod *corev1.Pod) bool { return pod.Status.PodIP != "" }

// restartAPIServer stops the API server and starts it again.
func restartAPIServer(c *faultCase) {
	breakCluster(c.t, "restart-apiserver")
}

// killEnforcer kills kube-router with SIGKILL, leaving its rules behind; while it is
// down the canary must find NetworkPolicy not enforced. Then it starts it again.
func killEnforcer(c *faultCase) {
	breakCluster(c.t, "kill-enforcer")
	c.t.Cleanup(func() { breakCluster(c.t, "start-enforcer") })
	rt := c.runSpec("e2e-fault-canary", v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{}})
	// The rules kube-router left behind know none of the canary's new pods: where they
	// meet its traffic across nodes they may stop even what its allows let through, and
	// the canary then rightly says it cannot tell (CanaryFailed). Never Enforced.
	cond := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionNetworkPolicyEnforced)
	if cond == nil || (cond.Reason != v1alpha1.ReasonNotEnforced && cond.Reason != v1alpha1.ReasonCanaryFailed) {
		c.t.Errorf("with kube-router down the canary says %+v, want NetworkPolicyEnforced False (%s) or Unknown (%s)", cond, v1alpha1.ReasonNotEnforced, v1alpha1.ReasonCanaryFailed)
	} else {
		c.t.Logf("with kube-router down the canary says %s: %s", cond.Reason, cond.Message)
	}
	breakCluster(c.t, "start-enforcer")
	c.remove(rt)
}

func deleteProbePod(c *faultCase) {
	if err := k8s.Delete(c.ctx, c.pod); err != nil {
		c.fatalf("deleting probe pod %s/%s: %v", c.pod.Namespace, c.pod.Name, err)
	}
}

func evictProbePod(c *faultCase) {
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: c.pod.Namespace, Name: c.pod.Name}}
	if err := clientset.PolicyV1().Evictions(c.pod.Namespace).Evict(c.ctx, eviction); err != nil {
		c.fatalf("evicting probe pod %s/%s: %v", c.pod.Namespace, c.pod.Name, err)
	}
}

// tenantUser may create pods in the fault suite's namespace, and nothing else.
const tenantUser = "e2e-tenant"

// forgeProbePod: a tenant who may create pods in the test's source namespace copies a
// probe pod of the run in progress, without the source's labels (so the policies treat
// it as a stranger and its results would turn the Allow edges into failures). The API
// server must refuse it; the run's verdicts must stay right whatever happens.
func forgeProbePod(c *faultCase) {
	tenant := c.suite.tenant
	plain := tenantPod(c.pod, false)
	if err := tenant.Create(c.ctx, plain, client.DryRunAll); err != nil {
		c.fatalf("the tenant cannot create an ordinary pod in %s, so the case proves nothing: %v", plain.Namespace, err)
	}
	forged := tenantPod(c.pod, true)
	err := tenant.Create(c.ctx, forged)
	switch {
	case err == nil:
		c.t.Cleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(context.Background(), forged)) })
		c.t.Errorf("the API server admitted pod %s/%s with %s labels, created by tenant %s: want it refused (an admission policy lets only netconform's own service accounts create such pods)", forged.Namespace, forged.Name, "netconform.io/", tenantUser)
	case apierrors.IsForbidden(err) || apierrors.IsInvalid(err): // an admission policy's denial
		c.t.Logf("the forged probe pod was refused: %v", err)
	default:
		c.t.Errorf("creating the forged probe pod: %v, want it refused by admission (Forbidden or Invalid)", err)
	}
}

// tenantPod copies a probe pod for a tenant to create: forged keeps netconform's labels,
// annotations and owners (dropping the source's labels); otherwise it keeps none.
func tenantPod(probe *corev1.Pod, forged bool) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: probe.Namespace, Name: "tenant-" + probe.Name},
		Spec:       *probe.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = ""
	pod.Spec.ReadinessGates = nil
	if !forged {
		return pod
	}
	pod.Name = "forged-" + probe.Name
	pod.Labels = map[string]string{}
	for k, v := range probe.Labels {
		if strings.HasPrefix(k, "netconform.io/") {
			pod.Labels[k] = v
		}
	}
	pod.Annotations = map[string]string{probes.AnnotationMembers: probe.Annotations[probes.AnnotationMembers]}
	for _, o := range probe.OwnerReferences {
		o.BlockOwnerDeletion = nil
		pod.OwnerReferences = append(pod.OwnerReferences, o)
	}
	return pod
}

// tenantClient is a client that impersonates a user who may create pods in ns and do
// nothing else.
func tenantClient(c *scenario, ns string) client.Client {
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-pods"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: tenantUser}},
	}
	c.create(role, binding)
	rest, err := ctrl.GetConfig()
	if err != nil {
		c.fatalf("reading the kubeconfig: %v", err)
	}
	rest.Impersonate.UserName = tenantUser
	tenant, err := client.New(rest, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		c.fatalf("a client impersonating %s: %v", tenantUser, err)
	}
	return tenant
}
