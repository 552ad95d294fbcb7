package controllers

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
)

func unitRun(generation int64) v1alpha1.Run {
	return v1alpha1.Run{
		ID:         fmt.Sprintf("g%d-abc", generation),
		Generation: generation,
		StartTime:  metav1.NewTime(unitNow.Add(-90 * time.Second)),
	}
}

func unitResult(name string, expect v1alpha1.Expectation, observed v1alpha1.Observation, verdict v1alpha1.Verdict) v1alpha1.EdgeResult {
	return v1alpha1.EdgeResult{Edge: name, Expected: expect, Observed: observed, Verdict: verdict}
}

func unitPass(name string) v1alpha1.EdgeResult {
	return unitResult(name, v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v1alpha1.VerdictPass)
}

func unitFail(name string) v1alpha1.EdgeResult {
	return unitResult(name, v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail)
}

func unitInconclusive(name string) v1alpha1.EdgeResult {
	return unitResult(name, v1alpha1.ExpectDeny, v1alpha1.ObservedRefused, v1alpha1.VerdictInconclusive)
}

// condition returns the condition of a type, failing the test when it is missing.
func unitCondition(t *testing.T, conds []metav1.Condition, typ string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		t.Fatalf("no %s condition in %+v", typ, conds)
	}
	return *c
}

func unitAssertCondition(t *testing.T, c metav1.Condition, status metav1.ConditionStatus, reason string, generation int64) {
	t.Helper()
	if c.Status != status || c.Reason != reason || c.ObservedGeneration != generation {
		t.Errorf("%s = %s/%s generation %d, want %s/%s generation %d (message %q)",
			c.Type, c.Status, c.Reason, c.ObservedGeneration, status, reason, generation, c.Message)
	}
}

func TestStatusStartRun(t *testing.T) {
	previousPassed := metav1.Condition{
		Type: v1alpha1.ConditionPassed, Status: metav1.ConditionFalse, ObservedGeneration: 1,
		Reason: v1alpha1.ReasonEdgesFailed, Message: "1 of 2 edges failed: db-denied",
		LastTransitionTime: metav1.NewTime(unitNow.Add(-time.Hour)),
	}
	previousResults := []v1alpha1.EdgeResult{unitPass("web"), unitFail("db-denied")}

	tests := []struct {
		name       string
		status     v1alpha1.ReachabilityTestStatus
		wantPassed metav1.Condition
	}{
		{
			name: "first run: Passed is Unknown",
			wantPassed: metav1.Condition{
				Type: v1alpha1.ConditionPassed, Status: metav1.ConditionUnknown, ObservedGeneration: 2,
				Reason: v1alpha1.ReasonNoRunYet, Message: "No run has completed yet",
			},
		},
		{
			name: "later run: the previous Passed stays",
			status: v1alpha1.ReachabilityTestStatus{
				ObservedGeneration: 1,
				Conditions: []metav1.Condition{
					{Type: v1alpha1.ConditionCompleted, Status: metav1.ConditionTrue, ObservedGeneration: 1, Reason: v1alpha1.ReasonRunCompleted, LastTransitionTime: metav1.NewTime(unitNow.Add(-time.Hour))},
					previousPassed,
				},
				Results: previousResults,
			},
			wantPassed: previousPassed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := tt.status.DeepCopy()
			run := unitRun(2)
			startRunStatus(status, run)

			if status.ActiveRun == nil || !reflect.DeepEqual(*status.ActiveRun, run) {
				t.Errorf("ActiveRun = %+v, want %+v", status.ActiveRun, run)
			}
			completed := unitCondition(t, status.Conditions, v1alpha1.ConditionCompleted)
			unitAssertCondition(t, completed, metav1.ConditionFalse, v1alpha1.ReasonRunning, 2)
			if !strings.Contains(completed.Message, run.ID) || !strings.Contains(completed.Message, "generation 2") {
				t.Errorf("Completed message %q should name the run and the generation", completed.Message)
			}
			passed := unitCondition(t, status.Conditions, v1alpha1.ConditionPassed)
			if tt.wantPassed.LastTransitionTime.IsZero() {
				passed.LastTransitionTime = metav1.Time{} // set by SetStatusCondition
			}
			if !reflect.DeepEqual(passed, tt.wantPassed) {
				t.Errorf("Passed = %+v, want %+v", passed, tt.wantPassed)
			}
			// The previous run's results stay visible while the new one runs.
			if !reflect.DeepEqual(status.Results, tt.status.Results) || status.ObservedGeneration != tt.status.ObservedGeneration {
				t.Errorf("results or observedGeneration changed on start: %+v", status)
			}
			if len(status.Conditions) != 2 {
				t.Errorf("conditions = %+v, want Completed and Passed only", status.Conditions)
			}
		})
	}
}

