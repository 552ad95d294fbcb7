package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/netconform/netconform/api/v1alpha1"
)

// unitMetrics registers fresh metrics over a fake client holding tests.
func unitMetrics(t *testing.T, tests ...*v1alpha1.ReachabilityTest) (*Metrics, *prometheus.Registry) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	objs := make([]client.Object, len(tests))
	for i, rt := range tests {
		objs[i] = rt
	}
	reader := fake.NewClientBuilder().
		WithScheme(scheme).
		WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.ReachabilityTest{}).
		Build()
	reg := prometheus.NewRegistry()
	return NewMetrics(reg, reader), reg
}

// unitCompleted is a test whose last run completed at completedAt with results.
func unitCompleted(name string, completedAt time.Time, results ...v1alpha1.EdgeResult) *v1alpha1.ReachabilityTest {
	at := metav1.NewTime(completedAt)
	return &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Status: v1alpha1.ReachabilityTestStatus{
			ObservedGeneration:    1,
			Results:               results,
			LastRunCompletionTime: &at,
		},
	}
}

const (
	unitVerdictHeader = `
# HELP netconform_edge_verdict Verdict of an edge in the last completed run: 1 for the current verdict, 0 for the others.
# TYPE netconform_edge_verdict gauge
`
	unitObservationHeader = `
# HELP netconform_edge_observation Observation of an edge in the last completed run (always 1, the observation is a label).
# TYPE netconform_edge_observation gauge
`
	unitPassedHeader = `
# HELP netconform_test_passed Whether the test passed in its last completed run (1: every edge passed and its canary, if any, found NetworkPolicy enforced) or not (0).
# TYPE netconform_test_passed gauge
`
	unitLastRunHeader = `
# HELP netconform_test_last_run_timestamp_seconds When the test's last run completed, in seconds since the epoch.
# TYPE netconform_test_last_run_timestamp_seconds gauge
`
)

var unitCollectorMetrics = []string{
	"netconform_edge_verdict", "netconform_edge_observation",
	"netconform_test_passed", "netconform_test_last_run_timestamp_seconds",
}

