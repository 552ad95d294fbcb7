//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestDenyEvidenceWithoutServices is the upstream suite's world as a new user meets it:
// namespaces x, y, z with pods a, b, c serving TCP 80 and 81, a readiness probe on 80
// only (z/b's names the port "http"), no Services, and a default-deny ingress on z. The
// test has every cross-pod edge on both ports: 144 edges, 48 of them Deny edges into z.
// Nothing but the kubelet shows that the pods listen. On the enforcing profile the Deny
// edges on port 80 pass on the readiness probe's evidence, and those on 81, which no
// probe covers, stay Inconclusive and say how to make them conclusive; on the noop
// profile every Deny edge fails as an unexpected allow; on partial, those into pods on
// the open node do, and the rest are as on enforcing.
func TestDenyEvidenceWithoutServices(t *testing.T) {
	logical := []string{"x", "y", "z"}
	names := map[string]string{}
	var all []string
	for _, l := range logical {
		names[l] = namespace("evidence-" + l)
		all = append(all, names[l])
	}
	s := newScenario(t, all...)
	ports := []port{{name: "http", number: 80}, {name: "alt", number: 81}}
	probeByName := func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.TCPSocket.Port = intstr.FromString("http") }
	for _, l := range logical {
		var ws []workload
		for _, pod := range []string{"a", "b", "c"} {
			w := workload{name: pod, labels: labels("pod", pod), ports: ports, lowPorts: true, noService: true}
			if l == "z" && pod == "b" {
				w.edit = probeByName
			}
			ws = append(ws, w)
		}
		s.deploy(names[l], ws...)
	}
	s.create(denyAll(names["z"], ingressOnly))

	var edges []v1alpha1.Edge
	for _, from := range logical {
		for _, fromPod := range []string{"a", "b", "c"} {
			for _, to := range logical {
				for _, toPod := range []string{"a", "b", "c"} {
					if from == to && fromPod == toPod {
						continue
					}
					for _, p := range ports {
						e := allow(fmt.Sprintf("%s-%s-to-%s-%s-%d", from, fromPod, to, toPod, p.number),
							source(names[from], labels("pod", fromPod)), toPods(names[to], labels("pod", toPod), intstr.FromInt32(p.number)))
						if to == "z" {
							e.Expect = v1alpha1.ExpectDeny
						}
						edges = append(edges, e)
					}
				}
			}
		}
	}
	unprobedPort := func(e v1alpha1.Edge) bool {
		return e.Expect == v1alpha1.ExpectDeny && e.To.Pods.Port.IntVal == 81
	}
	var overrides map[string]outcome
	if cfg.profile != noop {
		overrides = overridesFor(edges, unprobedPort, always(outcome{v1alpha1.VerdictInconclusive, denied.observed}))
	}
	const name = "e2e-kubelet-evidence"
	ex := s.run(phase{name: name, edges: edges, overrides: overrides})

	rt := &v1alpha1.ReachabilityTest{}
	if err := k8s.Get(s.ctx, client.ObjectKey{Name: name}, rt); err != nil {
		s.fatalf("reading ReachabilityTest %s: %v", name, err)
	}
	deny, inconclusive := 0, 0
	byName := map[string]v1alpha1.Edge{}
	for _, e := range edges {
		byName[e.Name] = e
		if e.Expect == v1alpha1.ExpectDeny {
			deny++
		}
	}
	for _, r := range rt.Status.Results {
		e := byName[r.Edge]
		if r.Verdict == v1alpha1.VerdictInconclusive {
			inconclusive++
		}
		if e.Expect != v1alpha1.ExpectDeny || ex.wants[e.Name].verdict == v1alpha1.VerdictFail {
			continue // let through: no evidence to name
		}
		// The message names the evidence, or the next step.
		want := "readiness probe connects to port 80"
		if unprobedPort(e) {
			want = "To make it conclusive, give the pod a readiness probe (tcpSocket, httpGet or grpc) on port 81"
		}
		if !strings.Contains(r.Message, want) {
			t.Errorf("edge %s (%s): message %q lacks %q", r.Edge, r.Verdict, r.Message, want)
		}
	}
	report("kubelet-evidence edges=%d deny=%d inconclusive=%d", len(edges), deny, inconclusive)
}
