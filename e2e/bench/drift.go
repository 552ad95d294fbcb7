//go:build bench

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
)

const (
	driftNS      = "bench-drift"
	driftDBNS    = "bench-drift-db"
	driftOtherNS = "bench-drift-other"
	driftTest    = "bench-drift"
	// driftTrials is how often the default deny is deleted and restored.
	driftTrials = 10
	// driftHole is the Deny edge that the default deny alone keeps closed.
	driftHole = "intruder-to-db"
)

// drift measures how fast a test that follows changes (spec.rerunOn) sees a change: the
// time from deleting the policy that alone keeps a Deny edge closed to the
// PredictionChanged event and to the failing verdict on the status, and back; that
// changes no edge touches re-run nothing; that a burst of 50 changes re-runs at most
// twice; and the manager's API requests at rest with 100 tests that follow changes.
func (b *bench) drift() error {
	minInterval := b.mgr.minRerunInterval()
	for _, ns := range []string{driftNS, driftDBNS, driftOtherNS} {
		if err := b.createNamespace(ns); err != nil {
			return err
		}
	}
	db := server{namespace: driftDBNS, name: "db", labels: map[string]string{"app": "db"}, ports: [][]int32{{5432}}}
	if err := b.create(service(driftDBNS, "db", db.labels, []int32{5432})); err != nil {
		return err
	}
	if _, err := b.startServers([]server{db}); err != nil {
		return err
	}
	if err := b.create(defaultDeny()); err != nil {
		return err
	}
	test := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: driftTest}, Spec: v1alpha1.ReachabilityTestSpec{
		Schedule: "@every 1h",
		RerunOn:  []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange, v1alpha1.RerunOnLabelChange},
		Edges: []v1alpha1.Edge{{Name: driftHole, From: v1alpha1.Source{Namespace: driftNS, PodLabels: map[string]string{"app": "intruder"}},
			To:     v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: driftDBNS, PodLabels: db.labels, Port: intstr.FromInt32(5432)}},
			Expect: v1alpha1.ExpectDeny}},
	}}
	if _, got, err := b.runTest(test); err != nil {
		return err
	} else if got.Status.Results[0].Verdict != v1alpha1.VerdictPass {
		return fmt.Errorf("the drift test must pass before the drift: %+v", got.Status.Results[0])
	}
	var predictMS, verdictS, restorePredictMS, restoreVerdictS []float64
	for trial := range driftTrials {
		for _, step := range []struct {
			deny    bool
			predict *[]float64
			verdict *[]float64
		}{{false, &predictMS, &verdictS}, {true, &restorePredictMS, &restoreVerdictS}} {
			if err := b.waitAtRest(minInterval); err != nil {
				return err
			}
			predicted, verdict, err := b.driftOnce(step.deny)
			if err != nil {
				return err
			}
			*step.predict = append(*step.predict, float64(predicted.Milliseconds()))
			*step.verdict = append(*step.verdict, verdict.Seconds())
			b.logf("drift trial %d (restore %v): prediction %s, verdict %s", trial+1, step.deny, predicted, seconds(verdict))
		}
	}
	b.report.Add(figures.Figure{Key: "drift_prediction_ms", Label: "drift: policy deleted to PredictionChanged", Unit: "ms", Samples: predictMS, Target: figures.Under(1000)})
	b.report.Add(figures.Figure{Key: "drift_verdict_seconds", Label: "drift: policy deleted to the failing verdict", Unit: "s", Samples: verdictS, Target: figures.Under(5)})
	b.report.Add(figures.Figure{Key: "drift_restore_prediction_ms", Label: "drift: policy restored to PredictionChanged", Unit: "ms", Samples: restorePredictMS, Target: figures.Under(1000)})
	b.report.Add(figures.Figure{Key: "drift_restore_verdict_seconds", Label: "drift: policy restored to the passing verdict", Unit: "s", Samples: restoreVerdictS, Target: figures.Under(5)})

	if err := b.waitAtRest(minInterval); err != nil {
		return err
	}
	unrelated, err := b.runsDuring(minInterval, func() error { return b.policyChanges(driftOtherNS, "unrelated", 100) })
	if err != nil {
		return err
	}
	b.report.Add(figures.Figure{Key: "drift_unrelated_runs", Label: "drift: runs after 100 policy changes no test touches", Unit: "runs", Samples: []float64{float64(unrelated)}, Target: figures.AtMost(0)})
	burst, err := b.runsDuring(minInterval, func() error { return b.policyChanges(driftDBNS, "burst", 50) })
	if err != nil {
		return err
	}
	b.report.Add(figures.Figure{Key: "drift_burst_runs", Label: "drift: runs after a burst of 50 policy changes touching the test", Unit: "runs", Samples: []float64{float64(burst)}, Target: figures.AtMost(2)})
	if err := b.deleteTests(driftTest); err != nil {
		return err
	}
	return b.idleRequests(test.Spec)
}

