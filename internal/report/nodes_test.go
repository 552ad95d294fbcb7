package report_test

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/report"
)

// nodesFixture is a test whose edge, checked from every node, failed on two of three.
func nodesFixture() []v1alpha1.ReachabilityTest {
	start := metav1.Now()
	edge := v1alpha1.Edge{Name: "web-egress-denied", From: v1alpha1.Source{Namespace: "shop", PodLabels: map[string]string{"app": "web"}, Nodes: &v1alpha1.NodeSelection{All: true}},
		To: host("10.0.0.9", 5432), Expect: v1alpha1.ExpectDeny}
	pool := edge
	pool.Name, pool.From.Nodes = "web-from-pool", &v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": "a"}}}
	return []v1alpha1.ReachabilityTest{{
		ObjectMeta: metav1.ObjectMeta{Name: "per-node"},
		Spec:       v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{edge, pool}},
		Status: v1alpha1.ReachabilityTestStatus{
			LastRunStartTime: &start, LastRunCompletionTime: &start,
			Results: []v1alpha1.EdgeResult{{
				Edge: edge.Name, Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictFail,
				Target: "10.0.0.9:5432", Nodes: 3, FailingNodes: []string{"node-b", "node-c"},
				Message: "did not pass from 2 of 3 nodes (node-b, node-c); from node-b: connected: unexpected allow",
			}, {
				Edge: pool.Name, Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedRefused, Verdict: v1alpha1.VerdictPass, Nodes: 2,
			}},
		},
	}}
}

// Every format names the nodes an edge failed on, and the rows say which nodes an edge
// is checked from.
func TestReportsNameFailingNodes(t *testing.T) {
	formats := map[string]struct {
		render func(io.Writer, []v1alpha1.ReachabilityTest) error
		want   []string
	}{
		"table":    {report.Table, []string{"shop/app=web nodes:all", "shop/app=web nodes:pool=a", "FAIL web-egress-denied: expected Deny, observed Connected (10.0.0.9:5432) on nodes node-b, node-c of 3"}},
		"markdown": {report.Markdown, []string{"nodes:all", "on nodes node-b, node-c of 3"}},
		"junit":    {report.JUnit, []string{`message="expected Deny, observed Connected on nodes node-b, node-c of 3"`, "failing nodes: node-b, node-c (of 3 checked)"}},
	}
	for name, f := range formats {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := f.render(&out, nodesFixture()); err != nil {
				t.Fatal(err)
			}
			for _, want := range f.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("%s output lacks %q:\n%s", name, want, out.String())
				}
			}
		})
	}

	var out bytes.Buffer
	if err := report.JSON(&out, nodesFixture()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests []struct {
			Results []struct {
				Edge         string   `json:"edge"`
				Nodes        int32    `json:"nodes"`
				FailingNodes []string `json:"failingNodes"`
			} `json:"results"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Tests[0].Results
	if r[0].Nodes != 3 || !reflect.DeepEqual(r[0].FailingNodes, []string{"node-b", "node-c"}) || r[1].Nodes != 2 || r[1].FailingNodes != nil {
		t.Errorf("JSON results %+v, want nodes and failingNodes of each edge", r)
	}
	if strings.Contains(out.String(), `"failingNodes": []`) {
		t.Error("JSON lists failingNodes for an edge that passed on every node")
	}
}
