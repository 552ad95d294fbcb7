//go:build e2e

package e2e

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
)

// TestMatrix9x9 is the upstream NetworkPolicy suite's world (namespaces x, y, z with pods
// a, b, c) under a mix of policies. Its 81 edges expect what the policy model predicts
// from the live policies, so the run checks the model against the dataplane cell by cell:
// on enforcing every cell agrees; on noop every denied cell is a DataplaneMismatch.
func TestMatrix9x9(t *testing.T) {
	names := []string{namespace("x"), namespace("y"), namespace("z")}
	s := newScenario(t, names...)
	web := port{name: "web", number: 8080}
	deployed := map[string]*corev1.Pod{}
	for _, ns := range names {
		for name, pod := range s.deploy(ns,
			workload{name: "a", labels: labels("pod", "a"), ports: []port{web}},
			workload{name: "b", labels: labels("pod", "b"), ports: []port{web}},
			workload{name: "c", labels: labels("pod", "c"), ports: []port{web}},
		) {
			deployed[ns+"/"+name] = pod
		}
	}
	x, y, z := names[0], names[1], names[2]
	s.create(
		denyAll(x, ingressOnly),
		allowIngress(x, "a-from-y", selector(labels("pod", "a")), peers(nsPeer(labels("kubernetes.io/metadata.name", y))), tcpPorts(8080)),
		allowIngress(y, "b-from-c", selector(labels("pod", "b")), peers(podPeer(selector(labels("pod", "c")))), tcpPorts(8080)),
		allowEgress(z, "c-dns-only", selector(labels("pod", "c")), dnsEgress()),
	)

	var edges []v1alpha1.Edge
	for _, from := range names {
		for _, fromPod := range []string{"a", "b", "c"} {
			for _, to := range names {
				for _, toPod := range []string{"a", "b", "c"} {
					edges = append(edges, v1alpha1.Edge{
						Name: fmt.Sprintf("%s-%s-to-%s-%s", from, fromPod, to, toPod),
						From: source(from, labels("pod", fromPod)),
						To:   toPods(to, labels("pod", toPod), intstr.FromString("web")),
					})
				}
			}
		}
	}
	predictExpectations(s, edges, deployed)
	s.run(phase{name: "e2e-matrix", edges: edges})
}

// predictExpectations sets each edge's expectation to what the policy model predicts
// from the cluster's live policies.
func predictExpectations(s *scenario, edges []v1alpha1.Edge, deployed map[string]*corev1.Pod) {
	s.t.Helper()
	cluster, err := prediction.Snapshot(s.ctx, k8s, policyKinds, edges)
	if err != nil {
		s.fatalf("reading the policies: %v", err)
	}
	allowed := 0
	for i, e := range edges {
		to := deployed[e.To.Pods.Namespace+"/"+e.To.Pods.PodLabels["pod"]]
		d := cluster.Evaluate(netpol.Connection{
			From:     netpol.PodPeer(prediction.Source(e.From, "probe", "")),
			To:       netpol.PodPeer(to),
			Port:     8080,
			Protocol: corev1.ProtocolTCP,
		})
		edges[i].Expect = v1alpha1.ExpectDeny
		if d.Allowed {
			edges[i].Expect = v1alpha1.ExpectAllow
			allowed++
		}
	}
	s.t.Logf("the policies allow %d of the %d cells", allowed, len(edges))
}
