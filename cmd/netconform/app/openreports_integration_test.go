package app

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/openreports"
)

// TestRunWritesOpenReports: `run --openreports` says, before it runs, that the CRD is
// missing and still runs; with the CRD it leaves the same report the manager writes.
func TestRunWritesOpenReports(t *testing.T) {
	requireAPIServer(t)
	requireGateNamespace(t)
	ctx := context.Background()
	t.Cleanup(func() {
		_ = envClient.Delete(ctx, &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: gateTest}})
		_ = envClient.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(gateNamespace), client.GracePeriodSeconds(0))
	})
	args := []string{"run", "-f", gateFile, "--kubeconfig", envKubeconf, "--timeout", "60s", "--probe-settle-time", "0s", "--openreports"}

	got := runGate(t, args, wideOpen)
	if got.code != ExitFail || !strings.Contains(got.stderr, "--openreports: the CRD clusterreports.openreports.io is not installed") {
		t.Fatalf("without the CRD: exit %d, stderr:\n%s\nwant exit %d and a note naming the CRD", got.code, got.stderr, ExitFail)
	}

	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api").Output()
	if err != nil {
		t.Fatalf("finding the reports-api module: %v", err)
	}
	crds := envtest.CRDInstallOptions{Paths: []string{filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "openreports.io_clusterreports.yaml")}, ErrorIfPathMissing: true}
	if _, err := envtest.InstallCRDs(testEnv.Config, crds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = envtest.UninstallCRDs(testEnv.Config, crds) })

	got = runGate(t, args, wideOpen)
	if got.code != ExitFail || strings.Contains(got.stderr, "--openreports") {
		t.Fatalf("with the CRD: exit %d, stderr:\n%s\nwant exit %d and no note", got.code, got.stderr, ExitFail)
	}
	rt := &v1alpha1.ReachabilityTest{}
	if err := envClient.Get(ctx, client.ObjectKey{Name: gateTest}, rt); err != nil {
		t.Fatal(err)
	}
	rep := &orv1.ClusterReport{}
	if err := envClient.Get(ctx, client.ObjectKey{Name: openreports.Name(gateTest)}, rep); err != nil {
		t.Fatalf("the run left no report: %v", err)
	}
	t.Cleanup(func() { _ = envClient.Delete(ctx, rep) })
	if owner := metav1.GetControllerOf(rep); owner == nil || owner.UID != rt.UID {
		t.Errorf("the report is controlled by %+v, want the test the run applied (%s)", owner, rt.UID)
	}
	if len(rep.Results) != 3 || rep.Summary != (orv1.ReportSummary{Pass: 2, Fail: 1}) {
		t.Errorf("report: %d results, summary %+v; want 3 results, 2 passes and the unexpected allow", len(rep.Results), rep.Summary)
	}

	// The next run replaces the test; the report of the one before (no garbage
	// collector here) is taken over, with the new results.
	if got = runGate(t, args, asExpected); got.code != ExitOK {
		t.Fatalf("third run: exit %d, stderr:\n%s", got.code, got.stderr)
	}
	if err := envClient.Get(ctx, client.ObjectKey{Name: gateTest}, rt); err != nil {
		t.Fatal(err)
	}
	if err := envClient.Get(ctx, client.ObjectKey{Name: openreports.Name(gateTest)}, rep); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(rep); owner == nil || owner.UID != rt.UID || rep.Summary != (orv1.ReportSummary{Pass: 3}) {
		t.Errorf("after the test was replaced: controller %+v, summary %+v; want the new test (%s) and 3 passes", owner, rep.Summary, rt.UID)
	}
}
