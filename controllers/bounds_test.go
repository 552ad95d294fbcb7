package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/bounds"
)

// TestOutOfBoundsTestGetsNoPods: a test that asks for a probe image or a namespace
// beyond the manager's configuration gets a NotAllowed status and event naming the
// field, and no pods; once its spec is within bounds, it runs.
func TestOutOfBoundsTestGetsNoPods(t *testing.T) {
	served, outside := newNamespace(t, "served"), newNamespace(t, "outside")
	opts := SetupOptions{}
	opts.Bounds = bounds.Bounds{Namespaces: []string{served}}
	startManager(t, opts)
	source := map[string]string{"app": "client"}
	spec := v1alpha1.ReachabilityTestSpec{
		Edges:    []v1alpha1.Edge{hostEdge("to-db", served, source, "10.0.0.9", 5432, v1alpha1.ExpectAllow)},
		ProbePod: &v1alpha1.ProbePodSpec{Image: "evil.example/probe:1"},
	}
	rt := createTest(t, "bounds", spec)
	rt = waitForNotAllowed(t, rt.Name, 1, `spec.probePod.image "evil.example/probe:1" is not one of the manager's probe images (netconform:test)`)
	waitForEvent(t, rt, v1alpha1.ReasonNotAllowed)
	if rt.Status.ActiveRun != nil || len(probePodsOf(t, rt)) != 0 {
		t.Fatalf("a test beyond the bounds started run %v with pods %v", rt.Status.ActiveRun, probePodsOf(t, rt))
	}

	rt.Spec.ProbePod = nil
	rt.Spec.Edges = append(rt.Spec.Edges, hostEdge("outside-to-db", outside, source, "10.0.0.9", 5432, v1alpha1.ExpectAllow))
	updateSpec(t, rt)
	rt = waitForNotAllowed(t, rt.Name, 2, `spec.edges[1].from.namespace "`+outside+`" is not one of the namespaces the manager may put pods in (--namespaces: `+served+`)`)
	if len(probePodsOf(t, rt)) != 0 {
		t.Fatal("the manager created pods in a namespace outside its bounds")
	}

	rt.Spec.Edges = rt.Spec.Edges[:1]
	updateSpec(t, rt)
	for _, pod := range waitForPods(t, rt, 1) {
		if pod.Namespace != served {
			t.Errorf("probe pod %s/%s, want it in %s", pod.Namespace, pod.Name, served)
		}
		finishPod(t, &pod, asExpected)
	}
	done := waitForCompleted(t, rt.Name)
	if c := condition(done, v1alpha1.ConditionPassed); c.Status != metav1.ConditionTrue {
		t.Errorf("Passed %s (%s: %s), want True once the test is within bounds", c.Status, c.Reason, c.Message)
	}
}

// TestNamespaceSelectorBoundsPods: with a namespace selector, a test whose edges start
// in a namespace it does not select gets no pods.
func TestNamespaceSelectorBoundsPods(t *testing.T) {
	ns := newNamespace(t, "unselected")
	opts := SetupOptions{}
	opts.Bounds.NamespaceSelector = "netconform-probes=allowed"
	startManager(t, opts)
	rt := createTest(t, "bounds-selector", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{hostEdge("to-db", ns, nil, "10.0.0.9", 5432, v1alpha1.ExpectAllow)}})
	rt = waitForNotAllowed(t, rt.Name, 1, `spec.edges[0].from.namespace "`+ns+`" is not a namespace the manager's --namespace-selector "netconform-probes=allowed" selects`)
	if len(probePodsOf(t, rt)) != 0 {
		t.Fatal("the manager created pods in a namespace its selector does not select")
	}

	namespace := &corev1.Namespace{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: ns}, namespace); err != nil {
		t.Fatal(err)
	}
	namespace.Labels["netconform-probes"] = "allowed"
	if err := k8s.Update(context.Background(), namespace); err != nil {
		t.Fatal(err)
	}
	rt.Spec.Attempts = 2 // a new generation is checked again
	updateSpec(t, rt)
	waitForPods(t, rt, 1)
}

// waitForNotAllowed waits until the generation is refused with a message that says want.
func waitForNotAllowed(t *testing.T, name string, generation int64, want string) *v1alpha1.ReachabilityTest {
	t.Helper()
	var rt *v1alpha1.ReachabilityTest
	eventually(t, 20*time.Second, "test "+name+" to be NotAllowed", func(context.Context) (bool, error) {
		rt = getTest(t, name)
		c := condition(rt, v1alpha1.ConditionPassed)
		return rt.Status.ObservedGeneration == generation && c != nil && c.Reason == v1alpha1.ReasonNotAllowed && c.ObservedGeneration == generation, nil
	})
	passed, completed := condition(rt, v1alpha1.ConditionPassed), condition(rt, v1alpha1.ConditionCompleted)
	if passed.Status != metav1.ConditionFalse || !strings.Contains(passed.Message, want) {
		t.Errorf("Passed %s: %q, want False saying %q", passed.Status, passed.Message, want)
	}
	if completed.Status != metav1.ConditionTrue || completed.Reason != v1alpha1.ReasonNotAllowed {
		t.Errorf("Completed %s (%s), want True with reason NotAllowed: this generation will not run", completed.Status, completed.Reason)
	}
	return rt
}

func updateSpec(t *testing.T, rt *v1alpha1.ReachabilityTest) {
	t.Helper()
	spec := rt.Spec
	latest := getTest(t, rt.Name)
	latest.Spec = spec
	if err := k8s.Update(context.Background(), latest); err != nil {
		t.Fatalf("updating test %s: %v", rt.Name, err)
	}
	*rt = *latest
}
