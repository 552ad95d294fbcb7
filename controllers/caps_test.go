package controllers

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// A run over the caps on checks makes no pod, and says on every edge which edge made
// how many checks, the cap and the fix.
func TestRunOverTheCapsMakesNoPods(t *testing.T) {
	ns := plainNamespace(t, "caps")
	startManager(t, SetupOptions{Options: Options{MaxChecksPerEdge: 2, MaxChecksPerRun: 3}})
	backend := map[string]string{"app": "backend"}
	for i := range 3 {
		readyPod(t, ns, fmt.Sprintf("backend-%d", i), backend, fmt.Sprintf("10.1.0.%d", i+1))
	}
	toPods := v1alpha1.Edge{
		Name: "front-to-backends", From: v1alpha1.Source{Namespace: ns, PodLabels: map[string]string{"app": "front"}},
		To:     v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: ns, PodLabels: backend, Port: intstr.FromInt(80)}},
		Expect: v1alpha1.ExpectAllow,
	}
	front := map[string]string{"app": "front"}
	var hosts []v1alpha1.Edge
	for i := range 4 {
		hosts = append(hosts, hostEdge(fmt.Sprintf("to-host-%d", i), ns, front, "10.0.0.1", int32(80+i), v1alpha1.ExpectAllow))
	}
	for _, c := range []struct {
		name  string
		edges []v1alpha1.Edge
		want  []string
	}{
		{"per-edge", []v1alpha1.Edge{toPods, hosts[0]}, []string{"edge front-to-backends makes 3 checks", "cap of 2 checks per edge", "--max-checks-per-edge"}},
		{"per-run", hosts, []string{"the run makes 4 checks", "cap of 3 checks per run", "--max-checks-per-run"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := createTest(t, "caps-"+c.name, v1alpha1.ReachabilityTestSpec{Edges: c.edges})
			rt = waitForCompleted(t, rt.Name)
			if pods := probePodsOf(t, rt); len(pods) != 0 {
				t.Errorf("a run over the caps made %d probe pods", len(pods))
			}
			for _, r := range rt.Status.Results {
				if r.Observed != v1alpha1.ObservedError || r.Verdict == v1alpha1.VerdictPass {
					t.Errorf("%s: observed %s verdict %s, want an Error", r.Edge, r.Observed, r.Verdict)
				}
				for _, w := range c.want {
					if !strings.Contains(r.Message, w) {
						t.Errorf("%s: message %q does not say %q", r.Edge, r.Message, w)
					}
				}
			}
			if c := condition(rt, v1alpha1.ConditionPassed); c == nil || c.Status == "True" {
				t.Errorf("Passed = %+v, want not True", c)
			}
			waitForEvent(t, rt, EventTooManyChecks)
		})
	}
}
