package controllers

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/probes"
)

func TestSnapshotsServeRunsThatCompleteTogether(t *testing.T) {
	reads := 0
	reader := fake.NewClientBuilder().WithScheme(testScheme).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			reads++
			return c.List(ctx, list, opts...)
		},
	}).Build()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := snapshots{kinds: policykinds.Fixed{}}
	read := func(namespaces []string, since, now time.Time) int {
		t.Helper()
		before := reads
		if _, err := s.get(context.Background(), reader, namespaces, since, now); err != nil {
			t.Fatal(err)
		}
		return reads - before
	}
	shop := []string{"kube-system", "shop"}
	if n := read(shop, start, start.Add(5*time.Second)); n == 0 {
		t.Fatal("the first run read nothing")
	}
	if n := read(shop, start.Add(time.Second), start.Add(6*time.Second)); n != 0 {
		t.Errorf("a run that started before the view was read read again (%d lists)", n)
	}
	if n := read([]string{"kube-system", "bank"}, start, start.Add(6*time.Second)); n == 0 {
		t.Error("a run in other namespaces used the view of shop")
	}
	if n := read(shop, start.Add(5500*time.Millisecond), start.Add(6*time.Second)); n == 0 {
		t.Error("a run that started after the view was read used it")
	}
	if n := read(shop, start, start.Add(6*time.Second+shareReadsFor)); n == 0 {
		t.Error("a view older than shareReadsFor served a run")
	}
	// A run started to the second may start after a policy changed within that second.
	later := start.Add(10 * time.Second)
	read(shop, later, later)
	s.policyChanged(later.Add(300 * time.Millisecond))
	if n := read(shop, later, later.Add(500*time.Millisecond)); n == 0 {
		t.Error("a view read before a NetworkPolicy changed served a run")
	}
}

// The manager sees NetworkPolicies change, so that no view read before serves a run.
func TestPolicyChangesReachTheSnapshots(t *testing.T) {
	ns := newNamespace(t, "policies")
	h := startManager(t, SetupOptions{})
	for _, name := range []string{"deny-ingress", "deny-egress"} { // the second after the cache's first list
		seen := h.rec.snapshots.policiesChanged.Load()
		policy := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if err := k8s.Create(context.Background(), policy); err != nil {
			t.Fatalf("creating the policy: %v", err)
		}
		eventually(t, 10*time.Second, "the manager to see "+name, func(context.Context) (bool, error) {
			return h.rec.snapshots.policiesChanged.Load() > seen, nil
		})
	}
}

func TestRunsPlannedTogetherShareReadsOfReadyPods(t *testing.T) {
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	server := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Status:     corev1.PodStatus{PodIP: "10.244.0.9", Conditions: []corev1.PodCondition{ready}},
	}
	probe := server.DeepCopy() // a probe pod that takes on the same labels, and is never ready
	probe.Name, probe.Labels = "web-probe", map[string]string{"app": "web", probes.LabelRun: "w1"}
	reads := 0
	reader := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(server, probe).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			reads++
			return c.List(ctx, list, opts...)
		},
	}).Build()
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	r := apiResolver{reader: reader, recent: &recentReads[[]probes.PodTarget]{}, now: clock.now}
	for range 3 {
		targets, err := r.ReadyPods(context.Background(), "shop", map[string]string{"app": "web"})
		if err != nil || len(targets) != 1 || targets[0].IP != "10.244.0.9" {
			t.Fatalf("ready pods %+v (%v), want web-1 alone", targets, err)
		}
	}
	if reads != 1 {
		t.Errorf("%d reads for three edges towards one destination, want 1", reads)
	}
	clock.advance(shareReadsFor)
	if _, err := r.ReadyPods(context.Background(), "shop", map[string]string{"app": "web"}); err != nil || reads != 2 {
		t.Errorf("%d reads (%v) once the read is %s old, want a new one", reads, err, shareReadsFor)
	}
}

// Runs that ask for the same view while it is being read wait for that read instead of
// making their own.
func TestConcurrentAsksShareOneRead(t *testing.T) {
	joined, release, entered := make(chan struct{}, 8), make(chan struct{}), make(chan struct{})
	c := &recentReads[int]{joined: func() { joined <- struct{}{} }}
	var reads atomic.Int32
	var fail atomic.Bool
	read := func() (int, error) {
		if reads.Add(1) == 1 {
			close(entered)
			<-release
		}
		if fail.Load() {
			return 0, errors.New("the API server is away")
		}
		return 42, nil
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const askers = 5
	var wg sync.WaitGroup
	values := make([]int, askers)
	ask := func(i int) {
		v, err := c.get("shop", now, now, read)
		if err != nil {
			t.Error(err)
		}
		values[i] = v
	}
	wg.Go(func() { ask(0) })
	<-entered
	for i := 1; i < askers; i++ {
		wg.Go(func() { ask(i) })
	}
	for range askers - 1 {
		select {
		case <-joined:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d reads: the askers did not wait for the read in flight", reads.Load())
		}
	}
	close(release)
	wg.Wait()
	if reads.Load() != 1 || slices.ContainsFunc(values, func(v int) bool { return v != 42 }) {
		t.Errorf("%d reads giving %v, want one read serving all %d askers", reads.Load(), values, askers)
	}
	// A run that started after the read began does not take it; a read that fails is
	// not kept.
	later := now.Add(time.Second)
	fail.Store(true)
	if _, err := c.get("shop", later, later, read); err == nil || reads.Load() != 2 {
		t.Errorf("%d reads (%v), want a new, failing read for a run that started after the last", reads.Load(), err)
	}
	fail.Store(false)
	if v, err := c.get("shop", later, later, read); err != nil || v != 42 || reads.Load() != 3 {
		t.Errorf("%d reads giving %d (%v), want the failed read made again", reads.Load(), v, err)
	}
}

// unitClock is a clock the test moves by hand.
type unitClock struct{ t time.Time }

func (c *unitClock) now() time.Time          { return c.t }
func (c *unitClock) advance(d time.Duration) { c.t = c.t.Add(d) }
