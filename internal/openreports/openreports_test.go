package openreports

import (
	"strings"
	"testing"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

func TestEdgeOutcome(t *testing.T) {
	cases := []struct {
		name     string
		expected v1alpha1.Expectation
		observed v1alpha1.Observation
		verdict  v1alpha1.Verdict
		result   orv1.Result
		severity string
	}{
		{"allow connected", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, v1alpha1.VerdictPass, Pass, SeverityInfo},
		{"deny refused with evidence", v1alpha1.ExpectDeny, v1alpha1.ObservedRefused, v1alpha1.VerdictPass, Pass, SeverityInfo},
		{"unexpected allow", v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, v1alpha1.VerdictFail, Fail, SeverityHigh},
		{"unexpected deny", v1alpha1.ExpectAllow, v1alpha1.ObservedTimeout, v1alpha1.VerdictFail, Fail, SeverityMedium},
		{"allow name did not resolve", v1alpha1.ExpectAllow, v1alpha1.ObservedDNSFailure, v1alpha1.VerdictFail, Fail, SeverityMedium},
		{"probe could not run", v1alpha1.ExpectAllow, v1alpha1.ObservedError, v1alpha1.VerdictInconclusive, Error, SeverityLow},
		{"deny without evidence", v1alpha1.ExpectDeny, v1alpha1.ObservedRefused, v1alpha1.VerdictInconclusive, Error, SeverityLow},
		{"deny name did not resolve", v1alpha1.ExpectDeny, v1alpha1.ObservedDNSFailure, v1alpha1.VerdictInconclusive, Error, SeverityLow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			result, severity := EdgeOutcome(v1alpha1.EdgeResult{Expected: c.expected, Observed: c.observed, Verdict: c.verdict})
			if result != c.result || severity != c.severity {
				t.Errorf("got %s/%s, want %s/%s", result, severity, c.result, c.severity)
			}
		})
	}
}

func TestCanaryOutcome(t *testing.T) {
	cases := map[string]struct {
		result   orv1.Result
		severity string
	}{
		v1alpha1.ReasonEnforced:                {Pass, SeverityInfo},
		v1alpha1.ReasonNotEnforced:             {Fail, SeverityHigh},
		v1alpha1.ReasonIngressNotEnforced:      {Fail, SeverityHigh},
		v1alpha1.ReasonEgressNotEnforced:       {Fail, SeverityHigh},
		v1alpha1.ReasonAdminTierNotEnforced:    {Fail, SeverityHigh},
		v1alpha1.ReasonBaselineTierNotEnforced: {Fail, SeverityHigh},
		v1alpha1.ReasonCanaryFailed:            {Error, SeverityLow},
		v1alpha1.ReasonNotServed:               {Skip, SeverityInfo},
	}
	for reason, want := range cases {
		if result, severity := CanaryOutcome(reason); result != want.result || severity != want.severity {
			t.Errorf("%s: got %s/%s, want %s/%s", reason, result, severity, want.result, want.severity)
		}
	}
}

func completedTest() *v1alpha1.ReachabilityTest {
	done := metav1.NewTime(time.Unix(1700000000, 0))
	return &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "bookstore", UID: "uid-1"},
		Spec: v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
			{Name: "web-to-db", Expect: v1alpha1.ExpectAllow}, {Name: "intruder-to-db", Expect: v1alpha1.ExpectDeny},
		}},
		Status: v1alpha1.ReachabilityTestStatus{
			LastRunCompletionTime: &done,
			Results: []v1alpha1.EdgeResult{
				{Edge: "web-to-db", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictPass,
					Attempts: 1, Target: "10.96.0.5:5432/TCP", LatencyMilliseconds: 3, Message: "Connected 10.96.0.5:5432/TCP", Predicted: v1alpha1.ExpectAllow},
				{Edge: "intruder-to-db", Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictFail,
					Attempts: 3, Target: "10.244.0.9:5432/TCP", Message: "unexpected allow", Predicted: v1alpha1.ExpectDeny,
					Diagnosis: v1alpha1.DiagnosisDataplaneMismatch, Explanation: "policy db/default-deny denies it"},
			},
			Canary: &v1alpha1.CanaryStatus{Ingress: v1alpha1.NotEnforced, Egress: v1alpha1.NotEnforced, EnforcementLatencyMilliseconds: ptr.To[int32](120)},
			Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionPassed, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonEdgesFailed},
				{Type: v1alpha1.ConditionNetworkPolicyEnforced, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonNotEnforced, Message: "not enforced"},
				{Type: v1alpha1.ConditionClusterNetworkPolicyEnforced, Status: metav1.ConditionUnknown, Reason: v1alpha1.ReasonNotServed, Message: "not served"},
			},
		},
	}
}

