//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// TestFromNodes: edges checked from every node (from.nodes all), whose denial is an
// egress policy on the source, so that the source's node decides. On an enforcing
// cluster they pass from every node; on a partially enforcing one the Deny edge fails
// from the open node alone, and says so.
func TestFromNodes(t *testing.T) {
	if cfg.profile == noop {
		t.Skip("the noop profile enforces on no node: the other suites cover it")
	}
	nodes := schedulableNodes(t)
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
		want = []string{openNode(t)}
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

// schedulableNodes are the nodes from.nodes all checks from: Ready, not cordoned, and
// without a NoSchedule or NoExecute taint (the suites' probe pods tolerate none).
func schedulableNodes(t *testing.T) []string {
	t.Helper()
	var list corev1.NodeList
	if err := k8s.List(t.Context(), &list); err != nil {
		t.Fatalf("listing nodes: %v", err)
	}
	picked := probes.SelectNodes(list.Items, v1alpha1.NodeSelection{All: true}, nil)
	var names []string
	for _, n := range picked {
		if n.Unavailable != "" {
			t.Fatalf("node %s %s: the suite needs every node up", n.Name, n.Unavailable)
		}
		names = append(names, n.Name)
	}
	if len(names) == 0 {
		t.Fatal("no node a probe pod may run on")
	}
	return names
}

// openNode is the node the partial profile leaves without an enforcer:
// NETCONFORM_E2E_OPEN_NODE, or the open-node file of the local cluster.
func openNode(t *testing.T) string {
	t.Helper()
	if n := os.Getenv("NETCONFORM_E2E_OPEN_NODE"); n != "" {
		return n
	}
	dir := os.Getenv("NETCONFORM_CLUSTER_DIR")
	if dir == "" {
		cache := os.Getenv("NETCONFORM_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "netconform")
		}
		dir = filepath.Join(cache, "cluster")
	}
	data, err := os.ReadFile(filepath.Join(dir, "open-node"))
	if err != nil {
		t.Fatalf("the partial profile's open node: set NETCONFORM_E2E_OPEN_NODE or NETCONFORM_CLUSTER_DIR: %v", err)
	}
	return strings.TrimSpace(string(data))
}

func joinedOrNone(nodes []string) string {
	return orNone(strings.Join(nodes, ","))
}
