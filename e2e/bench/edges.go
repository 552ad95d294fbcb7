//go:build bench

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
)

// The larger scenarios share one namespace of ten servers, s0 to s9, each serving ten
// TCP ports: 100 destinations (pod and port pairs). Each server is also a source
// identity. The namespace admits its own pods on the lower five ports only.
const (
	edgesNamespace = "bench-edges"
	identities     = 10
	firstPort      = 8080
	portsPerServer = 10
)

func edgeServers() []server {
	ports := make([]int32, portsPerServer)
	for i := range ports {
		ports[i] = int32(firstPort + i)
	}
	out := make([]server, identities)
	for i := range out {
		out[i] = server{namespace: edgesNamespace, name: serverName(i), labels: serverLabels(i), ports: [][]int32{ports}}
	}
	return out
}

func serverName(i int) string { return fmt.Sprintf("s%d", i) }

// serverLabels are a server's; probe pods take on only its identity (sourceLabels),
// so that no destination selector ever matches a probe pod.
func serverLabels(i int) map[string]string {
	return map[string]string{"pod": serverName(i), "role": "server"}
}

func sourceLabels(i int) map[string]string { return map[string]string{"pod": serverName(i)} }

func edgesPolicies() []*networkingv1.NetworkPolicy {
	everyPod := podsLabelled(nil)
	return []*networkingv1.NetworkPolicy{
		admit(policy(edgesNamespace, "lower-ports-from-the-namespace", nil, networkingv1.PolicyTypeIngress), everyPod, firstPort, firstPort+portsPerServer/2-1),
	}
}

// edge is one source identity to one server's port.
func edge(name string, from, to, port int) v1alpha1.Edge {
	return podEdge(name, edgesNamespace, sourceLabels(from), edgesNamespace, serverLabels(to), int32(firstPort+port))
}

// thousandEdges: every identity to every destination.
func thousandEdges() []v1alpha1.Edge {
	var edges []v1alpha1.Edge
	for from := range identities {
		for to := range identities {
			for port := range portsPerServer {
				edges = append(edges, edge(fmt.Sprintf("s%d-to-s%d-%d", from, to, firstPort+port), from, to, port))
			}
		}
	}
	return edges
}

// setUpEdges creates the namespace, its Service (the evidence that denied ports listen),
// its policy and the servers, and returns a function that sets edges' expectations.
func (b *bench) setUpEdges() (func([]v1alpha1.Edge) int, error) {
	if err := b.createNamespace(edgesNamespace); err != nil {
		return nil, err
	}
	if err := b.create(service(edgesNamespace, "servers", map[string]string{"role": "server"}, edgeServers()[0].ports[0])); err != nil {
		return nil, err
	}
	for _, p := range edgesPolicies() {
		if err := b.create(p); err != nil {
			return nil, err
		}
	}
	model, err := b.expectations(thousandEdges())
	if err != nil {
		return nil, err
	}
	return func(edges []v1alpha1.Edge) int { return model.expect(edges, b.edgeTemplate()) }, nil
}

// edgeTemplate finds the pod, as it is created, that an edge points at.
func (b *bench) edgeTemplate() func(v1alpha1.Edge) *corev1.Pod {
	pods := map[string]*corev1.Pod{}
	for _, s := range edgeServers() {
		pods[s.name] = s.pod(b.opts.image)
	}
	return func(e v1alpha1.Edge) *corev1.Pod { return pods[e.To.Pods.PodLabels["pod"]] }
}

func edgesPodOf(_ string, labels map[string]string) string { return labels["pod"] }

// edges1000 runs 1,000 edges from 10 identities both ways, and counts the manager's writes.
func (b *bench) edges1000() error {
	expect, err := b.setUpEdges()
	if err != nil {
		return err
	}
	edges := thousandEdges()
	b.logf("the policies allow %d of the 1,000 edges", expect(edges))
	servers := edgeServers()
	var ours, upstream, speedup, writesPerEdge []float64
	for rep := range b.opts.reps {
		if err := errorsOf(b.deleteTests("bench-edges1000"), b.stopServers(servers)); err != nil {
			return err
		}
		whole, _, err := b.upstreamWholeRun(servers, edges, edgesPodOf)
		if err != nil {
			return err
		}
		before, err := b.mgr.writes(b.ctx)
		if err != nil {
			return err
		}
		took, test, err := b.runTest(&v1alpha1.ReachabilityTest{
			ObjectMeta: metav1.ObjectMeta{Name: "bench-edges1000"},
			Spec:       sameTimeoutAsUpstream(edges),
		})
		if err != nil {
			return err
		}
		// The run's last writes (deleting its pods) follow the status that completed it.
		if err := b.deleteTests(); err != nil {
			return err
		}
		after, err := b.mgr.writes(b.ctx)
		if err != nil {
			return err
		}
		b.checkPassed(test)
		b.logf("1,000 edges rep %d: netconform %s (%v API writes), upstream whole run %s", rep+1, seconds(took), after-before, seconds(whole))
		ours, upstream = append(ours, took.Seconds()), append(upstream, whole.Seconds())
		speedup = append(speedup, whole.Seconds()/took.Seconds())
		writesPerEdge = append(writesPerEdge, (after-before)/float64(len(edges)))
	}
	b.report.Add(figures.Figure{Key: "edges1000_seconds", Label: "1,000 edges: netconform, apply to Completed", Unit: "s", Samples: ours, Target: figures.Under(15)})
	b.report.Add(figures.Figure{Key: "edges1000_upstream_seconds", Label: "1,000 edges: upstream whole run", Unit: "s", Samples: upstream})
	b.report.Add(figures.Figure{Key: "edges1000_speedup", Label: "1,000 edges: speed-up over upstream", Unit: "x", Samples: speedup, Target: figures.AtLeast(10)})
	b.report.Add(figures.Figure{Key: "api_writes_per_edge_1000", Label: "1,000 edges: manager API writes per edge", Unit: "writes", Samples: writesPerEdge, Target: figures.AtMost(0.05)})
	return nil
}

