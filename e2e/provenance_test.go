//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// A restarted manager recognises its probe pods by rendering them again and comparing
// them with what the API server stored. On a real cluster, with its admission plugins and
// kubelet, a rendered probe pod must compare equal to itself as stored, before and after
// it ran.
func TestStoredProbePodIsRecognised(t *testing.T) {
	ns := namespace("provenance")
	s := newScenario(t, ns)
	// A suspended test owns the pod, so that the garbage collector keeps it and the
	// manager runs nothing.
	rt := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: v1alpha1.ReachabilityTestSpec{
		Suspend: ptr.To(true),
		Edges:   []v1alpha1.Edge{allow("loopback", source(ns, labels("app", "probe")), toHost("127.0.0.1", 9))},
	}}
	s.create(rt)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), rt) })

	settings := probes.PodSettings{Image: cfg.image, Settle: time.Second, MaxSettle: 2 * time.Second}
	plan := probes.PodPlan{Identity: probes.IdentityOf(rt.Spec.Edges[0].From), Index: 2, Checks: []probes.Check{
		{Edge: "loopback", Kind: probes.KindTCP, Host: "127.0.0.1", Port: 9},
	}}
	pod := probes.RenderPod(probes.SharedPod{Wave: "e2e-1", Members: []probes.Member{probes.MemberOf(rt, "g1-e2e")}, Spec: rt.Spec, Plan: plan}, settings)
	s.create(pod)

	recognised := func(what string) {
		stored := &corev1.Pod{}
		if err := k8s.Get(s.ctx, client.ObjectKeyFromObject(pod), stored); err != nil {
			s.fatalf("reading the probe pod: %v", err)
		}
		if err := probes.Unrendered(stored, rt.Spec, settings); err != nil {
			s.fatalf("the probe pod as stored %s is not recognised: %v", what, err)
		}
	}
	recognised("when created")
	s.waitUntil("the probe pod to end", func(ctx context.Context) (bool, string, error) {
		p := &corev1.Pod{}
		err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), p)
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, string(p.Status.Phase), err
	})
	recognised("after it ran")
}
