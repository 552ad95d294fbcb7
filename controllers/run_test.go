package controllers

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/probes"
)

func unitProgress() runProgress {
	return runProgress{checks: map[string][]probes.Check{}, results: map[string][]probes.Result{}}
}

func unitCheck(edge, host string, port int32, deny bool) probes.Check {
	return probes.Check{Edge: edge, Kind: probes.KindTCP, Host: host, Port: port, Deny: deny}
}

func unitObserved(obs v1alpha1.Observation, target string) probes.Result {
	return probes.Result{Observation: obs, Attempts: 1, Target: target}
}

func TestRunProgressAdd(t *testing.T) {
	// Two pods: the first carries a check of edge a and one of edge c, the second the
	// other check of edge c.
	pod1 := []probes.Check{unitCheck("a", "10.0.0.1", 80, false), unitCheck("c", "10.0.0.2", 5432, true)}
	pod2 := []probes.Check{unitCheck("c", "10.0.0.3", 5432, true)}
	connected := unitObserved(v1alpha1.ObservedConnected, "10.0.0.1:80")
	refused := unitObserved(v1alpha1.ObservedRefused, "10.0.0.2:5432")
	timeout := unitObserved(v1alpha1.ObservedTimeout, "10.0.0.3:5432")
	cannotStart := &podFailure{Reason: FailureCannotStart, Message: "probe pod ns/p2 cannot start: ImagePullBackOff: x"}
	errResult := probes.Result{Observation: v1alpha1.ObservedError, Message: cannotStart.Message}

	type add struct {
		checks  []probes.Check
		outcome podOutcome
	}
	tests := []struct {
		name         string
		adds         []add
		wantChecks   map[string][]probes.Check
		wantResults  map[string][]probes.Result
		wantFailures []podFailure
		wantPending  int
		wantRecheck  time.Duration
	}{
		{
			name: "done pods: results mapped to their edges in check order",
			adds: []add{
				{pod1, podOutcome{Done: true, Results: []probes.Result{connected, refused}}},
				{pod2, podOutcome{Done: true, Results: []probes.Result{timeout}}},
			},
			wantChecks:  map[string][]probes.Check{"a": {pod1[0]}, "c": {pod1[1], pod2[0]}},
			wantResults: map[string][]probes.Result{"a": {connected}, "c": {refused, timeout}},
		},
		{
			name: "failed pod: every check becomes an Error result and the failure is kept",
			adds: []add{
				{pod1, podOutcome{Done: true, Results: []probes.Result{connected, refused}}},
				{pod2, podOutcome{Done: true, Failure: cannotStart}},
			},
			wantChecks:   map[string][]probes.Check{"a": {pod1[0]}, "c": {pod1[1], pod2[0]}},
			wantResults:  map[string][]probes.Result{"a": {connected}, "c": {refused, errResult}},
			wantFailures: []podFailure{*cannotStart},
		},
		{
			name: "failed pod with several checks",
			adds: []add{
				{pod1, podOutcome{Done: true, Failure: cannotStart}},
			},
			wantChecks:   map[string][]probes.Check{"a": {pod1[0]}, "c": {pod1[1]}},
			wantResults:  map[string][]probes.Result{"a": {errResult}, "c": {errResult}},
			wantFailures: []podFailure{*cannotStart},
		},
		{
			name: "pending pods: counted, the earliest recheck wins, no results yet",
			adds: []add{
				{pod1, podOutcome{RecheckAfter: 90 * time.Second}},
				{pod2, podOutcome{RecheckAfter: 20 * time.Second}},
			},
			wantChecks:  map[string][]probes.Check{},
			wantResults: map[string][]probes.Result{},
			wantPending: 2,
			wantRecheck: 20 * time.Second,
		},
		{
			name: "a later, longer recheck does not replace an earlier one",
			adds: []add{
				{pod2, podOutcome{RecheckAfter: 20 * time.Second}},
				{pod1, podOutcome{RecheckAfter: 90 * time.Second}},
			},
			wantChecks:  map[string][]probes.Check{},
			wantResults: map[string][]probes.Result{},
			wantPending: 2,
			wantRecheck: 20 * time.Second,
		},
		{
			name: "mixed: a done pod does not touch the recheck",
			adds: []add{
				{pod1, podOutcome{Done: true, Results: []probes.Result{connected, refused}}},
				{pod2, podOutcome{RecheckAfter: 45 * time.Second}},
			},
			wantChecks:  map[string][]probes.Check{"a": {pod1[0]}, "c": {pod1[1]}},
			wantResults: map[string][]probes.Result{"a": {connected}, "c": {refused}},
			wantPending: 1,
			wantRecheck: 45 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unitProgress()
			for _, a := range tt.adds {
				p.add(a.checks, a.outcome)
			}
			if !reflect.DeepEqual(p.checks, tt.wantChecks) {
				t.Errorf("checks = %+v, want %+v", p.checks, tt.wantChecks)
			}
			if !reflect.DeepEqual(p.results, tt.wantResults) {
				t.Errorf("results = %+v, want %+v", p.results, tt.wantResults)
			}
			if !reflect.DeepEqual(p.failures, tt.wantFailures) {
				t.Errorf("failures = %+v, want %+v", p.failures, tt.wantFailures)
			}
			if p.pending != tt.wantPending || p.recheck != tt.wantRecheck {
				t.Errorf("pending %d, recheck %s; want %d, %s", p.pending, p.recheck, tt.wantPending, tt.wantRecheck)
			}
		})
	}
}