// ensureServers starts the edge servers unless they already run (after edges1000).
func (b *bench) ensureServers() error {
	err := b.k8s.Get(b.ctx, client.ObjectKey{Name: edgesNamespace}, &corev1.Namespace{})
	if apierrors.IsNotFound(err) {
		_, err = b.setUpEdges()
	}
	if err != nil {
		return err
	}
	var pods corev1.PodList
	if err := b.k8s.List(b.ctx, &pods, client.InNamespace(edgesNamespace), client.MatchingLabels{"role": "server"}); err != nil {
		return err
	}
	if len(pods.Items) == identities {
		return nil
	}
	if err := b.stopServers(edgeServers()); err != nil {
		return err
	}
	_, err = b.startServers(edgeServers())
	return err
}

// manyTestEdges: test t draws 5 of the 10 identities, 10 edges each.
func manyTestEdges(t int) []v1alpha1.Edge {
	edges := make([]v1alpha1.Edge, 50)
	for j := range edges {
		from := (t + j/10) % identities
		to := (t + j) % identities
		edges[j] = edge(fmt.Sprintf("e%d-s%d-to-s%d-%d", j, from, to, firstPort+j%portsPerServer), from, to, j%portsPerServer)
	}
	return edges
}

const manyTests = 100

// manyTests applies 100 tests of 50 edges at once and follows the manager through them.
func (b *bench) manyTests() error {
	if err := b.ensureServers(); err != nil {
		return err
	}
	model, err := b.expectations(thousandEdges())
	if err != nil {
		return err
	}
	tests := make([]*v1alpha1.ReachabilityTest, manyTests)
	names := make([]string, manyTests)
	for t := range tests {
		edges := manyTestEdges(t)
		model.expect(edges, b.edgeTemplate())
		names[t] = fmt.Sprintf("bench-many-%03d", t)
		tests[t] = &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: names[t]}, Spec: v1alpha1.ReachabilityTestSpec{Edges: edges}}
	}
	f := map[string][]float64{}
	for rep := range b.opts.reps {
		if err := b.deleteTests(names...); err != nil {
			return err
		}
		m, err := b.manyTestsOnce(tests)
		if err != nil {
			return err
		}
		b.logf("100x50 rep %d: %.2fs, %v probe pods (peak %v of cap %d), %v API writes, %v throttled, peak RSS %.1f MiB, %.2f CPU s",
			rep+1, m["seconds"], m["pods"], m["peak"], b.mgr.maxProbePods, m["writes"], m["throttled"], m["rss"], m["cpu"])
		for k, v := range m {
			f[k] = append(f[k], v)
		}
	}
	if err := b.deleteTests(names...); err != nil {
		return err
	}
	b.report.Add(figures.Figure{Key: "tests100x50_seconds", Label: "100 tests x 50 edges: apply to all Completed", Unit: "s", Samples: f["seconds"], Target: figures.Under(30)})
	b.report.Add(figures.Figure{Key: "tests100x50_probe_pods", Label: fmt.Sprintf("100 tests x 50 edges: probe pods created (%d identities)", identities), Unit: "pods", Samples: f["pods"]})
	b.report.Add(figures.Figure{Key: "tests100x50_peak_probe_pods", Label: "100 tests x 50 edges: peak concurrent probe pods", Unit: "pods", Samples: f["peak"], Target: figures.AtMost(float64(b.mgr.maxProbePods))})
	b.report.Add(figures.Figure{Key: "tests100x50_api_writes", Label: "100 tests x 50 edges: manager API writes", Unit: "writes", Samples: f["writes"]})
	b.report.Add(figures.Figure{Key: "tests100x50_throttled", Label: "100 tests x 50 edges: manager log lines on client-side throttling", Unit: "lines", Samples: f["throttled"], Target: figures.AtMost(0)})
	b.report.Add(figures.Figure{Key: "manager_peak_rss_mib", Label: "100 tests x 50 edges: manager peak RSS", Unit: "MiB", Samples: f["rss"], Target: figures.Under(100)})
	b.report.Add(figures.Figure{Key: "manager_cpu_seconds", Label: "100 tests x 50 edges: manager CPU time", Unit: "s", Samples: f["cpu"]})
	return nil
}

