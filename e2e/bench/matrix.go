//go:build bench

package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
)

// The upstream suite's world: namespaces x, y, z with pods a, b, c serving TCP 80 and 81.
var (
	matrixNamespaces = []string{"bench-x", "bench-y", "bench-z"}
	matrixPods       = []string{"a", "b", "c"}
)

const matrixPort = 80

func matrixServers() []server {
	var out []server
	for _, ns := range matrixNamespaces {
		for _, name := range matrixPods {
			out = append(out, server{namespace: ns, name: name, labels: map[string]string{"pod": name}, ports: [][]int32{{80}, {81}}})
		}
	}
	return out
}

// matrixPolicies allow some cells and deny others: x admits only y into its pod a; y/b
// admits only y/c; z/c may only look names up.
func matrixPolicies() []*networkingv1.NetworkPolicy {
	x, y, z := matrixNamespaces[0], matrixNamespaces[1], matrixNamespaces[2]
	return []*networkingv1.NetworkPolicy{
		policy(x, "deny-ingress", nil, networkingv1.PolicyTypeIngress),
		admit(policy(x, "a-from-y", map[string]string{"pod": "a"}, networkingv1.PolicyTypeIngress), namespaceNamed(y), 80, 81),
		admit(policy(y, "b-from-c", map[string]string{"pod": "b"}, networkingv1.PolicyTypeIngress), podsLabelled(map[string]string{"pod": "c"}), 80, 81),
		dnsOnly(policy(z, "c-dns-only", map[string]string{"pod": "c"}, networkingv1.PolicyTypeEgress)),
	}
}

func matrixEdges() []v1alpha1.Edge {
	var edges []v1alpha1.Edge
	for _, from := range matrixServers() {
		for _, to := range matrixServers() {
			edges = append(edges, podEdge(fmt.Sprintf("%s-%s-to-%s-%s", from.namespace, from.name, to.namespace, to.name),
				from.namespace, from.labels, to.namespace, to.labels, matrixPort))
		}
	}
	return edges
}

// setUpMatrix creates the namespaces, a Service per pod name and the policies, and
// returns the 81 edges with what the policies allow.
func (b *bench) setUpMatrix() ([]v1alpha1.Edge, error) {
	for _, ns := range matrixNamespaces {
		if err := b.createNamespace(ns); err != nil {
			return nil, err
		}
		for _, name := range matrixPods {
			if err := b.create(service(ns, name, map[string]string{"pod": name}, []int32{80, 81})); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range matrixPolicies() {
		if err := b.create(p); err != nil {
			return nil, err
		}
	}
	edges := matrixEdges()
	model, err := b.expectations(edges)
	if err != nil {
		return nil, err
	}
	pods := map[string]*corev1.Pod{}
	for _, s := range matrixServers() {
		pods[s.namespace+"/"+s.name] = s.pod(b.opts.image)
	}
	allowed := model.expect(edges, func(e v1alpha1.Edge) *corev1.Pod {
		return pods[e.To.Pods.Namespace+"/"+e.To.Pods.PodLabels["pod"]]
	})
	b.logf("the policies allow %d of the %d cells of the 9x9 matrix", allowed, len(edges))
	return edges, nil
}

// upstreamCells are the edges as the upstream method probes them: exec'd in the
// server pod with the source's labels. A pod reaching itself goes over loopback, which
// no policy governs, so (as upstream does) those cells expect a connection.
func upstreamCells(edges []v1alpha1.Edge, servers []server, pods map[string]*corev1.Pod, podOf func(ns string, labels map[string]string) string) []cell {
	exec := map[string]string{}
	for _, s := range servers {
		exec[s.namespace+"/"+s.name] = s.exec()
	}
	cells := make([]cell, 0, len(edges))
	for _, e := range edges {
		from := podOf(e.From.Namespace, e.From.PodLabels)
		to := podOf(e.To.Pods.Namespace, e.To.Pods.PodLabels)
		fromPod := pods[e.From.Namespace+"/"+from]
		toPod := pods[e.To.Pods.Namespace+"/"+to]
		cells = append(cells, cell{
			fromNamespace: e.From.Namespace, fromPod: from, container: exec[e.From.Namespace+"/"+from],
			to:    address(toPod, e.To.Pods.Port.IntVal),
			allow: e.Expect == v1alpha1.ExpectAllow || fromPod.UID == toPod.UID,
		})
	}
	return cells
}

// upstreamWholeRun is the upstream method from scratch: create the servers, wait until
// they are Ready, probe every cell.
func (b *bench) upstreamWholeRun(servers []server, edges []v1alpha1.Edge, podOf func(string, map[string]string) string) (whole time.Duration, cells []cell, err error) {
	start := time.Now()
	pods, err := b.startServers(servers)
	if err != nil {
		return 0, nil, err
	}
	ready := time.Since(start)
	cells = upstreamCells(edges, servers, pods, podOf)
	out, err := b.probeCells(cells)
	whole = time.Since(start)
	b.logf("upstream: %d servers Ready in %s, %d cells in %s more (%d execs, %d still wrong; median exec %.2fs connected, %.2fs not)",
		len(servers), ready.Round(time.Millisecond), len(cells), (whole - ready).Round(time.Millisecond), out.execs, out.wrong,
		figures.Summarize(out.connects).Median, figures.Summarize(out.fails).Median)
	if out.wrong > 0 {
		b.report.Note("upstream method: %d of %d cells differed from the policies after %d tries", out.wrong, len(cells), upstreamTries)
	}
	return whole, cells, err
}

func (b *bench) matrix() error {
	edges, err := b.setUpMatrix()
	if err != nil {
		return err
	}
	servers := matrixServers()
	podOf := func(_ string, labels map[string]string) string { return labels["pod"] }
	var ours, upstream, probesAlone, speedup []float64
	for rep := range b.opts.reps {
		if err := errorsOf(b.deleteTests("bench-matrix"), b.stopServers(servers)); err != nil {
			return err
		}
		whole, cells, err := b.upstreamWholeRun(servers, edges, podOf)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := b.probeCells(cells); err != nil {
			return err
		}
		alone := time.Since(start)
		took, test, err := b.runTest(&v1alpha1.ReachabilityTest{
			ObjectMeta: metav1.ObjectMeta{Name: "bench-matrix"},
			Spec:       sameTimeoutAsUpstream(edges),
		})
		if err != nil {
			return err
		}
		b.checkPassed(test)
		b.logf("matrix rep %d: netconform %s, upstream whole run %s, upstream probes alone %s", rep+1, seconds(took), seconds(whole), seconds(alone))
		ours, upstream, probesAlone = append(ours, took.Seconds()), append(upstream, whole.Seconds()), append(probesAlone, alone.Seconds())
		speedup = append(speedup, whole.Seconds()/took.Seconds())
	}
	b.report.Add(figures.Figure{Key: "matrix81_seconds", Label: "9x9 matrix: netconform, apply to Completed", Unit: "s", Samples: ours, Target: figures.Under(6)})
	b.report.Add(figures.Figure{Key: "matrix81_upstream_seconds", Label: "9x9 matrix: upstream whole run (pods, Ready, 81 execs)", Unit: "s", Samples: upstream})
	b.report.Add(figures.Figure{Key: "matrix81_upstream_probes_seconds", Label: "9x9 matrix: upstream 81 execs alone", Unit: "s", Samples: probesAlone})
	b.report.Add(figures.Figure{Key: "matrix81_speedup", Label: "9x9 matrix: speed-up over upstream whole run", Unit: "x", Samples: speedup, Target: figures.AtLeast(1.5)})
	return nil
}

func seconds(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