func TestBuildHasOneResultPerEdgeAndEachCanaryFinding(t *testing.T) {
	test := completedTest()
	rep := Build(test)
	if rep == nil {
		t.Fatal("no report for a completed run")
	}
	if rep.Name != "netconform-bookstore" || rep.Source != Source || rep.Scope.Kind != "ReachabilityTest" || rep.Scope.UID != "uid-1" {
		t.Errorf("report %s source %q scope %+v", rep.Name, rep.Source, rep.Scope)
	}
	owner := metav1.GetControllerOf(rep)
	if owner == nil || owner.UID != test.UID || owner.Kind != "ReachabilityTest" || !*owner.BlockOwnerDeletion {
		t.Errorf("controller %+v, want the test", owner)
	}
	if err := Trusted(rep, test); err != nil {
		t.Errorf("the report the manager builds is not trusted: %v", err)
	}
	got := map[string]orv1.ReportResult{}
	for _, r := range rep.Results {
		if r.Policy != "bookstore" || r.Source != Source || r.Timestamp.Seconds != 1700000000 {
			t.Errorf("result %s: policy %q source %q timestamp %v", r.Rule, r.Policy, r.Source, r.Timestamp)
		}
		got[r.Rule] = r
	}
	if len(rep.Results) != 4 || len(got) != 4 {
		t.Fatalf("%d results %v, want two edges and two canary findings", len(rep.Results), got)
	}
	hole := got["intruder-to-db"]
	if hole.Result != Fail || hole.Severity != SeverityHigh || hole.Description != "unexpected allow" {
		t.Errorf("the unexpected allow is %s/%s %q", hole.Result, hole.Severity, hole.Description)
	}
	wantProps := map[string]string{"expected": "Deny", "observed": "Connected", "verdict": "Fail", "target": "10.244.0.9:5432/TCP",
		"predicted": "Deny", "diagnosis": "DataplaneMismatch", "explanation": "policy db/default-deny denies it", "attempts": "3", "latencyMilliseconds": "0"}
	for k, v := range wantProps {
		if hole.Properties[k] != v {
			t.Errorf("property %s = %q, want %q", k, hole.Properties[k], v)
		}
	}
	if c := got[v1alpha1.ConditionNetworkPolicyEnforced]; c.Result != Fail || c.Severity != SeverityHigh || c.Properties["ingress"] != "NotEnforced" || c.Properties["enforcementLatencyMilliseconds"] != "120" {
		t.Errorf("canary result %+v", c)
	}
	if c := got[v1alpha1.ConditionClusterNetworkPolicyEnforced]; c.Result != Skip {
		t.Errorf("admin tier not served is %s, want skip", c.Result)
	}
	if want := (orv1.ReportSummary{Pass: 1, Fail: 2, Skip: 1}); rep.Summary != want {
		t.Errorf("summary %+v, want %+v", rep.Summary, want)
	}
}

func TestBuildNothingBeforeARun(t *testing.T) {
	test := completedTest()
	test.Status = v1alpha1.ReachabilityTestStatus{}
	if rep := Build(test); rep != nil {
		t.Errorf("a test that never ran has report %+v", rep)
	}
}

func TestARefusedTestSkipsEveryEdge(t *testing.T) {
	test := completedTest()
	test.Generation = 2
	test.Status = v1alpha1.ReachabilityTestStatus{Conditions: []metav1.Condition{{
		Type: v1alpha1.ConditionPassed, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonNotAllowed, ObservedGeneration: 2,
		Message: "The manager will not start this test's pods: image x", LastTransitionTime: metav1.NewTime(time.Unix(1700000100, 0)),
	}}}
	rep := Build(test)
	if rep == nil || len(rep.Results) != 2 {
		t.Fatalf("report %+v, want a skip per edge", rep)
	}
	for _, r := range rep.Results {
		if r.Result != Skip || !strings.Contains(r.Description, "will not start") || r.Properties["reason"] != v1alpha1.ReasonNotAllowed {
			t.Errorf("result %+v, want a skip saying why", r)
		}
	}
	if rep.Summary != (orv1.ReportSummary{Skip: 2}) {
		t.Errorf("summary %+v", rep.Summary)
	}
	test.Generation = 3 // a new spec, not yet checked: its edges were not refused
	if rep := Build(test); rep != nil {
		t.Errorf("a refusal of an older generation is reported for the new spec: %+v", rep.Results)
	}
}

