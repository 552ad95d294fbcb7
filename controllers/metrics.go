package controllers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/trigger"
)

// Violation kinds split failures by what they mean.
const (
	// ViolationUnexpectedAllow is a Deny edge that got through: a security hole.
	ViolationUnexpectedAllow = "unexpected_allow"
	// ViolationUnexpectedDeny is an Allow edge that was blocked: an outage.
	ViolationUnexpectedDeny = "unexpected_deny"
)

var (
	edgeVerdictDesc = prometheus.NewDesc("netconform_edge_verdict",
		"Verdict of an edge in the last completed run: 1 for the current verdict, 0 for the others.",
		[]string{"test", "edge", "expected", "verdict"}, nil)
	edgeObservationDesc = prometheus.NewDesc("netconform_edge_observation",
		"Observation of an edge in the last completed run (always 1, the observation is a label).",
		[]string{"test", "edge", "observation"}, nil)
	edgePredictionDesc = prometheus.NewDesc("netconform_edge_prediction",
		"What the NetworkPolicies allow for an edge (always 1, the prediction is a label: Allow or Deny), updated as soon as a change flips it for tests that follow changes; no series when the policies do not settle the edge.",
		[]string{"test", "edge", "expected", "predicted"}, nil)
	edgeDiagnosisDesc = prometheus.NewDesc("netconform_edge_diagnosis",
		"An edge whose declared intent, NetworkPolicies and dataplane disagree (always 1): PolicyMismatch or DataplaneMismatch.",
		[]string{"test", "edge", "diagnosis"}, nil)
	edgeFailingNodeDesc = prometheus.NewDesc("netconform_edge_failing_node",
		"A node from which an edge checked from several nodes (from.nodes) did not pass in the last completed run (always 1); at most 16 nodes an edge.",
		[]string{"test", "edge", "node"}, nil)
	testPassedDesc = prometheus.NewDesc("netconform_test_passed",
		"Whether the test passed in its last completed run (1: every edge passed and its canary, if any, found NetworkPolicy enforced) or not (0).",
		[]string{"test"}, nil)
	testLastRunDesc = prometheus.NewDesc("netconform_test_last_run_timestamp_seconds",
		"When the test's last run completed, in seconds since the epoch.",
		[]string{"test"}, nil)
	testNextRunDesc = prometheus.NewDesc("netconform_test_next_run_timestamp_seconds",
		"When a scheduled test's next run is due, in seconds since the epoch.",
		[]string{"test"}, nil)
	canaryEnforcementDesc = prometheus.NewDesc("netconform_canary_enforcement",
		"What the test's enforcement canary found in its last completed run, per direction (ingress, egress): 1 for the current state (Enforced, NotEnforced or Unknown), 0 for the others. With node=\"\" (no node label) for the whole cluster, Enforced only where every node enforces; and per node it checked.",
		[]string{"test", "direction", "state", "node"}, nil)
	canaryTierEnforcementDesc = prometheus.NewDesc("netconform_canary_cluster_network_policy_enforcement",
		"What the test's enforcement canary found about ClusterNetworkPolicy in its last completed run, per tier (Admin, Baseline): 1 for the current state (Enforced, NotEnforced or Unknown), 0 for the others. Absent where the API is not served or the test skips it.",
		[]string{"test", "tier", "state"}, nil)
	canaryLatencyDesc = prometheus.NewDesc("netconform_canary_last_enforcement_latency_seconds",
		"How long the dataplane took to apply the canary's deny in its last completed run.",
		[]string{"test"}, nil)
	enforcementStates = []v1alpha1.Enforcement{v1alpha1.Enforced, v1alpha1.NotEnforced, v1alpha1.Unknown}
	verdicts          = []v1alpha1.Verdict{v1alpha1.VerdictPass, v1alpha1.VerdictFail, v1alpha1.VerdictInconclusive}
)

// Metrics are the manager's Prometheus metrics. Per-edge state is read from the cache
// at scrape time, so it vanishes with its test; the counters are deleted explicitly.
type Metrics struct {
	runDuration *prometheus.HistogramVec
	violations  *prometheus.CounterVec
	probeErrors *prometheus.CounterVec
	// canaryLatency is the canary's enforcement latency, a histogram for its spread.
	canaryLatency *prometheus.HistogramVec
	// triggeredRuns counts the runs that covered changes, by cause.
	triggeredRuns *prometheus.CounterVec
	// changeToVerdict is the time from a change to the prediction, and to the probed
	// verdict, that took it into account.
	changeToVerdict *prometheus.HistogramVec
	// foreignPods counts the pods with a test's labels that the manager did not make.
	foreignPods prometheus.Counter
}