func TestRunRecheckAfter(t *testing.T) {
	tests := []struct {
		name            string
		recheck         time.Duration
		waitForCapacity bool
		want            time.Duration
	}{
		{name: "the earliest pod recheck", recheck: 30 * time.Second, want: 30 * time.Second},
		{name: "no pod recheck yet: look again soon", recheck: 0, want: probepool.CapacityRecheck},
		{name: "waiting for capacity shortens a long recheck", recheck: 30 * time.Second, waitForCapacity: true, want: probepool.CapacityRecheck},
		{name: "waiting for capacity keeps a shorter recheck", recheck: 300 * time.Millisecond, waitForCapacity: true, want: 300 * time.Millisecond},
		{name: "waiting for capacity without pods", recheck: 0, waitForCapacity: true, want: probepool.CapacityRecheck},
		{name: "a negative recheck never reaches the queue", recheck: -time.Second, want: probepool.CapacityRecheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unitProgress()
			p.recheck = tt.recheck
			if got := p.recheckAfter(tt.waitForCapacity); got != tt.want {
				t.Errorf("recheckAfter(%v) = %s, want %s", tt.waitForCapacity, got, tt.want)
			}
		})
	}
}

func TestRunJudge(t *testing.T) {
	from := v1alpha1.Source{Namespace: "web", PodLabels: map[string]string{"app": "web"}}
	edges := []v1alpha1.Edge{
		{Name: "to-api", From: from, Expect: v1alpha1.ExpectAllow,
			To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.1", Port: 80}}},
		{Name: "to-missing-pods", From: from, Expect: v1alpha1.ExpectDeny,
			To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "db", PodLabels: map[string]string{"app": "gone"}, Port: intstr.FromInt32(5432)}}},
		{Name: "to-db", From: from, Expect: v1alpha1.ExpectDeny,
			To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "db", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}},
		{Name: "to-cache", From: from, Expect: v1alpha1.ExpectDeny,
			To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.9", Port: 6379}}},
		{Name: "never-reported", From: from, Expect: v1alpha1.ExpectAllow,
			To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.5", Port: 443}}},
	}
	api := unitCheck("to-api", "10.0.0.1", 80, false)
	db1 := unitCheck("to-db", "10.0.1.1", 5432, true)
	db2 := unitCheck("to-db", "10.0.1.2", 5432, true)
	cache := unitCheck("to-cache", "10.0.0.9", 6379, true)
	unprobed := probes.Result{Observation: v1alpha1.ObservedError, Message: "no ready pod in namespace db matches app=gone"}
	plan := probes.Plan{
		Sources:  []probes.SourceChecks{{Identity: probes.IdentityOf(from), Checks: []probes.Check{cache, db1, api, db2}}},
		Unprobed: map[string]probes.Result{"to-missing-pods": unprobed},
	}
	progress := unitProgress()
	progress.add(plan.Sources[0].Checks, podOutcome{Done: true, Results: []probes.Result{
		unitObserved(v1alpha1.ObservedTimeout, "10.0.0.9:6379"),
		unitObserved(v1alpha1.ObservedRefused, "10.0.1.1:5432"),
		unitObserved(v1alpha1.ObservedConnected, "10.0.0.1:80"),
		unitObserved(v1alpha1.ObservedTimeout, "10.0.1.2:5432"),
	}})

	// The db pods listen; nothing shows that the cache does.
	var asked []probes.Check
	listens := func(c probes.Check, r probes.Result) (string, bool) {
		asked = append(asked, c)
		return "it is a db", c.Edge == "to-db"
	}
	got := judgeRun(edges, plan, progress, listens)

	want := []struct {
		edge     string
		verdict  v1alpha1.Verdict
		observed v1alpha1.Observation
		message  string
	}{
		{"to-api", v1alpha1.VerdictPass, v1alpha1.ObservedConnected, "Connected 10.0.0.1:80"},
		{"to-missing-pods", v1alpha1.VerdictInconclusive, v1alpha1.ObservedError, unprobed.Message},
		{"to-db", v1alpha1.VerdictPass, v1alpha1.ObservedRefused, "2 checks (one per ready pod), deciding 1: Refused 10.0.1.1:5432; the destination listens: it is a db"},
		{"to-cache", v1alpha1.VerdictInconclusive, v1alpha1.ObservedTimeout, "nothing shows that the destination listens"},
		{"never-reported", v1alpha1.VerdictInconclusive, v1alpha1.ObservedError, "no result for this edge"},
	}
	if len(got) != len(want) {
		t.Fatalf("judgeRun returned %d results, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r.Edge != w.edge || r.Verdict != w.verdict || r.Observed != w.observed || !strings.Contains(r.Message, w.message) {
			t.Errorf("result %d = %s %s/%s %q, want %s %s/%s containing %q",
				i, r.Edge, r.Verdict, r.Observed, r.Message, w.edge, w.verdict, w.observed, w.message)
		}
		if r.Expected != edges[i].Expect {
			t.Errorf("result %d expected = %s, want %s", i, r.Expected, edges[i].Expect)
		}
	}
	// Listens is asked only about the denied checks of probed Deny edges, each with its
	// own edge's check.
	wantAsked := []probes.Check{db1, db2, cache}
	if !reflect.DeepEqual(asked, wantAsked) {
		t.Errorf("listens asked about %+v, want %+v", asked, wantAsked)
	}
}