// A spec the manager will not run as it stands (here a from.nodes that selects no node)
// is reported as skips, not as the passes an older spec's run left on the status.
func TestASpecThatCannotRunHidesTheOlderResults(t *testing.T) {
	for _, reason := range []string{v1alpha1.ReasonNoMatchingNodes, v1alpha1.ReasonInvalidSchedule} {
		test := completedTest()
		test.Generation = 2
		test.Status.Conditions = []metav1.Condition{{
			Type: v1alpha1.ConditionPassed, Status: metav1.ConditionFalse, Reason: reason, ObservedGeneration: 2,
			Message: "spec.edges[0].from.nodes matches no node", LastTransitionTime: metav1.NewTime(time.Unix(1700000100, 0)),
		}}
		rep := Build(test)
		if rep == nil || rep.Summary != (orv1.ReportSummary{Skip: 2}) {
			t.Fatalf("%s: report %+v, want a skip per edge instead of the older run's results", reason, rep)
		}
		for _, r := range rep.Results {
			if r.Properties["reason"] != reason {
				t.Errorf("%s: result %+v does not say why it was skipped", reason, r)
			}
		}
	}
}

func TestTrustedRefusesOthersReports(t *testing.T) {
	test := completedTest()
	mine := Build(test)
	cases := map[string]func(*orv1.ClusterReport){
		"no owner":     func(r *orv1.ClusterReport) { r.OwnerReferences = nil },
		"another test": func(r *orv1.ClusterReport) { r.OwnerReferences[0].Name = "other" },
		"another kind": func(r *orv1.ClusterReport) { r.OwnerReferences[0].Kind = "Deployment" },
		"owner not controller": func(r *orv1.ClusterReport) {
			r.OwnerReferences[0].Controller = nil
		},
		"no managed-by label": func(r *orv1.ClusterReport) { delete(r.Labels, LabelManagedBy) },
	}
	predecessor := mine.DeepCopy()
	predecessor.OwnerReferences[0].UID, predecessor.Labels[LabelTestUID] = "uid-0", "uid-0"
	if err := Trusted(predecessor, test); err != nil {
		t.Errorf("the report of an earlier test of the same name, awaiting garbage collection, is not taken over: %v", err)
	}
	if Current(predecessor, mine) {
		t.Error("a predecessor's report counts as current: it would keep the old owner")
	}
	for name, forge := range cases {
		t.Run(name, func(t *testing.T) {
			r := mine.DeepCopy()
			forge(r)
			if err := Trusted(r, test); err == nil || !strings.Contains(err.Error(), r.Name) {
				t.Errorf("Trusted = %v, want an error naming the report", err)
			}
		})
	}
}

func TestFitKeepsWhatFailsFirst(t *testing.T) {
	var results []orv1.ReportResult
	for i := range 100 {
		r := orv1.ReportResult{Policy: "t", Rule: strings.Repeat("x", 50), Result: Pass}
		if i%10 == 0 {
			r.Result = Fail
		}
		results = append(results, r)
	}
	all, limits := Fit(results, 1<<20)
	if len(all) != 100 || limits != nil {
		t.Fatalf("a report within budget lost results: %d, %+v", len(all), limits)
	}
	kept, limits := Fit(results, 20*100) // room for about 20 results of ~95 bytes
	fails := 0
	for _, r := range kept {
		if r.Result == Fail {
			fails++
		}
	}
	if fails != 10 || len(kept) >= 100 || limits == nil || limits.Limits.MaxResults != len(kept) {
		t.Errorf("kept %d results with %d fails, limits %+v; want every fail and a limit", len(kept), fails, limits)
	}
}

func TestNameFitsAnObjectName(t *testing.T) {
	long := strings.Repeat("a", 253)
	if n := Name(long); len(n) > 253 || n == Name(strings.Repeat("a", 252)+"b") {
		t.Errorf("name %q (%d) is too long or not unique", n, len(n))
	}
}
