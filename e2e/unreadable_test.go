//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestPoliciesTheModelCannotRead: with a Calico-like CRD installed (group
// crd.projectcalico.org, kind NetworkPolicy) and one object of it in the scenario's
// namespace, the manager cannot know what that policy does. Every edge keeps its probe
// verdict, but none gets a prediction or a diagnosis: on the noop profile, where the
// NetworkPolicies alone would diagnose every Deny edge DataplaneMismatch, none is; the
// explanation names the kind, and the test's PredictionsComplete condition is False with
// reason UnreadablePolicies. The CRD (and so its object) is removed afterwards.
func TestPoliciesTheModelCannotRead(t *testing.T) {
	ns := namespace("unreadable")
	s := newScenario(t, ns)
	clientPods, server := labels("app", "client"), labels("app", "server")
	s.deploy(ns, workload{name: "server", labels: server, ports: []port{{name: "http", number: 8080, servicePort: 80}}})
	s.create(denyAll(ns, ingressOnly))
	s.installCalicoLikeCRD()
	calico := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "deny-all", "namespace": ns},
		"spec":     map[string]any{"selector": "all()", "types": []any{"Ingress"}},
	}}
	s.waitUntil("the Calico-like CRD to serve its kind", func(ctx context.Context) (bool, string, error) {
		err := k8s.Create(ctx, calico.DeepCopy())
		return err == nil, "not served yet", client.IgnoreAlreadyExists(err)
	})

	edges := []v1alpha1.Edge{
		deny("client-to-server", source(ns, clientPods), toService(ns, "server", 80)),
		deny("client-to-server-pod", source(ns, clientPods), toPods(ns, server, intstr.FromInt32(8080))),
	}
	const name = "e2e-unreadable-policies"
	rt := s.runTest(name, edges)
	p := phase{name: name, edges: edges}
	ex := s.expect(p, rt)
	s.t.Logf("ReachabilityTest %s:\n%s", name, resultTable(p, rt, ex))
	problems := slices.Clone(ex.problems)
	counts := runCounts{}
	ex.count(edges, rt, &counts)
	mismatches := 0
	for _, e := range edges {
		r := resultOf(rt, e.Name)
		switch {
		case r == nil:
			problems = append(problems, fmt.Sprintf("edge %s: no result", e.Name))
			continue
		case !ex.wants[e.Name].matches(*r):
			problems = append(problems, fmt.Sprintf("edge %s: got %s/%s, want %s: %s", e.Name, r.Verdict, r.Observed, ex.wants[e.Name], r.Message))
		default:
			counts.asExpected++
		}
		if r.Predicted != "" {
			counts.predicted++
		}
		if r.Diagnosis == v1alpha1.DiagnosisDataplaneMismatch {
			mismatches++
		}
		if r.Predicted != "" || r.Diagnosis != "" || !strings.Contains(r.Explanation, "NetworkPolicy (crd.projectcalico.org/v1)") {
			problems = append(problems, fmt.Sprintf("edge %s: predicted %q, diagnosis %q, explanation %q; want no prediction, no diagnosis, the Calico kind named",
				e.Name, r.Predicted, r.Diagnosis, r.Explanation))
		}
	}
	// The edges have no prediction to count.
	countEdges(len(edges), runCounts{asExpected: counts.asExpected, crossNode: counts.crossNode, caught: counts.caught, caughtOnOpen: counts.caughtOnOpen})
	c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPredictionsComplete)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonUnreadablePolicies || !strings.Contains(c.Message, "in namespaces "+ns) {
		problems = append(problems, fmt.Sprintf("PredictionsComplete = %+v, want False, %s, naming the Calico kind in %s", c, v1alpha1.ReasonUnreadablePolicies, ns))
	} else {
		s.t.Logf("PredictionsComplete=False %s: %s", c.Reason, c.Message)
	}
	if len(problems) > 0 {
		s.t.Errorf("ReachabilityTest %s on profile %s:\n  %s\nstate saved in %s", name, cfg.profile, strings.Join(problems, "\n  "), s.dump(name))
	}
	report("unreadable-policies edges=%d predicted=%d dataplane-mismatch=%d", len(edges), counts.predicted, mismatches)
}

// installCalicoLikeCRD installs the Calico-like CRD of internal/policykinds/testdata, and
// removes it (with its objects) when the test ends.
func (s *scenario) installCalicoLikeCRD() {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "policykinds", "testdata", "calico-networkpolicy-crd.yaml"))
	if err != nil {
		s.fatalf("reading the CRD: %v", err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		s.fatalf("decoding the CRD: %v", err)
	}
	if err := k8s.Create(s.ctx, crd); client.IgnoreAlreadyExists(err) != nil {
		s.fatalf("installing the CRD: %v", err)
	}
	s.t.Cleanup(func() {
		if err := client.IgnoreNotFound(k8s.Delete(context.Background(), crd)); err != nil {
			s.t.Errorf("removing the Calico-like CRD: %v", err)
		}
	})
}

func resultOf(rt *v1alpha1.ReachabilityTest, edge string) *v1alpha1.EdgeResult {
	for i := range rt.Status.Results {
		if rt.Status.Results[i].Edge == edge {
			return &rt.Status.Results[i]
		}
	}
	return nil
}