func TestRunJudgeEmpty(t *testing.T) {
	got := judgeRun(nil, probes.Plan{}, unitProgress(), func(probes.Check, probes.Result) (string, bool) { return "always", true })
	if len(got) != 0 {
		t.Errorf("judgeRun of no edges = %+v, want none", got)
	}
}

func TestWithoutChecks(t *testing.T) {
	a, b := unitCheck("a", "10.0.0.1", 80, false), unitCheck("b", "10.0.0.2", 80, true)
	tests := []struct {
		checks, carried, want []probes.Check
	}{
		{[]probes.Check{a, b}, nil, []probes.Check{a, b}},
		{[]probes.Check{a, b}, []probes.Check{b}, []probes.Check{a}},
		{[]probes.Check{a, a, b}, []probes.Check{a}, []probes.Check{a, b}}, // duplicates count
		{[]probes.Check{a}, []probes.Check{a, b}, nil},
		{[]probes.Check{withPolicy(a, probes.PolicyDenies)}, []probes.Check{withPolicy(a, probes.PolicyAllows)}, nil}, // verdicts are read anew
	}
	for _, tt := range tests {
		if got := withoutChecks(tt.checks, tt.carried); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("withoutChecks(%v, %v) = %v, want %v", tt.checks, tt.carried, got, tt.want)
		}
	}
}

func withPolicy(c probes.Check, verdict probes.PolicyVerdict) probes.Check {
	c.Policy = verdict
	return c
}