// manyTestsOnce creates the tests at once and waits until all are Completed, or until
// --many-timeout: then the time is a lower bound, and a note says how far it got.
func (b *bench) manyTestsOnce(tests []*v1alpha1.ReachabilityTest) (map[string]float64, error) {
	census, err := b.watchProbePods(edgesNamespace)
	if err != nil {
		return nil, err
	}
	before, err := b.mgr.writes(b.ctx)
	if err != nil {
		census.end()
		return nil, err
	}
	use := b.mgr.watchUsage()
	start := time.Now()
	err = b.createAll(tests)
	var progress manyProgress
	if err == nil {
		progress, err = b.waitAllCompleted(len(tests))
	}
	took := time.Since(start)
	rss, cpu := use.end()
	pods, peak := census.end()
	if err != nil {
		return nil, err
	}
	if progress.completed < len(tests) {
		b.report.Note("100x50: only %d of %d tests completed within --many-timeout=%s; the time recorded is a lower bound", progress.completed, len(tests), b.opts.manyTimeout)
	}
	if progress.failed > 0 {
		b.report.Note("100x50: %d completed tests did not pass (%d edges failed or inconclusive)", progress.failed, progress.failedEdges)
	}
	after, err := b.mgr.writes(b.ctx)
	if err != nil {
		return nil, err
	}
	throttled, err := b.mgr.throttled(b.ctx, start)
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"seconds": took.Seconds(), "pods": float64(pods), "peak": float64(peak), "writes": after - before,
		"throttled": float64(throttled), "rss": rss, "cpu": cpu,
	}, nil
}

// createAll creates the tests from a few goroutines, so that they land at once.
func (b *bench) createAll(tests []*v1alpha1.ReachabilityTest) error {
	var wg sync.WaitGroup
	errs := make([]error, len(tests))
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(tests); i += 8 {
				t := tests[i].DeepCopy()
				t.Labels = map[string]string{benchLabel: "true"}
				errs[i] = b.k8s.Create(b.ctx, t)
			}
		})
	}
	wg.Wait()
	return errorsOf(errs...)
}

// manyProgress is how far a wave of tests got.
type manyProgress struct {
	completed, failed, failedEdges int
}

// waitAllCompleted waits until n tests are Completed, for at most --many-timeout. It
// watches rather than lists: listing 100 tests with their results again and again
// would take the CPU of the cluster being measured. A watch the server ends is opened
// again; it starts with every test as it stands.
func (b *bench) waitAllCompleted(n int) (manyProgress, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.manyTimeout)
	defer cancel()
	done := map[string]int{} // completed test → its edges that did not pass
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	for len(done) < n {
		w, err := b.k8s.Watch(ctx, &v1alpha1.ReachabilityTestList{}, client.MatchingLabels{benchLabel: "true"})
		if err == nil {
			b.followTests(ctx, w, done, n, progress.C)
			w.Stop()
		}
		if ctx.Err() != nil {
			// Past --many-timeout the error is nil: the caller notes a lower bound.
			return tally(done), b.ctx.Err()
		}
		if err != nil {
			return tally(done), fmt.Errorf("watching the tests: %w", err)
		}
	}
	return tally(done), nil
}

// followTests records the tests that complete until n have, or the watch ends.
func (b *bench) followTests(ctx context.Context, w watch.Interface, done map[string]int, n int, progress <-chan time.Time) {
	for len(done) < n {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				if ctx.Err() != nil {
					return
				}
				b.logf("the watch of the tests ended with %d of %d completed; watching again", len(done), n)
				return
			}
			if ev.Type == watch.Error {
				b.logf("the watch of the tests reported %v", ev.Object)
				continue
			}
			if t, ok := ev.Object.(*v1alpha1.ReachabilityTest); ok && completed(t) {
				done[t.Name] = notPassed(t)
			}
		case <-progress:
			b.logf("still waiting for every test to complete: %d of %d completed", len(done), n)
		}
	}
}

func notPassed(t *v1alpha1.ReachabilityTest) int {
	if s := t.Status.Summary; s != nil {
		return int(s.Edges - s.Passed)
	}
	return 0
}

func tally(done map[string]int) manyProgress {
	p := manyProgress{completed: len(done)}
	for _, failed := range done {
		if failed > 0 {
			p.failed++
			p.failedEdges += failed
		}
	}
	return p
}
