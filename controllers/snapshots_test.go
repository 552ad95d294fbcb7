package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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
	var s snapshots
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