func TestMetricsCollector(t *testing.T) {
	earlier := unitNow.Add(-time.Hour)
	running := &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "first-run", Generation: 1},
		Status: v1alpha1.ReachabilityTestStatus{
			ActiveRun: &v1alpha1.Run{ID: "g1-x", Generation: 1, StartTime: metav1.NewTime(unitNow)},
		},
	}
	tests := []struct {
		name  string
		tests []*v1alpha1.ReachabilityTest
		// metrics compared; all the collector's when empty.
		metrics []string
		want    string
	}{
		{
			name:  "no tests",
			tests: nil,
			want:  "",
		},
		{
			name:  "a test that never completed a run exports nothing",
			tests: []*v1alpha1.ReachabilityTest{running},
			want:  "",
		},
		{
			name: "verdict state set, observation, passed and last run",
			tests: []*v1alpha1.ReachabilityTest{
				running,
				unitCompleted("segmentation", unitNow,
					unitResult("web-to-api", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v1alpha1.VerdictPass),
					unitResult("web-to-db", v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail),
					unitResult("web-to-cache", v1alpha1.ExpectDeny, v1alpha1.ObservedRefused, v1alpha1.VerdictInconclusive),
				),
				unitCompleted("dns", earlier,
					unitResult("resolve-api", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v1alpha1.VerdictPass),
				),
			},
			want: unitVerdictHeader + `
netconform_edge_verdict{edge="resolve-api",expected="Allow",test="dns",verdict="Fail"} 0
netconform_edge_verdict{edge="resolve-api",expected="Allow",test="dns",verdict="Inconclusive"} 0
netconform_edge_verdict{edge="resolve-api",expected="Allow",test="dns",verdict="Pass"} 1
netconform_edge_verdict{edge="web-to-api",expected="Allow",test="segmentation",verdict="Fail"} 0
netconform_edge_verdict{edge="web-to-api",expected="Allow",test="segmentation",verdict="Inconclusive"} 0
netconform_edge_verdict{edge="web-to-api",expected="Allow",test="segmentation",verdict="Pass"} 1
netconform_edge_verdict{edge="web-to-cache",expected="Deny",test="segmentation",verdict="Fail"} 0
netconform_edge_verdict{edge="web-to-cache",expected="Deny",test="segmentation",verdict="Inconclusive"} 1
netconform_edge_verdict{edge="web-to-cache",expected="Deny",test="segmentation",verdict="Pass"} 0
netconform_edge_verdict{edge="web-to-db",expected="Deny",test="segmentation",verdict="Fail"} 1
netconform_edge_verdict{edge="web-to-db",expected="Deny",test="segmentation",verdict="Inconclusive"} 0
netconform_edge_verdict{edge="web-to-db",expected="Deny",test="segmentation",verdict="Pass"} 0
` + unitObservationHeader + `
netconform_edge_observation{edge="resolve-api",observation="Connected",test="dns"} 1
netconform_edge_observation{edge="web-to-api",observation="Connected",test="segmentation"} 1
netconform_edge_observation{edge="web-to-cache",observation="Refused",test="segmentation"} 1
netconform_edge_observation{edge="web-to-db",observation="Connected",test="segmentation"} 1
` + unitPassedHeader + `
netconform_test_passed{test="dns"} 1
netconform_test_passed{test="segmentation"} 0
` + unitLastRunHeader + fmt.Sprintf(`
netconform_test_last_run_timestamp_seconds{test="dns"} %d
netconform_test_last_run_timestamp_seconds{test="segmentation"} %d
`, earlier.Unix(), unitNow.Unix()),
		},
		{
			name: "an inconclusive edge fails the test",
			tests: []*v1alpha1.ReachabilityTest{
				unitCompleted("only-inconclusive", unitNow,
					unitResult("to-off-cluster", v1alpha1.ExpectDeny, v1alpha1.ObservedDNSFailure, v1alpha1.VerdictInconclusive),
				),
			},
			metrics: []string{"netconform_test_passed"},
			want: unitPassedHeader + `
netconform_test_passed{test="only-inconclusive"} 0
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reg := unitMetrics(t, tt.tests...)
			names := unitCollectorMetrics
			if tt.metrics != nil {
				names = tt.metrics
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tt.want), names...); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestMetricsCollectorReadsAtScrapeTime: a deleted test's state vanishes with it.
func TestMetricsCollectorReadsAtScrapeTime(t *testing.T) {
	rt := unitCompleted("gone", unitNow, unitResult("a", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v1alpha1.VerdictPass))
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rt).WithStatusSubresource(rt).Build()
	reg := prometheus.NewRegistry()
	NewMetrics(reg, c)
	if n, err := testutil.GatherAndCount(reg, "netconform_test_passed"); err != nil || n != 1 {
		t.Fatalf("%d netconform_test_passed series before the delete (%v), want 1", n, err)
	}
	if err := c.Delete(t.Context(), rt); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, unitCollectorMetrics...); err != nil || n != 0 {
		t.Errorf("%d series after the delete (%v), want 0", n, err)
	}
}

const (
	unitViolationsHeader = `
# HELP netconform_violations_total Runs in which an edge did not do what it declared: unexpected_allow (a security hole) or unexpected_deny (an outage).
# TYPE netconform_violations_total counter
`
	unitProbeErrorsHeader = `
# HELP netconform_probe_errors_total Checks that could not run, by reason.
# TYPE netconform_probe_errors_total counter
`
)

func TestMetricsRunCompleted(t *testing.T) {
	m, reg := unitMetrics(t)
	run := []v1alpha1.EdgeResult{
		unitResult("hole", v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail),
		unitResult("outage", v1alpha1.ExpectAllow, v1alpha1.ObservedTimeout, v1alpha1.VerdictFail),
		unitResult("fine", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v1alpha1.VerdictPass),
		unitResult("unsure", v1alpha1.ExpectDeny, v1alpha1.ObservedRefused, v1alpha1.VerdictInconclusive),
		unitResult("broken", v1alpha1.ExpectAllow, v1alpha1.ObservedError, v1alpha1.VerdictInconclusive),
	}
	m.RunCompleted("segmentation", 4*time.Second, run)
	m.RunCompleted("segmentation", 40*time.Second, run[:1])
	m.RunCompleted("other", 500*time.Millisecond, nil)

	want := unitViolationsHeader + `
netconform_violations_total{edge="hole",kind="unexpected_allow",test="segmentation"} 2
netconform_violations_total{edge="outage",kind="unexpected_deny",test="segmentation"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netconform_violations_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.violations.WithLabelValues("segmentation", "hole", ViolationUnexpectedAllow)); got != 2 {
		t.Errorf("unexpected_allow for hole = %v, want 2", got)
	}

	wantHistogram := `
# HELP netconform_run_duration_seconds Time from the start of a run to its completion.
# TYPE netconform_run_duration_seconds histogram
` + unitHistogram("other", 0.5, 1) + unitHistogram("segmentation", 44, 2, 4, 40)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantHistogram), "netconform_run_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// unitHistogram renders the run duration series of a test with the given observations
// (sum, count, then the observations themselves for the buckets).
func unitHistogram(test string, sum float64, count int, observations ...float64) string {
	if len(observations) == 0 {
		observations = []float64{sum}
	}
	var b strings.Builder
	for _, le := range []float64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300} {
		n := 0
		for _, o := range observations {
			if o <= le {
				n++
			}
		}
		fmt.Fprintf(&b, "netconform_run_duration_seconds_bucket{test=%q,le=\"%g\"} %d\n", test, le, n)
	}
	fmt.Fprintf(&b, "netconform_run_duration_seconds_bucket{test=%q,le=\"+Inf\"} %d\n", test, count)
	fmt.Fprintf(&b, "netconform_run_duration_seconds_sum{test=%q} %g\n", test, sum)
	fmt.Fprintf(&b, "netconform_run_duration_seconds_count{test=%q} %d\n", test, count)
	return b.String()
}

