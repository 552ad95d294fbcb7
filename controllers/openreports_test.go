package controllers

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/openreports"
	"github.com/netconform/netconform/probes"
)

// installOpenReports installs the ClusterReport CRD that the reports-api module ships,
// and removes it afterwards.
func installOpenReports(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api").Output()
	if err != nil {
		t.Fatalf("finding the reports-api module: %v", err)
	}
	crds := envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "openreports.io_clusterreports.yaml")},
		ErrorIfPathMissing: true,
	}
	if _, err := envtest.InstallCRDs(apiServer, crds); err != nil {
		t.Fatalf("installing the OpenReports CRD: %v", err)
	}
	t.Cleanup(func() {
		if err := envtest.UninstallCRDs(apiServer, crds); err != nil {
			t.Errorf("removing the OpenReports CRD: %v", err)
		}
		eventually(t, 30*time.Second, "the OpenReports CRD to be no longer served", func(context.Context) (bool, error) {
			return !served(t, "openreports.io/v1alpha1"), nil
		})
	})
}

// reportOf reads a test's report; nil when there is none.
func reportOf(t *testing.T, test string) *orv1.ClusterReport {
	t.Helper()
	rep := &orv1.ClusterReport{}
	err := k8s.Get(context.Background(), client.ObjectKey{Name: openreports.Name(test)}, rep)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading the report of %s: %v", test, err)
	}
	return rep
}

// waitForReport waits until the test's report holds n results.
func waitForReport(t *testing.T, test string, n int) *orv1.ClusterReport {
	t.Helper()
	var rep *orv1.ClusterReport
	eventually(t, 20*time.Second, "the report of "+test, func(context.Context) (bool, error) {
		rep = reportOf(t, test)
		return rep != nil && len(rep.Results) == n, nil
	})
	return rep
}

func resultsByRule(rep *orv1.ClusterReport) map[string]orv1.ReportResult {
	byRule := map[string]orv1.ReportResult{}
	for _, r := range rep.Results {
		byRule[r.Rule] = r
	}
	return byRule
}

// runAnswered waits for a test's n probe pods and answers their checks.
func runAnswered(t *testing.T, rt *v1alpha1.ReachabilityTest, n int, answer func(probes.Check) probes.Result) *v1alpha1.ReachabilityTest {
	t.Helper()
	for _, pod := range waitForPods(t, rt, n) {
		finishPod(t, &pod, answer)
	}
	return waitForCompleted(t, rt.Name)
}