// defaultDeny is the policy that alone keeps the drift test's Deny edge closed.
func defaultDeny() *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: driftDBNS, Name: "default-deny"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
}

// waitAtRest waits until the drift test has no run in progress and its last run started
// at least the minimum interval ago: a change then meets a test at rest.
func (b *bench) waitAtRest(minInterval time.Duration) error {
	return b.waitEvery("the drift test to be at rest", time.Second, func(ctx context.Context) (bool, string, error) {
		t := &v1alpha1.ReachabilityTest{}
		if err := b.k8s.Get(ctx, client.ObjectKey{Name: driftTest}, t); err != nil {
			return false, "", err
		}
		if t.Status.ActiveRun != nil || t.Status.LastRunStartTime == nil {
			return false, "a run in progress", nil
		}
		since := time.Since(t.Status.LastRunStartTime.Time)
		return since > minInterval+time.Second, fmt.Sprintf("last run %s ago", since.Round(time.Second)), nil
	})
}

// driftOnce deletes (or restores) the default deny and returns the time to the
// PredictionChanged event and to the verdict on the status: Fail without it, Pass with.
func (b *bench) driftOnce(restore bool) (predicted, verdict time.Duration, err error) {
	want := v1alpha1.VerdictFail
	start := time.Now()
	if restore {
		want = v1alpha1.VerdictPass
		err = b.k8s.Create(b.ctx, defaultDeny())
	} else {
		err = b.k8s.Delete(b.ctx, defaultDeny())
	}
	if err != nil {
		return 0, 0, err
	}
	since := metav1.NewMicroTime(start.Add(-time.Second)) // event times are to the microsecond; clocks agree on one node
	var eventAt time.Time
	err = b.waitFor("PredictionChanged", func(ctx context.Context) (bool, string, error) {
		var list eventsv1.EventList
		if err := b.k8s.List(ctx, &list, client.InNamespace("default")); err != nil {
			return false, "", err
		}
		for _, e := range list.Items {
			if e.Reason == "PredictionChanged" && e.Regarding.Name == driftTest && !e.EventTime.Before(&since) {
				if eventAt.IsZero() {
					eventAt = time.Now()
				}
				return true, "", nil
			}
		}
		return false, "no PredictionChanged yet", nil
	})
	if err != nil {
		return 0, 0, err
	}
	predicted = eventAt.Sub(start)
	err = b.waitFor("the verdict", func(ctx context.Context) (bool, string, error) {
		t := &v1alpha1.ReachabilityTest{}
		if err := b.k8s.Get(ctx, client.ObjectKey{Name: driftTest}, t); err != nil {
			return false, "", err
		}
		done := t.Status.LastRunCompletionTime != nil && !t.Status.LastRunCompletionTime.Time.Before(start.Truncate(time.Second))
		return done && t.Status.Results[0].Verdict == want, fmt.Sprintf("verdict %s", t.Status.Results[0].Verdict), nil
	})
	return predicted, time.Since(start), err
}

