package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// sharedEdges are the edges of the i-th of several tests that probe from the same two
// identities: each test dials addresses of its own, so a result that reaches the wrong
// test shows.
func sharedEdges(ns string, i int) []v1alpha1.Edge {
	return []v1alpha1.Edge{
		hostEdge("front-to-api", ns, map[string]string{"app": "front"}, fmt.Sprintf("10.1.%d.1", i), 8080, v1alpha1.ExpectAllow),
		hostEdge("front-to-db", ns, map[string]string{"app": "front"}, fmt.Sprintf("10.1.%d.2", i), 5432, v1alpha1.ExpectDeny),
		hostEdge("back-to-db", ns, map[string]string{"app": "back"}, fmt.Sprintf("10.1.%d.2", i), 5432, v1alpha1.ExpectAllow),
	}
}

// createTests creates n tests named prefix-0... with the edges edgesOf gives.
func createTests(t *testing.T, prefix string, n int, edgesOf func(int) []v1alpha1.Edge) []*v1alpha1.ReachabilityTest {
	t.Helper()
	tests := make([]*v1alpha1.ReachabilityTest, n)
	for i := range tests {
		tests[i] = createTest(t, fmt.Sprintf("%s-%d", prefix, i), v1alpha1.ReachabilityTestSpec{Edges: edgesOf(i)})
	}
	return tests
}

// podsIn lists the live probe pods in a namespace.
func podsIn(t *testing.T, ns string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns), client.HasLabels{probes.LabelRun}); err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// carriedChecks counts, per test and check, how many pods carry the check.
func carriedChecks(t *testing.T, pods []corev1.Pod) map[string]map[probes.Check]int {
	t.Helper()
	carried := map[string]map[probes.Check]int{}
	for i := range pods {
		content, err := decodePodContent(&pods[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range content.checks {
			test := content.members[c.Member].Test
			c.Member = 0
			if carried[test] == nil {
				carried[test] = map[probes.Check]int{}
			}
			carried[test][c]++
		}
	}
	return carried
}

// driveProbePods plays the kubelet for every probe pod in ns until the tests complete:
// it finishes each pod as it appears, fails if more than maxRunning run at once, and
// returns every pod it finished.
func driveProbePods(t *testing.T, ns string, tests []*v1alpha1.ReachabilityTest, maxRunning int) []corev1.Pod {
	t.Helper()
	var finished []corev1.Pod
	// Polled gently: listing many tests' results often would load the API server more
	// than the manager does.
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		var running []corev1.Pod
		for _, p := range podsIn(t, ns) {
			if !podEnded(&p) {
				running = append(running, p)
			}
		}
		if maxRunning > 0 && len(running) > maxRunning {
			t.Fatalf("%d probe pods run at once under a cap of %d", len(running), maxRunning)
		}
		for i := range running {
			finishPod(t, &running[i], asExpected)
			finished = append(finished, running[i])
		}
		return allCompleted(t, tests), nil
	})
	if err != nil {
		t.Fatalf("waiting for every test to complete: %v", err)
	}
	return finished
}

func allCompleted(t *testing.T, tests []*v1alpha1.ReachabilityTest) bool {
	t.Helper()
	var list v1alpha1.ReachabilityTestList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*v1alpha1.ReachabilityTest{}
	for i := range list.Items {
		byName[list.Items[i].Name] = &list.Items[i]
	}
	for _, rt := range tests {
		got, ok := byName[rt.Name]
		if !ok {
			return false
		}
		if c := condition(got, v1alpha1.ConditionCompleted); c == nil || c.Status != metav1.ConditionTrue {
			return false
		}
	}
	return true
}

// assertOwnResults checks that every edge of every test passed on the address of its
// own test, and that each test ran once.
func assertOwnResults(t *testing.T, tests []*v1alpha1.ReachabilityTest) {
	t.Helper()
	for i, rt := range tests {
		rt = getTest(t, rt.Name)
		if len(rt.Status.Results) != len(rt.Spec.Edges) || int(rt.Status.Summary.Passed) != len(rt.Spec.Edges) {
			t.Errorf("%s: summary %+v, results %+v", rt.Name, rt.Status.Summary, rt.Status.Results)
		}
		for _, r := range rt.Status.Results {
			if !strings.HasPrefix(r.Target, fmt.Sprintf("10.1.%d.", i)) {
				t.Errorf("%s %s dialed %s: a result of another test", rt.Name, r.Edge, r.Target)
			}
		}
		if n := countEvents(t, rt, EventRunStarted); n != 1 {
			t.Errorf("%s started %d runs, want 1", rt.Name, n)
		}
	}
}

