//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/openreports"
)

// TestOpenReports: the deployed manager runs with config/openreports, so each test gets
// a ClusterReport with one result per edge, replaced by the next run. On noop the Deny
// edge gets through and its result is a high-severity fail. Every netconform report in
// the cluster then has a result per edge of the test that owns it.
func TestOpenReports(t *testing.T) {
	ns := namespace("openreports")
	s := newScenario(t, ns)
	client, server := labels("app", "client"), labels("app", "server")
	s.deploy(ns, workload{name: "server", labels: server, ports: []port{{name: "http", number: 8080, servicePort: 80}}})
	s.create(allowIngress(ns, "server-from-client", selector(server), peers(podPeer(selector(client))), namedPorts("http")))
	edges := []v1alpha1.Edge{
		allow("client-to-server", source(ns, client), toService(ns, "server", 80)),
		deny("stranger-to-server", source(ns, nil), toService(ns, "server", 80)),
	}
	rt := s.runTest("e2e-openreports", edges)
	rep := s.waitForReport(rt, len(edges))
	s.checkResults(rep, rt)

	// The second run, of a new generation with one more edge, replaces the results.
	rt.Spec.Edges = append(rt.Spec.Edges, deny("stranger-to-server-pod", source(ns, nil), toPods(ns, server, intstr.FromInt32(8080))))
	if err := k8s.Update(s.ctx, rt); err != nil {
		s.fatalf("updating ReachabilityTest %s: %v", rt.Name, err)
	}
	s.waitCompleted(rt)
	rep = s.waitForReport(rt, len(rt.Spec.Edges))
	s.checkResults(rep, rt)

	reports, results := s.checkEveryReport()
	report("openreports reports=%d results=%d", reports, results)
}

// waitForReport waits until the test's report holds a result per edge of its last run.
func (s *scenario) waitForReport(rt *v1alpha1.ReachabilityTest, n int) *orv1.ClusterReport {
	s.t.Helper()
	rep := &orv1.ClusterReport{}
	s.waitUntil("the ClusterReport of "+rt.Name, func(ctx context.Context) (bool, string, error) {
		err := k8s.Get(ctx, client.ObjectKey{Name: openreports.Name(rt.Name)}, rep)
		if apierrors.IsNotFound(err) {
			return false, "no report yet", nil
		}
		if err != nil {
			return false, "", err
		}
		return len(rep.Results) == n, fmt.Sprintf("%d results, want %d", len(rep.Results), n), nil
	})
	return rep
}

// checkResults checks the run against the profile's baseline, as the other suites do
// (enforcing: every edge passes; noop: every Deny edge is caught), and compares the
// report with the test's status, edge by edge.
func (s *scenario) checkResults(rep *orv1.ClusterReport, rt *v1alpha1.ReachabilityTest) {
	s.t.Helper()
	counts, problems, _ := s.compare(phase{name: rt.Name, edges: rt.Spec.Edges}, rt)
	countEdges(len(rt.Spec.Edges), counts)
	if len(problems) > 0 {
		s.t.Errorf("ReachabilityTest %s on profile %s:\n  %s", rt.Name, cfg.profile, strings.Join(problems, "\n  "))
	}
	if owner := metav1.GetControllerOf(rep); owner == nil || owner.UID != rt.UID {
		s.t.Errorf("report %s is controlled by %+v, want ReachabilityTest %s", rep.Name, owner, rt.Name)
	}
	byRule := map[string]orv1.ReportResult{}
	for _, r := range rep.Results {
		byRule[r.Rule] = r
	}
	for _, e := range rt.Status.Results {
		got, ok := byRule[e.Edge]
		want, severity := openreports.EdgeOutcome(e)
		switch {
		case !ok:
			s.t.Errorf("report %s has no result for edge %s", rep.Name, e.Edge)
		case got.Result != want || string(got.Severity) != severity || got.Properties["observed"] != string(e.Observed) || got.Policy != rt.Name:
			s.t.Errorf("report %s, edge %s: %s/%s observed %q, want %s/%s observed %s", rep.Name, e.Edge, got.Result, got.Severity, got.Properties["observed"], want, severity, e.Observed)
		}
		if cfg.profile == noop && e.Expected == v1alpha1.ExpectDeny && (got.Result != openreports.Fail || got.Severity != openreports.SeverityHigh) {
			s.t.Errorf("noop: Deny edge %s is %s/%s in the report, want a caught unexpected allow: fail/high", e.Edge, got.Result, got.Severity)
		}
	}
}

// checkEveryReport waits until every report netconform wrote has a result per edge of
// the test that controls it (a run that just completed may not have its report yet),
// and counts them.
func (s *scenario) checkEveryReport() (reports, results int) {
	s.t.Helper()
	s.waitUntil("every netconform ClusterReport to hold a result per edge of its test", func(ctx context.Context) (bool, string, error) {
		var list orv1.ClusterReportList
		if err := k8s.List(ctx, &list, client.MatchingLabels{openreports.LabelManagedBy: openreports.ManagedBy}); err != nil {
			return false, "", err
		}
		var wrong []string
		reports, results = 0, 0
		for i := range list.Items {
			rep := &list.Items[i]
			owner := metav1.GetControllerOf(rep)
			if owner == nil {
				wrong = append(wrong, rep.Name+" has no controller")
				continue
			}
			rt := &v1alpha1.ReachabilityTest{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: owner.Name}, rt); err != nil || rt.UID != owner.UID {
				continue // its test is gone: garbage collection deletes it
			}
			edges := 0
			for _, r := range rep.Results {
				if r.Category == openreports.CategoryEdge {
					edges++
				}
			}
			if rt.Status.ActiveRun == nil && edges != len(rt.Status.Results) {
				wrong = append(wrong, fmt.Sprintf("%s has %d edge results, its test %d", rep.Name, edges, len(rt.Status.Results)))
			}
			reports++
			results += len(rep.Results)
		}
		return len(wrong) == 0, strings.Join(wrong, "; "), nil
	})
	return reports, results
}