func TestMetricsProbeErrors(t *testing.T) {
	m, reg := unitMetrics(t)
	m.ProbeErrors(FailureCannotStart, 1)
	m.ProbeErrors(FailureCannotStart, 1)
	m.ProbeErrors(FailureStartTimeout, 3)
	m.ProbeErrors(FailureRejected, 0)
	want := unitProbeErrorsHeader + `
netconform_probe_errors_total{reason="CannotStart"} 2
netconform_probe_errors_total{reason="PodRejected"} 0
netconform_probe_errors_total{reason="StartTimeout"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netconform_probe_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestMetricsForget(t *testing.T) {
	m, reg := unitMetrics(t)
	fail := []v1alpha1.EdgeResult{unitResult("hole", v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail)}
	m.RunCompleted("deleted", 2*time.Second, fail)
	m.RunCompleted("kept", 2*time.Second, fail)
	m.ProbeErrors(FailureNoResults, 1)

	m.Forget("deleted")
	m.Forget("never-existed")

	want := unitViolationsHeader + `
netconform_violations_total{edge="hole",kind="unexpected_allow",test="kept"} 1
` + unitProbeErrorsHeader + `
netconform_probe_errors_total{reason="NoResults"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netconform_violations_total", "netconform_probe_errors_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.runDuration); n != 1 {
		t.Errorf("%d run duration series after Forget, want 1 (kept)", n)
	}
}

