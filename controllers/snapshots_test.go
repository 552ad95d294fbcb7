package controllers

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
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
	if n := read(shop, start, start.Add(6*time.Second+snapshotTTL)); n == 0 {
		t.Error("a view older than snapshotTTL served a run")
	}
}