// TestOpenReportsFollowEveryRun: each run replaces the report's results, one per edge,
// with the verdicts mapped; the report is the test's (owner reference; envtest has no
// garbage collector), and a deleted test gets no report again.
func TestOpenReportsFollowEveryRun(t *testing.T) {
	requireAPIServer(t)
	installOpenReports(t)
	ctx := context.Background()
	ns := newNamespace(t, "reports")
	h := startManager(t, SetupOptions{Options: Options{OpenReports: true}})
	edges := []v1alpha1.Edge{
		hostEdge("web-to-api", ns, map[string]string{"app": "web"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
		hostEdge("batch-to-api", ns, map[string]string{"app": "batch"}, "10.0.0.1", 80, v1alpha1.ExpectDeny),
	}
	rt := createTest(t, "reported", v1alpha1.ReachabilityTestSpec{Edges: edges})
	rt = runAnswered(t, rt, 2, asExpected)

	rep := waitForReport(t, rt.Name, 2)
	owner := metav1.GetControllerOf(rep)
	if owner == nil || owner.UID != rt.UID || owner.Kind != "ReachabilityTest" || owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion {
		t.Errorf("the report's controller is %+v, want the test", owner)
	}
	if rep.Source != "netconform" || rep.Summary != (orv1.ReportSummary{Pass: 2}) {
		t.Errorf("first run: source %q summary %+v, want netconform and 2 passes", rep.Source, rep.Summary)
	}
	for _, r := range rep.Results {
		if r.Policy != rt.Name || r.Result != openreports.Pass || r.Properties["target"] != "10.0.0.1:80" {
			t.Errorf("first run: result %+v", r)
		}
	}

	// A second run, of a new generation with a third edge, where everything connects.
	latest := getTest(t, rt.Name)
	latest.Spec.Edges = append(latest.Spec.Edges, hostEdge("intruder-to-api", ns, map[string]string{"app": "intruder"}, "10.0.0.1", 80, v1alpha1.ExpectDeny))
	if err := k8s.Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
	runAnswered(t, latest, 3, everythingConnects)
	rep = waitForReport(t, rt.Name, 3)
	if rep.Summary != (orv1.ReportSummary{Pass: 1, Fail: 2}) {
		t.Errorf("second run: summary %+v, want 1 pass and 2 fails", rep.Summary)
	}
	for rule, r := range resultsByRule(rep) {
		if rule != "web-to-api" && (r.Result != openreports.Fail || r.Severity != openreports.SeverityHigh || r.Properties["observed"] != "Connected") {
			t.Errorf("second run: unexpected allow %s is %s/%s observed %q, want fail/high", rule, r.Result, r.Severity, r.Properties["observed"])
		}
	}

	// Deleted: garbage collection deletes the report (envtest has none, so the test
	// does); the manager must not write it again.
	if err := k8s.Delete(ctx, latest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the test to be gone", func(context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Name: rt.Name}, &v1alpha1.ReachabilityTest{})
		return apierrors.IsNotFound(err), nil
	})
	if err := k8s.Delete(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if _, err := h.rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: rt.Name}}); err != nil {
		t.Fatal(err)
	}
	if again := reportOf(t, rt.Name); again != nil {
		t.Errorf("the manager wrote a report for a deleted test: %+v", again.ObjectMeta)
	}
}

// TestOpenReportsLeaveOthersReports: a report of the same name that the manager did not
// make is neither read nor overwritten; an event names it and the fix.
func TestOpenReportsLeaveOthersReports(t *testing.T) {
	requireAPIServer(t)
	installOpenReports(t)
	ctx := context.Background()
	ns := newNamespace(t, "forged")
	forged := &orv1.ClusterReport{
		ObjectMeta: metav1.ObjectMeta{Name: openreports.Name("forged"), Labels: map[string]string{openreports.LabelManagedBy: openreports.ManagedBy}},
		Source:     "netconform",
		Summary:    orv1.ReportSummary{Pass: 1},
		Results:    []orv1.ReportResult{{Source: "netconform", Policy: "forged", Rule: "web-to-api", Result: openreports.Pass}},
	}
	if err := k8s.Create(ctx, forged); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), forged) })
	startManager(t, SetupOptions{Options: Options{OpenReports: true}})
	rt := createTest(t, "forged", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("web-to-api", ns, map[string]string{"app": "web"}, "10.0.0.1", 80, v1alpha1.ExpectDeny),
	}})
	rt = runAnswered(t, rt, 1, everythingConnects)
	waitForEvent(t, rt, EventReportNotOwned)
	if msg := eventMessage(t, rt, EventReportNotOwned); !strings.Contains(msg, forged.Name) || !strings.Contains(msg, "delete it") {
		t.Errorf("event %q, want the report's name and the fix", msg)
	}
	if rep := reportOf(t, rt.Name); rep == nil || rep.Results[0].Result != openreports.Pass || len(rep.OwnerReferences) != 0 {
		t.Errorf("the forged report was changed: %+v", rep)
	}
	if rt.Status.Summary.Failed != 1 {
		t.Errorf("status %+v, want the failure on the status all the same", rt.Status.Summary)
	}
}