// Stages of a change's way to a verdict.
const (
	// StagePredicted: the policies' prediction took the change into account.
	StagePredicted = "predicted"
	// StageProbed: a run that probed the edges after the change completed.
	StageProbed = "probed"
)

// NewMetrics registers the metrics into reg; tests are read from reader at scrape time.
func NewMetrics(reg prometheus.Registerer, reader client.Reader) *Metrics {
	m := &Metrics{
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "netconform_run_duration_seconds",
			Help:    "Time from the start of a run to its completion.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300},
		}, []string{"test"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "netconform_violations_total",
			Help: "Runs in which an edge did not do what it declared: unexpected_allow (a security hole) or unexpected_deny (an outage).",
		}, []string{"test", "edge", "kind"}),
		probeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "netconform_probe_errors_total",
			Help: "Checks that could not run, by reason.",
		}, []string{"reason"}),
		canaryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "netconform_canary_enforcement_latency_seconds",
			Help:    "Time the dataplane took from a policy change to the first canary probe that saw its effect.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}, []string{"test"}),
	}
	m.triggeredRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "netconform_triggered_runs_total",
		Help: "Runs that covered changes to the cluster, by cause (PolicyChange, NamespaceLabels, PodLabels): a run that covers changes of several causes counts once for each.",
	}, []string{"test", "cause"})
	m.changeToVerdict = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "netconform_change_to_verdict_seconds",
		Help:    "Time from the first change a verdict took into account to the verdict: stage=predicted for the NetworkPolicies' prediction, stage=probed for the probed verdict of the run that followed.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300},
	}, []string{"stage"})
	m.foreignPods = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "netconform_foreign_probe_pods_total",
		Help: "Pods that carried a test's labels but that the manager did not make: their results were ignored.",
	})
	reg.MustRegister(m.foreignPods)
	reg.MustRegister(m.runDuration, m.violations, m.probeErrors, m.canaryLatency, m.triggeredRuns, m.changeToVerdict, &testCollector{reader: reader})
	return m
}

// RunCompleted records a finished run.
func (m *Metrics) RunCompleted(test string, duration time.Duration, results []v1alpha1.EdgeResult) {
	m.runDuration.WithLabelValues(test).Observe(duration.Seconds())
	for _, r := range results {
		if r.Verdict != v1alpha1.VerdictFail {
			continue
		}
		kind := ViolationUnexpectedDeny
		if r.Expected == v1alpha1.ExpectDeny {
			kind = ViolationUnexpectedAllow
		}
		m.violations.WithLabelValues(test, r.Edge, kind).Inc()
	}
}

// RunTriggered counts a run that covers changes of these causes.
func (m *Metrics) RunTriggered(test string, causes []trigger.Cause) {
	for _, c := range causes {
		m.triggeredRuns.WithLabelValues(test, string(c)).Inc()
	}
}

// ChangeToVerdict records how long a change took to reach a stage.
func (m *Metrics) ChangeToVerdict(stage string, took time.Duration) {
	m.changeToVerdict.WithLabelValues(stage).Observe(took.Seconds())
}

// ForeignProbePod counts a pod with a test's labels that the manager did not make.
func (m *Metrics) ForeignProbePod() {
	m.foreignPods.Inc()
}

// ProbeErrors counts checks that could not run.
func (m *Metrics) ProbeErrors(reason string, checks int) {
	m.probeErrors.WithLabelValues(reason).Add(float64(checks))
}

// CanaryCompleted records a canary's enforcement latency, when it measured one.
func (m *Metrics) CanaryCompleted(test string, f canary.Finding) {
	if f.Latency != nil {
		m.canaryLatency.WithLabelValues(test).Observe(f.Latency.Seconds())
	}
}

// ForgetCanary deletes the canary series of a test that no longer has a canary.
func (m *Metrics) ForgetCanary(test string) {
	m.canaryLatency.DeletePartialMatch(prometheus.Labels{"test": test})
}

// Forget deletes the series of a deleted test.
func (m *Metrics) Forget(test string) {
	m.runDuration.DeletePartialMatch(prometheus.Labels{"test": test})
	m.violations.DeletePartialMatch(prometheus.Labels{"test": test})
	m.triggeredRuns.DeletePartialMatch(prometheus.Labels{"test": test})
	m.ForgetCanary(test)
}

// testCollector exports each test's last results from the cache.
type testCollector struct {
	reader client.Reader
}