func TestMetricsLint(t *testing.T) {
	m, reg := unitMetrics(t, unitCompleted("segmentation", unitNow,
		unitResult("web-to-db", v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail)))
	// Give every vector a series, so the linter sees every metric.
	m.RunCompleted("segmentation", 3*time.Second, []v1alpha1.EdgeResult{
		unitResult("web-to-db", v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail),
	})
	m.ProbeErrors(FailureStartTimeout, 1)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 8 {
		t.Errorf("gathered %d metric families, want 8", len(families))
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsNextRun(t *testing.T) {
	next := metav1.NewTime(time.Unix(1795000000, 0))
	scheduled := unitCompleted("nightly", time.Unix(1794990000, 0))
	scheduled.Status.NextRunTime = &next
	_, reg := unitMetrics(t, scheduled, unitCompleted("once", time.Unix(1794990000, 0)))
	want := `
# HELP netconform_test_next_run_timestamp_seconds When a scheduled test's next run is due, in seconds since the epoch.
# TYPE netconform_test_next_run_timestamp_seconds gauge
netconform_test_next_run_timestamp_seconds{test="nightly"} 1.795e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netconform_test_next_run_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

// The admin-tier finding is a series of its own, per tier: the NetworkPolicy series and
// its alert stay about NetworkPolicy.
func TestMetricsAdminTierFinding(t *testing.T) {
	checked := unitCompleted("checked", time.Unix(1000, 0))
	checked.Status.Canary = &v1alpha1.CanaryStatus{Ingress: v1alpha1.Enforced, Egress: v1alpha1.Enforced,
		AdminTier: &v1alpha1.AdminTierStatus{Admin: v1alpha1.NotEnforced, Baseline: v1alpha1.Unknown}}
	notServed := unitCompleted("not-served", time.Unix(1000, 0))
	notServed.Status.Canary = &v1alpha1.CanaryStatus{Ingress: v1alpha1.Enforced, Egress: v1alpha1.Enforced}
	_, reg := unitMetrics(t, checked, notServed)
	want := `
# HELP netconform_canary_cluster_network_policy_enforcement What the test's enforcement canary found about ClusterNetworkPolicy in its last completed run, per tier (Admin, Baseline): 1 for the current state (Enforced, NotEnforced or Unknown), 0 for the others. Absent where the API is not served or the test skips it.
# TYPE netconform_canary_cluster_network_policy_enforcement gauge
netconform_canary_cluster_network_policy_enforcement{state="Enforced",test="checked",tier="Admin"} 0
netconform_canary_cluster_network_policy_enforcement{state="NotEnforced",test="checked",tier="Admin"} 1
netconform_canary_cluster_network_policy_enforcement{state="Unknown",test="checked",tier="Admin"} 0
netconform_canary_cluster_network_policy_enforcement{state="Enforced",test="checked",tier="Baseline"} 0
netconform_canary_cluster_network_policy_enforcement{state="NotEnforced",test="checked",tier="Baseline"} 0
netconform_canary_cluster_network_policy_enforcement{state="Unknown",test="checked",tier="Baseline"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netconform_canary_cluster_network_policy_enforcement"); err != nil {
		t.Fatal(err)
	}
	// The admin tier does not fail a test whose NetworkPolicy canary passed.
	passed := `
# HELP netconform_test_passed Whether the test passed in its last completed run (1: every edge passed and its canary, if any, found NetworkPolicy enforced) or not (0).
# TYPE netconform_test_passed gauge
netconform_test_passed{test="checked"} 1
netconform_test_passed{test="not-served"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(passed), "netconform_test_passed"); err != nil {
		t.Fatal(err)
	}
}

// The canary's series: the whole cluster's (node="", which Prometheus stores as no node
// label) and one set per node, so a node that leaves status.canary.nodes leaves the
// metrics with it.
func TestMetricsCanaryPerNode(t *testing.T) {
	partial := unitCompleted("nightly", unitNow)
	partial.Status.Canary = &v1alpha1.CanaryStatus{Ingress: v1alpha1.NotEnforced, Egress: v1alpha1.Enforced, Nodes: []v1alpha1.CanaryNode{
		{Name: "node-a", Ingress: v1alpha1.Enforced, Egress: v1alpha1.Enforced},
		{Name: "node-b", Ingress: v1alpha1.NotEnforced, Egress: v1alpha1.Enforced},
	}}
	_, reg := unitMetrics(t, partial)
	var want strings.Builder
	want.WriteString(`
# HELP netconform_canary_enforcement What the test's enforcement canary found in its last completed run, per direction (ingress, egress): 1 for the current state (Enforced, NotEnforced or Unknown), 0 for the others. With node="" (no node label) for the whole cluster, Enforced only where every node enforces; and per node it checked.
# TYPE netconform_canary_enforcement gauge
`)
	for _, node := range []struct{ label, ingress, egress string }{{`node="",`, "NotEnforced", "Enforced"}, {`node="node-a",`, "Enforced", "Enforced"}, {`node="node-b",`, "NotEnforced", "Enforced"}} {
		for _, d := range []struct{ direction, found string }{{"egress", node.egress}, {"ingress", node.ingress}} {
			for _, state := range []string{"Enforced", "NotEnforced", "Unknown"} {
				fmt.Fprintf(&want, "netconform_canary_enforcement{direction=%q,%sstate=%q,test=\"nightly\"} %d\n", d.direction, node.label, state, map[bool]int{true: 1}[state == d.found])
			}
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "netconform_canary_enforcement"); err != nil {
		t.Error(err)
	}
}