// TestOpenReportsWithoutTheCRD: with --openreports on and no CRD, a run completes with
// its results on the status and an event names the missing CRD and the fix; the manager
// keeps running, and writes the report once the CRD is installed.
func TestOpenReportsWithoutTheCRD(t *testing.T) {
	requireAPIServer(t)
	if served(t, "openreports.io/v1alpha1") {
		t.Fatal("the OpenReports CRD is installed already: this test needs it absent")
	}
	ns := newNamespace(t, "nocrd")
	startManager(t, SetupOptions{Options: Options{OpenReports: true}})
	rt := createTest(t, "no-crd", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("web-to-api", ns, map[string]string{"app": "web"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}})
	rt = runAnswered(t, rt, 1, asExpected)
	if rt.Status.Summary.Passed != 1 {
		t.Errorf("status %+v, want the result on the status", rt.Status.Summary)
	}
	waitForEvent(t, rt, EventOpenReportsMissing)
	if msg := eventMessage(t, rt, EventOpenReportsMissing); !strings.Contains(msg, "clusterreports.openreports.io") || !strings.Contains(msg, "install it") {
		t.Errorf("event %q, want the CRD's name and the fix", msg)
	}

	installOpenReports(t)
	latest := getTest(t, rt.Name)
	latest.Annotations = map[string]string{"example.com/poke": "1"} // a reconcile, not a run
	if err := k8s.Update(context.Background(), latest); err != nil {
		t.Fatal(err)
	}
	waitForReport(t, rt.Name, 1)
}

// TestOpenReportsOffTouchNothing: without --openreports the manager makes no request on
// openreports.io's reports, so it needs no RBAC there, and writes no report.
func TestOpenReportsOffTouchNothing(t *testing.T) {
	requireAPIServer(t)
	installOpenReports(t)
	ns := newNamespace(t, "off")
	var calls atomic.Int32
	cfg := rest.CopyConfig(apiServer)
	cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if strings.Contains(req.URL.Path, "/openreports.io/") && strings.Contains(req.URL.Path, "reports") {
				calls.Add(1)
			}
			return next.RoundTrip(req)
		})
	}
	startManagerWith(t, cfg, SetupOptions{})
	rt := createTest(t, "unreported", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		hostEdge("web-to-api", ns, map[string]string{"app": "web"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
	}})
	runAnswered(t, rt, 1, asExpected)
	if rep := reportOf(t, rt.Name); rep != nil {
		t.Errorf("a report without --openreports: %+v", rep.ObjectMeta)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests on openreports.io reports without --openreports, want none", n)
	}
}

// eventMessage is the note of the test's latest event with the reason.
func eventMessage(t *testing.T, rt *v1alpha1.ReachabilityTest, reason string) string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Regarding.UID == rt.UID && e.Reason == reason {
			return e.Note
		}
	}
	return ""
}

// TestOpenReportsSkipARefusedTest: a test the manager will not run (NotAllowed) gets a
// skip per edge, saying why.
func TestOpenReportsSkipARefusedTest(t *testing.T) {
	requireAPIServer(t)
	installOpenReports(t)
	ns := newNamespace(t, "refused")
	startManager(t, SetupOptions{Options: Options{OpenReports: true}})
	rt := createTest(t, "refused", v1alpha1.ReachabilityTestSpec{
		Edges: []v1alpha1.Edge{
			hostEdge("web-to-api", ns, map[string]string{"app": "web"}, "10.0.0.1", 80, v1alpha1.ExpectAllow),
			hostEdge("web-to-db", ns, map[string]string{"app": "web"}, "10.0.0.2", 5432, v1alpha1.ExpectDeny),
		},
		ProbePod: &v1alpha1.ProbePodSpec{Image: "evil.example/probe:1"},
	})
	rep := waitForReport(t, rt.Name, 2)
	if rep.Summary != (orv1.ReportSummary{Skip: 2}) {
		t.Errorf("summary %+v, want 2 skips", rep.Summary)
	}
	for _, r := range rep.Results {
		if r.Result != openreports.Skip || r.Properties["reason"] != v1alpha1.ReasonNotAllowed || !strings.Contains(r.Description, "evil.example/probe:1") {
			t.Errorf("result %+v, want a skip naming the refused image", r)
		}
	}
}
