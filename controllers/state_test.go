package controllers

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// heldState counts, per store, what the reconciler holds in memory for tests, runs and
// pods.
func (r *ReachabilityTestReconciler) heldState() map[string]int {
	count := func(m interface{ Range(func(any, any) bool) }) int {
		n := 0
		m.Range(func(any, any) bool { n++; return true })
		return n
	}
	held := map[string]int{
		"plans": count(&r.plans), "completed": count(&r.completed), "canaries": count(&r.canaries),
		"pod contents": count(&r.pods.contents), "pod endings": count(&r.pods.endings),
		"provenance": r.trust.Len(), "pool": r.Pool.Size(),
	}
	if c := r.changes; c != nil {
		c.mu.Lock()
		held["changes"] = len(c.tests) + len(c.scopes) + len(c.runs) + len(c.observed)
		c.mu.Unlock()
	}
	return held
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// Creating and deleting many tests, some mid-run and some after their run, leaves
// nothing behind: every per-test store, the per-test metric series and the heap come
// back to where they were. NETCONFORM_CHURN_TESTS sets how many per round (default 100).
func TestDeletedTestsLeaveNothingBehind(t *testing.T) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("NETCONFORM_CHURN_TESTS")); err == nil && v > 0 {
		n = v
	}
	ns := newNamespace(t, "churn")
	h := startManager(t, SetupOptions{Options: Options{MaxConcurrentProbePods: 0, FollowChanges: true}})
	baseline := h.rec.heldState()
	heap := []uint64{heapInUse()}
	started := time.Now()
	for round := range 3 {
		churn(t, ns, n, round)
		eventually(t, 120*time.Second, "every store to return to its baseline", func(ctx context.Context) (bool, error) {
			// Runs that were planned as their test went may still create pods: delete
			// them as the garbage collector would.
			if err := k8s.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.HasLabels{probes.LabelRun}, client.GracePeriodSeconds(0)); err != nil {
				return false, err
			}
			for store, size := range h.rec.heldState() {
				if size != baseline[store] {
					t.Logf("%s holds %d, baseline %d", store, size, baseline[store])
					return false, nil
				}
			}
			return true, nil
		})
		heap = append(heap, heapInUse())
	}
	if series := testutil.CollectAndCount(h.registry, "netconform_run_duration_seconds", "netconform_violations_total", "netconform_edge_verdict", "netconform_test_passed"); series != 0 {
		t.Errorf("%d metric series of deleted tests remain", series)
	}
	kib := make([]uint64, len(heap))
	for i, b := range heap {
		kib[i] = b >> 10
	}
	t.Logf("3 rounds of %d tests created and deleted in %s; heap in use (KiB) before and after each round: %v",
		n, time.Since(started).Round(time.Millisecond), kib)
}

// churn creates n tests of one edge each, from a handful of identities so that they share
// probe pods; ends the pods of every other test's run; deletes every test, half of
// them mid-run; and deletes the pods the garbage collector would.
func churn(t *testing.T, ns string, n, round int) {
	t.Helper()
	ctx := context.Background()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("churn-%d-%d", round, i)
		app := map[string]string{"app": fmt.Sprintf("a%d", i%5)}
		rt := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: names[i]}, Spec: v1alpha1.ReachabilityTestSpec{
			Edges: []v1alpha1.Edge{hostEdge("e", ns, app, "10.0.0.1", int32(1000+i), v1alpha1.ExpectAllow)},
		}}
		if err := k8s.Create(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 120*time.Second, "every test's checks to be in a probe pod", func(context.Context) (bool, error) {
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.HasLabels{probes.LabelRun}); err != nil {
			return false, err
		}
		carried := 0
		for i := range pods.Items {
			checks, err := probes.ChecksOf(&pods.Items[i])
			if err != nil {
				return false, err
			}
			carried += len(checks)
		}
		return carried >= n, nil
	})
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.HasLabels{probes.LabelRun}); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if i%2 == 0 {
			finishPod(t, &pods.Items[i], asExpected)
		}
	}
	for _, name := range names {
		if err := k8s.Delete(ctx, &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}}); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
	// envtest runs no garbage collector: delete what it would.
	if err := k8s.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.HasLabels{probes.LabelRun}, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
}