func TestTestsFromTheSameIdentitiesSharePods(t *testing.T) {
	ns := newNamespace(t, "share")
	// The tests exist before the manager starts, as when they are applied together.
	tests := createTests(t, "share", 20, func(i int) []v1alpha1.Edge { return sharedEdges(ns, i) })
	startManager(t, SetupOptions{Options: Options{MaxChecksPerPod: 16, WaveWindow: 500 * time.Millisecond}})

	// Every test's checks are carried, each by exactly one pod, before any pod ends.
	eventually(t, 20*time.Second, "every check of every test in a pod", func(context.Context) (bool, error) {
		carried := carriedChecks(t, podsIn(t, ns))
		for _, rt := range tests {
			if len(carried[rt.Name]) != len(rt.Spec.Edges) {
				return false, nil
			}
		}
		return true, nil
	})
	pods := podsIn(t, ns)
	for test, checks := range carriedChecks(t, pods) {
		for c, n := range checks {
			if n != 1 {
				t.Errorf("%s: %d pods carry check %+v, want 1", test, n, c)
			}
		}
	}
	// 40 checks from front and 20 from back, at most 16 a pod: 3 and 2 pods in one wave.
	t.Logf("%d probe pods for %d tests from 2 identities", len(pods), len(tests))
	if len(pods) > 7 {
		t.Errorf("%d probe pods for %d tests from 2 identities, want about 5: the tests do not share", len(pods), len(tests))
	}
	for _, p := range pods {
		content, err := decodePodContent(&p)
		if err != nil {
			t.Fatal(err)
		}
		if len(content.checks) > 16 {
			t.Errorf("pod %s carries %d checks, more than --max-checks-per-pod 16", p.Name, len(content.checks))
		}
		if len(p.OwnerReferences) != len(content.members) {
			t.Errorf("pod %s has %d owners for %d members", p.Name, len(p.OwnerReferences), len(content.members))
		}
	}

	driveProbePods(t, ns, tests, 0)
	assertOwnResults(t, tests)
	eventually(t, 10*time.Second, "the shared pods to be deleted once read", func(context.Context) (bool, error) {
		return len(podsIn(t, ns)) == 0, nil
	})
}

func TestRestartMidWaveNeitherDuplicatesNorLoses(t *testing.T) {
	ns := newNamespace(t, "wave-restart")
	tests := createTests(t, "wave-restart", 3, func(i int) []v1alpha1.Edge { return sharedEdges(ns, i) })
	opts := SetupOptions{Options: Options{MaxConcurrentProbePods: 1, WaveWindow: 300 * time.Millisecond}}
	first := startManager(t, opts)

	// Under a cap of one, the wave of one identity is created and the other waits.
	var before []corev1.Pod
	eventually(t, 20*time.Second, "the first probe pod", func(context.Context) (bool, error) {
		before = podsIn(t, ns)
		return len(before) == 1, nil
	})
	first.stop()
	if n := len(podsIn(t, ns)); n != 1 {
		t.Fatalf("%d probe pods under a cap of 1", n)
	}
	finishPod(t, &before[0], asExpected) // it ends while no manager runs

	startManager(t, opts)
	finished := append([]corev1.Pod{before[0]}, driveProbePods(t, ns, tests, 1)...)
	assertOwnResults(t, tests)
	for test, checks := range carriedChecks(t, finished) {
		for c, n := range checks {
			if n != 1 {
				t.Errorf("%s: %d pods carried check %+v, want 1: the restart duplicated it", test, n, c)
			}
		}
	}
	t.Logf("%d probe pods for %d tests from 2 identities across a restart", len(finished), len(tests))
	eventually(t, 10*time.Second, "the pods to be deleted once read", func(context.Context) (bool, error) {
		return len(podsIn(t, ns)) == 0, nil
	})
}

func TestDeletedMemberLeavesTheOthersToFinish(t *testing.T) {
	ns := newNamespace(t, "member-gone")
	front := map[string]string{"app": "front"}
	// Both probe from front, and only the doomed test from back.
	doomed := createTest(t, "member-doomed", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("front-to-api", ns, front, "10.1.0.1", 8080, v1alpha1.ExpectAllow),
		hostEdge("back-to-api", ns, map[string]string{"app": "back"}, "10.1.0.1", 8080, v1alpha1.ExpectAllow),
	}})
	stays := createTest(t, "member-stays", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("front-to-api", ns, front, "10.1.1.1", 8080, v1alpha1.ExpectAllow),
	}})
	startManager(t, SetupOptions{Options: Options{WaveWindow: 500 * time.Millisecond}})
	pods := waitForPods(t, doomed, 2)
	var shared corev1.Pod
	for _, p := range pods {
		if p.Labels["app"] == "front" {
			shared = p
		}
	}
	if _, ok := shared.Labels[probes.TestLabel(stays.UID)]; !ok {
		t.Fatalf("the front pod %s does not serve both tests: %v", shared.Name, shared.Labels)
	}

	// The doomed test goes mid-run: the pod only it needed goes with it, the shared
	// one stays for the other test.
	if err := k8s.Delete(context.Background(), doomed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the pod only the deleted test needed to go", func(context.Context) (bool, error) {
		left := podsIn(t, ns)
		return len(left) == 1 && left[0].Name == shared.Name, nil
	})
	finishPod(t, &shared, asExpected)
	rt := waitForCompleted(t, stays.Name)
	if rt.Status.Summary.Passed != 1 || rt.Status.Results[0].Target != "10.1.1.1:8080" {
		t.Errorf("the remaining test: summary %+v, results %+v", rt.Status.Summary, rt.Status.Results)
	}
	eventually(t, 10*time.Second, "the shared pod to be deleted once read", func(context.Context) (bool, error) {
		return len(podsIn(t, ns)) == 0, nil
	})
}