func (c *testCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- edgeVerdictDesc
	ch <- edgeObservationDesc
	ch <- edgePredictionDesc
	ch <- edgeDiagnosisDesc
	ch <- edgeFailingNodeDesc
	ch <- testPassedDesc
	ch <- testLastRunDesc
	ch <- testNextRunDesc
	ch <- canaryEnforcementDesc
	ch <- canaryTierEnforcementDesc
	ch <- canaryLatencyDesc
}

func (c *testCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tests v1alpha1.ReachabilityTestList
	if err := c.reader.List(ctx, &tests); err != nil {
		ch <- prometheus.NewInvalidMetric(edgeVerdictDesc, err)
		return
	}
	for i := range tests.Items {
		collectTest(ch, &tests.Items[i])
	}
}

func collectTest(ch chan<- prometheus.Metric, t *v1alpha1.ReachabilityTest) {
	if next := t.Status.NextRunTime; next != nil {
		ch <- prometheus.MustNewConstMetric(testNextRunDesc, prometheus.GaugeValue, float64(next.Unix()), t.Name)
	}
	if t.Status.LastRunCompletionTime == nil {
		return
	}
	collectCanary(ch, t)
	passed := canaryFoundEnforced(t.Status.Canary)
	for _, r := range t.Status.Results {
		for _, v := range verdicts {
			ch <- prometheus.MustNewConstMetric(edgeVerdictDesc, prometheus.GaugeValue, boolValue(r.Verdict == v), t.Name, r.Edge, string(r.Expected), string(v))
		}
		ch <- prometheus.MustNewConstMetric(edgeObservationDesc, prometheus.GaugeValue, 1, t.Name, r.Edge, string(r.Observed))
		if r.Predicted != "" {
			ch <- prometheus.MustNewConstMetric(edgePredictionDesc, prometheus.GaugeValue, 1, t.Name, r.Edge, string(r.Expected), string(r.Predicted))
		}
		if r.Diagnosis != "" {
			ch <- prometheus.MustNewConstMetric(edgeDiagnosisDesc, prometheus.GaugeValue, 1, t.Name, r.Edge, string(r.Diagnosis))
		}
		for _, node := range r.FailingNodes {
			ch <- prometheus.MustNewConstMetric(edgeFailingNodeDesc, prometheus.GaugeValue, 1, t.Name, r.Edge, node)
		}
		passed = passed && r.Verdict == v1alpha1.VerdictPass
	}
	ch <- prometheus.MustNewConstMetric(testPassedDesc, prometheus.GaugeValue, boolValue(passed), t.Name)
	ch <- prometheus.MustNewConstMetric(testLastRunDesc, prometheus.GaugeValue, float64(t.Status.LastRunCompletionTime.Unix()), t.Name)
}

// canaryFoundEnforced is true without a canary, or when it found both directions enforced.
func canaryFoundEnforced(c *v1alpha1.CanaryStatus) bool {
	return c == nil || (c.Ingress == v1alpha1.Enforced && c.Egress == v1alpha1.Enforced)
}

func collectCanary(ch chan<- prometheus.Metric, t *v1alpha1.ReachabilityTest) {
	c := t.Status.Canary
	if c == nil {
		return
	}
	collectEnforcement(ch, t.Name, "", c.Ingress, c.Egress)
	// Series per node come and go with status.canary.nodes: a removed node's go at once.
	for _, n := range c.Nodes {
		collectEnforcement(ch, t.Name, n.Name, n.Ingress, n.Egress)
	}
	if ms := c.EnforcementLatencyMilliseconds; ms != nil {
		ch <- prometheus.MustNewConstMetric(canaryLatencyDesc, prometheus.GaugeValue, float64(*ms)/1000, t.Name)
	}
	if a := c.AdminTier; a != nil {
		for tier, found := range map[string]v1alpha1.Enforcement{"Admin": a.Admin, "Baseline": a.Baseline} {
			for _, state := range enforcementStates {
				ch <- prometheus.MustNewConstMetric(canaryTierEnforcementDesc, prometheus.GaugeValue, boolValue(found == state), t.Name, tier, string(state))
			}
		}
	}
}

func collectEnforcement(ch chan<- prometheus.Metric, test, node string, ingress, egress v1alpha1.Enforcement) {
	for direction, found := range map[string]v1alpha1.Enforcement{"ingress": ingress, "egress": egress} {
		for _, state := range enforcementStates {
			ch <- prometheus.MustNewConstMetric(canaryEnforcementDesc, prometheus.GaugeValue, boolValue(found == state), test, direction, string(state), node)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
