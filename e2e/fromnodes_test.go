//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestFromNodes: edges checked from every node (from.nodes all), whose denial is an
// egress policy on the source, so that the source's node decides. On an enforcing
// cluster they pass from every node; on a partially enforcing one the Deny edge fails
// from the open node alone, and says so.
func TestFromNodes(t *testing.T) {
	if cfg.profile == noop {
		t.Skip("the noop profile enforces on no node: the other suites cover it")
	}
	nodes := cfg.nodes
	ns := namespace("from-nodes")
	s := newScenario(t, ns)
	client, server := labels("app", "client"), labels("app", "server")
	s.deploy(ns, workload{name: "server", labels: server, ports: []port{{name: "http", number: 8080}, {name: "admin", number: 9090}}})
	s.create(allowEgress(ns, "client-to-server-http", selector(client), dnsEgress(),
		egressTo(peers(podPeer(selector(server))), tcpPorts(8080))))

	everyNode := func(src v1alpha1.Source) v1alpha1.Source {
		src.Nodes = &v1alpha1.NodeSelection{All: true}
		return src
	}
	edges := []v1alpha1.Edge{
		allow("client-to-http-from-every-node", everyNode(source(ns, client)), toPods(ns, server, intstr.FromInt32(8080))),
		deny("client-to-admin-from-every-node", everyNode(source(ns, client)), toPods(ns, server, intstr.FromInt32(9090))),
	}
	started := time.Now()
	rt := s.runTest("e2e-from-nodes", edges)
	took := time.Since(started)

	var want []string // the nodes the Deny edge must fail from
	if cfg.profile == partial {
		want = []string{cfg.openNode}
	}
	results := map[string]v1alpha1.EdgeResult{}
	for _, r := range rt.Status.Results {
		results[r.Edge] = r
	}
	var failing []string
	for _, e := range edges {
		r := results[e.Name]
		wantFailing := []string(nil)
		if e.Expect == v1alpha1.ExpectDeny {
			wantFailing = want
		}
		if int(r.Nodes) != len(nodes) || !slices.Equal(r.FailingNodes, wantFailing) {
			s.fatalf("edge %s: checked from %d nodes failing on %v, want %d nodes (%s) failing on %v: %s", e.Name, r.Nodes, r.FailingNodes, len(nodes), strings.Join(nodes, ", "), wantFailing, r.Message)
		}
		wantVerdict := v1alpha1.VerdictPass
		if len(wantFailing) > 0 {
			wantVerdict = v1alpha1.VerdictFail
			for _, n := range wantFailing {
				if !strings.Contains(r.Message, n) {
					s.fatalf("edge %s: message %q does not name the failing node %s", e.Name, r.Message, n)
				}
			}
		}
		if r.Verdict != wantVerdict {
			s.fatalf("edge %s: verdict %s, want %s: %s", e.Name, r.Verdict, wantVerdict, r.Message)
		}
		failing = append(failing, r.FailingNodes...)
	}
	countEdges(len(edges), runCounts{asExpected: len(edges)})
	report("from-nodes edges=%d nodes=%d failing-nodes=%s run=%s", len(edges), len(nodes), joinedOrNone(failing), took.Round(100*time.Millisecond))
}

func joinedOrNone(nodes []string) string {
	return orNone(strings.Join(nodes, ","))
}