// writeCounter counts the API requests that change something, by method and resource.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
			resource := parts[len(parts)-1]
			if req.Method == http.MethodDelete || req.Method == http.MethodPatch && resource != "status" {
				resource = parts[len(parts)-2]
			}
			w.mu.Lock()
			w.counts[req.Method+" "+resource]++
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (w *writeCounter) total() (int, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.counts {
		n += c
	}
	return n, w.counts
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestALargeRunWritesLittle(t *testing.T) {
	ns := newNamespace(t, "writes")
	var edges []v1alpha1.Edge
	for src := range 10 {
		for dst := range 100 {
			edges = append(edges, hostEdge(fmt.Sprintf("s%d-to-d%d", src, dst), ns, map[string]string{"app": fmt.Sprintf("s%d", src)},
				fmt.Sprintf("10.2.%d.%d", src, dst), 8080, v1alpha1.ExpectAllow))
		}
	}
	rt := createTest(t, "writes", v1alpha1.ReachabilityTestSpec{Edges: edges})
	counter := &writeCounter{counts: map[string]int{}}
	cfg := rest.CopyConfig(apiServer)
	cfg.WrapTransport = counter.wrap
	startManagerWith(t, cfg, SetupOptions{Options: Options{MaxChecksPerPod: 100}})

	driveProbePods(t, ns, []*v1alpha1.ReachabilityTest{rt}, 0)
	eventually(t, 10*time.Second, "the pods to be deleted once read", func(context.Context) (bool, error) {
		return len(podsIn(t, ns)) == 0, nil
	})
	writes, by := counter.total()
	t.Logf("%d API writes for a run of %d edges: %v", writes, len(edges), by)
	if perEdge := float64(writes) / float64(len(edges)); perEdge > 0.05 {
		t.Errorf("%.3f API writes per edge (%v), want at most 0.05", perEdge, by)
	}
}

// TestAHundredTestsShareProbePods applies 100 tests of 50 edges at once, under the
// default cap and checks per pod, with pods that end as soon as they exist: what is
// measured is the operator's own work. Test t draws 5 of 10 identities, 10 edges each,
// towards 100 destinations that the tests share, so each identity makes at most 100
// distinct connections.
func TestAHundredTestsShareProbePods(t *testing.T) {
	if testing.Short() {
		t.Skip("100 tests of 50 edges")
	}
	ns := newNamespace(t, "hundred")
	start := time.Now()
	startManager(t, SetupOptions{Options: Options{
		MaxConcurrentProbePods: 20, MaxChecksPerPod: 100, MaxConcurrentReconciles: 4,
	}})
	tests := createTests(t, "hundred", 100, func(i int) []v1alpha1.Edge {
		edges := make([]v1alpha1.Edge, 50)
		for j := range edges {
			from, to := (i+j/10)%10, (i+j)%10
			edges[j] = hostEdge(fmt.Sprintf("e%d", j), ns, map[string]string{"app": fmt.Sprintf("s%d", from)}, fmt.Sprintf("10.3.%d.%d", to, j%10), 8080, v1alpha1.ExpectAllow)
		}
		return edges
	})
	finished := driveProbePods(t, ns, tests, 20)
	t.Logf("100 tests of 50 edges from 10 identities: %d probe pods, all complete in %s", len(finished), time.Since(start).Round(10*time.Millisecond))
	if len(finished) > 40 {
		t.Errorf("%d probe pods for 100 tests from 10 identities, want a few per identity", len(finished))
	}
	for test, checks := range carriedChecks(t, finished) {
		for c, n := range checks {
			if n != 1 {
				t.Errorf("%s: %d pods carried check %+v, want 1", test, n, c)
			}
		}
	}
	for _, rt := range tests {
		if rt = getTest(t, rt.Name); rt.Status.Summary.Passed != 50 {
			t.Errorf("%s: summary %+v", rt.Name, rt.Status.Summary)
		}
	}
}