func TestStatusCompleteRun(t *testing.T) {
	many := make([]v1alpha1.EdgeResult, 0, 13)
	for i := range 13 {
		many = append(many, unitFail(fmt.Sprintf("e%02d", i)))
	}
	tests := []struct {
		name         string
		results      []v1alpha1.EdgeResult
		wantSummary  v1alpha1.Summary
		wantStatus   metav1.ConditionStatus
		wantReason   string
		wantMessage  string
		wantAbsent   []string
		wantContains []string
	}{
		{
			name:        "all passed",
			results:     []v1alpha1.EdgeResult{unitPass("a"), unitPass("b")},
			wantSummary: v1alpha1.Summary{Edges: 2, Passed: 2},
			wantStatus:  metav1.ConditionTrue,
			wantReason:  v1alpha1.ReasonAllEdgesPassed,
			wantMessage: "All 2 edges passed",
		},
		{
			name:        "failures win over inconclusive edges",
			results:     []v1alpha1.EdgeResult{unitPass("a"), unitFail("b"), unitInconclusive("c"), unitFail("d")},
			wantSummary: v1alpha1.Summary{Edges: 4, Passed: 1, Failed: 2, Inconclusive: 1},
			wantStatus:  metav1.ConditionFalse,
			wantReason:  v1alpha1.ReasonEdgesFailed,
			wantMessage: "2 of 4 edges failed: b, d",
		},
		{
			name:        "inconclusive only",
			results:     []v1alpha1.EdgeResult{unitPass("a"), unitInconclusive("c")},
			wantSummary: v1alpha1.Summary{Edges: 2, Passed: 1, Inconclusive: 1},
			wantStatus:  metav1.ConditionFalse,
			wantReason:  v1alpha1.ReasonEdgesInconclusive,
			wantMessage: "1 of 2 edges are inconclusive: c",
		},
		{
			name:         "names capped at ten",
			results:      many,
			wantSummary:  v1alpha1.Summary{Edges: 13, Failed: 13},
			wantStatus:   metav1.ConditionFalse,
			wantReason:   v1alpha1.ReasonEdgesFailed,
			wantMessage:  "13 of 13 edges failed: e00, e01, e02, e03, e04, e05, e06, e07, e08, e09 and 3 more",
			wantAbsent:   []string{"e10", "e11", "e12"},
			wantContains: []string{"e09"},
		},
		{
			name: "exactly ten names, no tail",
			results: func() []v1alpha1.EdgeResult {
				return append([]v1alpha1.EdgeResult{unitPass("ok")}, many[:10]...)
			}(),
			wantSummary: v1alpha1.Summary{Edges: 11, Passed: 1, Failed: 10},
			wantStatus:  metav1.ConditionFalse,
			wantReason:  v1alpha1.ReasonEdgesFailed,
			wantMessage: "10 of 11 edges failed: e00, e01, e02, e03, e04, e05, e06, e07, e08, e09",
			wantAbsent:  []string{"more"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := unitRun(3)
			status := &v1alpha1.ReachabilityTestStatus{ObservedGeneration: 2}
			startRunStatus(status, run)
			now := metav1.NewTime(unitNow)
			completeRunStatus(status, run, tt.results, now)

			if status.ActiveRun != nil {
				t.Errorf("ActiveRun = %+v, want nil", status.ActiveRun)
			}
			if status.ObservedGeneration != 3 {
				t.Errorf("ObservedGeneration = %d, want 3", status.ObservedGeneration)
			}
			if !reflect.DeepEqual(status.Results, tt.results) {
				t.Errorf("Results = %+v, want %+v", status.Results, tt.results)
			}
			if status.Summary == nil || *status.Summary != tt.wantSummary {
				t.Errorf("Summary = %+v, want %+v", status.Summary, tt.wantSummary)
			}
			if status.LastRunStartTime == nil || !status.LastRunStartTime.Equal(&run.StartTime) {
				t.Errorf("LastRunStartTime = %v, want %v", status.LastRunStartTime, run.StartTime)
			}
			if status.LastRunCompletionTime == nil || !status.LastRunCompletionTime.Equal(&now) {
				t.Errorf("LastRunCompletionTime = %v, want %v", status.LastRunCompletionTime, now)
			}
			completed := unitCondition(t, status.Conditions, v1alpha1.ConditionCompleted)
			unitAssertCondition(t, completed, metav1.ConditionTrue, v1alpha1.ReasonRunCompleted, 3)
			if want := fmt.Sprintf("Run %s checked %d edges in 1m30s", run.ID, len(tt.results)); completed.Message != want {
				t.Errorf("Completed message = %q, want %q", completed.Message, want)
			}
			passed := unitCondition(t, status.Conditions, v1alpha1.ConditionPassed)
			unitAssertCondition(t, passed, tt.wantStatus, tt.wantReason, 3)
			if passed.Message != tt.wantMessage {
				t.Errorf("Passed message = %q, want %q", passed.Message, tt.wantMessage)
			}
			for _, s := range tt.wantAbsent {
				if strings.Contains(passed.Message, s) {
					t.Errorf("Passed message %q should not contain %q", passed.Message, s)
				}
			}
			for _, s := range tt.wantContains {
				if !strings.Contains(passed.Message, s) {
					t.Errorf("Passed message %q should contain %q", passed.Message, s)
				}
			}
		})
	}
}