// policyChanges creates n policies in a namespace at once, as kubectl apply -f would: n
// changes. They stay: deleting them would be another burst.
func (b *bench) policyChanges(ns, prefix string, n int) error {
	for i := range n {
		p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", prefix, i)},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nobody"}}}}}}}}
		if err := b.k8s.Create(b.ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// runsDuring counts the drift test's runs that start from the changes until it is at
// rest again for two minimum intervals.
func (b *bench) runsDuring(minInterval time.Duration, changes func() error) (int, error) {
	before, err := b.runStarts()
	if err != nil {
		return 0, err
	}
	if err := changes(); err != nil {
		return 0, err
	}
	// A triggered run starts within the quiet time plus the minimum interval; a second
	// one at most a minimum interval and a run later.
	deadline := time.Now().Add(2*minInterval + 15*time.Second)
	for time.Now().Before(deadline) && b.ctx.Err() == nil {
		time.Sleep(time.Second)
	}
	after, err := b.runStarts()
	return after - before, err
}

// runStarts counts the drift test's RunStarted events.
func (b *bench) runStarts() (int, error) {
	var list eventsv1.EventList
	if err := b.k8s.List(b.ctx, &list, client.InNamespace("default")); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == "RunStarted" && e.Regarding.Name == driftTest {
			n++
		}
	}
	return n, nil
}

// idleRequests creates 100 tests that follow changes, waits until they completed, and
// counts the manager's API requests over a minute in which nothing changes.
func (b *bench) idleRequests(spec v1alpha1.ReachabilityTestSpec) error {
	var names []string
	for i := range 100 {
		t := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-idle-%03d", i), Labels: map[string]string{benchLabel: "true"}}, Spec: *spec.DeepCopy()}
		if err := b.k8s.Create(b.ctx, t); err != nil {
			return err
		}
		names = append(names, t.Name)
	}
	err := b.waitEvery("the 100 idle tests to complete", time.Second, func(ctx context.Context) (bool, string, error) {
		var list v1alpha1.ReachabilityTestList
		if err := b.k8s.List(ctx, &list, client.MatchingLabels{benchLabel: "true"}); err != nil {
			return false, "", err
		}
		n := 0
		for i := range list.Items {
			if completed(&list.Items[i]) && list.Items[i].Status.ActiveRun == nil {
				n++
			}
		}
		return n >= len(names), fmt.Sprintf("%d of %d completed", n, len(names)), nil
	})
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second) // the probe pods' deletions and the last events settle
	start, byMethod0, err := b.mgr.requests(b.ctx)
	if err != nil {
		return err
	}
	time.Sleep(time.Minute)
	end, byMethod1, err := b.mgr.requests(b.ctx)
	if err != nil {
		return err
	}
	var methods []string
	for m, v := range byMethod1 {
		methods = append(methods, fmt.Sprintf("%s %.0f", m, v-byMethod0[m]))
	}
	b.report.Note("idle minute with 100 tests that follow changes: %s requests (with --leader-elect, the lease is renewed every 2 s: 30 PUT a minute)", strings.Join(methods, ", "))
	b.report.Add(figures.Figure{Key: "idle_requests_per_minute", Label: "100 tests following changes, nothing changing: manager API requests per minute", Unit: "requests", Samples: []float64{end - start}})
	return b.deleteTests(names...)
}

// requests is how many API requests the manager has made, in all and by method.
func (m *manager) requests(ctx context.Context) (float64, map[string]float64, error) {
	raw, err := m.metrics(ctx)
	if err != nil {
		return 0, nil, err
	}
	total, byMethod := figures.Requests(raw)
	return total, byMethod, nil
}

// minRerunInterval reads --min-rerun-interval from the manager's arguments.
func (m *manager) minRerunInterval() time.Duration {
	pod, err := m.cs.CoreV1().Pods(m.namespace).Get(context.Background(), m.pod, metav1.GetOptions{})
	if err == nil {
		for _, arg := range pod.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(arg, "--min-rerun-interval="); ok {
				if d, err := time.ParseDuration(v); err == nil {
					return d
				}
			}
		}
	}
	return 30 * time.Second // the manager's default
}