func TestStatusVerdictChanges(t *testing.T) {
	withVerdict := func(name string, v v1alpha1.Verdict) v1alpha1.EdgeResult {
		return unitResult(name, v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v)
	}
	P, F, I := v1alpha1.VerdictPass, v1alpha1.VerdictFail, v1alpha1.VerdictInconclusive
	tests := []struct {
		name   string
		before []v1alpha1.EdgeResult
		now    []v1alpha1.EdgeResult
		want   []verdictChange
	}{
		{
			name: "first run reports nothing",
			now:  []v1alpha1.EdgeResult{withVerdict("a", F)},
		},
		{
			name:   "unchanged verdicts are ignored",
			before: []v1alpha1.EdgeResult{withVerdict("a", P), withVerdict("b", F), withVerdict("c", I)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", P), withVerdict("b", F), withVerdict("c", I)},
		},
		{
			name:   "new and removed edges are ignored",
			before: []v1alpha1.EdgeResult{withVerdict("gone", P)},
			now:    []v1alpha1.EdgeResult{withVerdict("new", F)},
		},
		{
			name:   "pass to fail regressed",
			before: []v1alpha1.EdgeResult{withVerdict("a", P)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", F)},
			want:   []verdictChange{{Edge: "a", Regressed: true, Before: P, Now: withVerdict("a", F)}},
		},
		{
			name:   "fail to pass recovered",
			before: []v1alpha1.EdgeResult{withVerdict("a", F)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", P)},
			want:   []verdictChange{{Edge: "a", Regressed: false, Before: F, Now: withVerdict("a", P)}},
		},
		{
			name:   "pass to inconclusive regressed",
			before: []v1alpha1.EdgeResult{withVerdict("a", P)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", I)},
			want:   []verdictChange{{Edge: "a", Regressed: true, Before: P, Now: withVerdict("a", I)}},
		},
		{
			name:   "inconclusive to fail regressed",
			before: []v1alpha1.EdgeResult{withVerdict("a", I)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", F)},
			want:   []verdictChange{{Edge: "a", Regressed: true, Before: I, Now: withVerdict("a", F)}},
		},
		{
			name:   "fail to inconclusive is no regression",
			before: []v1alpha1.EdgeResult{withVerdict("a", F)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", I)},
			want:   []verdictChange{{Edge: "a", Regressed: false, Before: F, Now: withVerdict("a", I)}},
		},
		{
			name:   "inconclusive to pass recovered",
			before: []v1alpha1.EdgeResult{withVerdict("a", I)},
			now:    []v1alpha1.EdgeResult{withVerdict("a", P)},
			want:   []verdictChange{{Edge: "a", Regressed: false, Before: I, Now: withVerdict("a", P)}},
		},
		{
			name:   "changes in the order of the new results",
			before: []v1alpha1.EdgeResult{withVerdict("a", P), withVerdict("b", F), withVerdict("c", P)},
			now:    []v1alpha1.EdgeResult{withVerdict("c", F), withVerdict("b", P), withVerdict("a", P)},
			want: []verdictChange{
				{Edge: "c", Regressed: true, Before: P, Now: withVerdict("c", F)},
				{Edge: "b", Regressed: false, Before: F, Now: withVerdict("b", P)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verdictChanges(tt.before, tt.now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("verdictChanges = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPredictionFlips(t *testing.T) {
	results := []v1alpha1.EdgeResult{
		{Edge: "hole", Expected: v1alpha1.ExpectDeny, Predicted: v1alpha1.ExpectDeny, Diagnosis: ""},
		{Edge: "outage", Expected: v1alpha1.ExpectAllow, Predicted: v1alpha1.ExpectAllow},
		{Edge: "same", Expected: v1alpha1.ExpectDeny, Predicted: v1alpha1.ExpectDeny},
		{Edge: "unsettled-now", Expected: v1alpha1.ExpectDeny, Predicted: v1alpha1.ExpectDeny},
		{Edge: "never-predicted", Expected: v1alpha1.ExpectDeny},
		{Edge: "recovers", Expected: v1alpha1.ExpectDeny, Predicted: v1alpha1.ExpectAllow, Diagnosis: v1alpha1.DiagnosisPolicyMismatch},
	}
	now := map[string]v1alpha1.Expectation{
		"hole": v1alpha1.ExpectAllow, "outage": v1alpha1.ExpectDeny, "same": v1alpha1.ExpectDeny,
		"unsettled-now": "", "never-predicted": v1alpha1.ExpectAllow, "recovers": v1alpha1.ExpectDeny,
	}
	flips := predictionFlips(results, func(edge string) (v1alpha1.Expectation, string) { return now[edge], "because " + edge })
	if got := flipNames(flips); !slices.Equal(got, []string{"hole", "outage", "unsettled-now", "recovers"}) {
		t.Fatalf("flipped %v, want hole, outage, unsettled-now and recovers: a prediction never made is no flip", got)
	}
	status := v1alpha1.ReachabilityTestStatus{Results: results}
	applyPredictionFlips(&status, flips)
	r := status.Results[5]
	if r.Predicted != v1alpha1.ExpectDeny || r.Diagnosis != "" || r.Explanation != "because recovers" {
		t.Errorf("recovers became %+v, want predicted Deny, the new explanation, and no diagnosis until the run", r)
	}
	// A prediction the model cannot make now is not shown as current.
	if u := status.Results[3]; u.Predicted != "" || u.Explanation != unsettledNow {
		t.Errorf("unsettled-now became %+v, want no prediction and why", u)
	}
	if msg := flips[2].message("Pod db/db-0 deleted"); !strings.Contains(msg, "Edge unsettled-now (expected Deny), predicted Deny, cannot be predicted after Pod db/db-0 deleted") {
		t.Errorf("message %q", msg)
	}
	if msg := flips[0].message("NetworkPolicy a/b deleted"); msg != "Edge hole (expected Deny) went from predicted Deny to predicted Allow after NetworkPolicy a/b deleted; a run follows to confirm it: because hole" {
		t.Errorf("message %q", msg)
	}
}

func TestInvalidScheduleStatusReportsOnce(t *testing.T) {
	next := metav1.Now()
	status := v1alpha1.ReachabilityTestStatus{NextRunTime: &next}
	const msg = `spec.schedule: schedule "0 0 30,31 FEB *" never fires`
	if !invalidScheduleStatus(&status, 3, msg) {
		t.Fatal("the first report changed nothing")
	}
	c := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionCompleted)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonInvalidSchedule || c.Message != msg || c.ObservedGeneration != 3 {
		t.Errorf("Completed %+v, want False InvalidSchedule for generation 3 with the message", c)
	}
	if status.NextRunTime != nil {
		t.Errorf("nextRunTime %v, want none", status.NextRunTime)
	}
	if invalidScheduleStatus(&status, 3, msg) {
		t.Error("the same report again changed the status")
	}
}

func TestStatusRecordsTheAdminTierFinding(t *testing.T) {
	enforced := canary.Finding{Reason: v1alpha1.ReasonEnforced, Message: "NetworkPolicy is enforced"}
	tests := []struct {
		name   string
		tier   *canary.AdminTierFinding
		want   metav1.ConditionStatus // "" for no condition
		reason string
	}{
		{"enforced", &canary.AdminTierFinding{Reason: v1alpha1.ReasonEnforced}, metav1.ConditionTrue, v1alpha1.ReasonEnforced},
		{"not enforced", &canary.AdminTierFinding{Reason: v1alpha1.ReasonNotEnforced}, metav1.ConditionFalse, v1alpha1.ReasonNotEnforced},
		{"one tier", &canary.AdminTierFinding{Reason: v1alpha1.ReasonBaselineTierNotEnforced}, metav1.ConditionFalse, v1alpha1.ReasonBaselineTierNotEnforced},
		{"not served", &canary.AdminTierFinding{Reason: v1alpha1.ReasonNotServed}, metav1.ConditionUnknown, v1alpha1.ReasonNotServed},
		{"failed", &canary.AdminTierFinding{Reason: v1alpha1.ReasonCanaryFailed}, metav1.ConditionUnknown, v1alpha1.ReasonCanaryFailed},
		{"skipped", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status v1alpha1.ReachabilityTestStatus
			completeRunStatus(&status, unitRun(1), nil, metav1.Now())
			// A condition from an earlier run that checked the admin tier.
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: v1alpha1.ConditionClusterNetworkPolicyEnforced, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonEnforced})
			f := enforced
			f.AdminTier = tt.tier
			recordCanary(&status, &f, 1)
			cond := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionClusterNetworkPolicyEnforced)
			switch {
			case tt.want == "" && cond != nil:
				t.Fatalf("ClusterNetworkPolicyEnforced = %+v for a test that skips the admin tier, want none", cond)
			case tt.want != "" && (cond == nil || cond.Status != tt.want || cond.Reason != tt.reason):
				t.Fatalf("ClusterNetworkPolicyEnforced = %+v, want %s/%s", cond, tt.want, tt.reason)
			}
			if passed := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionPassed); passed.Status != metav1.ConditionTrue {
				t.Errorf("Passed = %+v: the admin-tier finding must not change it", passed)
			}
		})
	}
}
