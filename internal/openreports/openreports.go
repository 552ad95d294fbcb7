// Package openreports maps what a ReachabilityTest's status says to an OpenReports
// ClusterReport (openreports.io/v1alpha1), so that Policy Reporter and the other tools
// that read OpenReports show netconform's verdicts beside the rest of the cluster's
// policy results. It reads the status the manager wrote, never an existing report.
//
// The report is a ClusterReport because a ReachabilityTest is cluster-scoped: it has no
// namespace to hold a Report, and its edges cross namespaces. One report per test, named
// after it, owned by it (garbage collection deletes it with the test), holding one
// result per edge and one per canary finding, replaced after every run.
package openreports

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Names and labels that mark a report as netconform's.
const (
	// Source names netconform as the engine of every result.
	Source = "netconform"
	// LabelManagedBy and ManagedBy mark the reports the manager writes.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "netconform"
	// LabelTestUID names the test a report belongs to.
	LabelTestUID = "netconform.io/test-uid"
	// namePrefix keeps netconform's reports apart from other engines' ClusterReports.
	namePrefix = "netconform-"
)

// Categories of results.
const (
	CategoryEdge   = "Network reachability"
	CategoryCanary = "NetworkPolicy enforcement"
)

// Name is the name of a test's report: the test's name after "netconform-", shortened
// with a hash when that would pass the 253 characters a name may have.
func Name(test string) string {
	name := namePrefix + test
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(test))
	return name[:253-17] + "-" + hex.EncodeToString(sum[:8])
}

// Build is the report of a test, made from its status alone: nil when the test has
// nothing to report yet (no run completed, and no run refused).
func Build(test *v1alpha1.ReachabilityTest) *orv1.ClusterReport {
	results := Results(test)
	if results == nil {
		return nil
	}
	kept, limits := Fit(results, MaxResultBytes)
	return &orv1.ClusterReport{
		TypeMeta: metav1.TypeMeta{APIVersion: orv1.GroupVersion.String(), Kind: "ClusterReport"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(test.Name),
			Labels:          map[string]string{LabelManagedBy: ManagedBy, LabelTestUID: string(test.UID)},
			OwnerReferences: []metav1.OwnerReference{ownerOf(test)},
		},
		Source:        Source,
		Scope:         scopeOf(test),
		Summary:       Summarize(results),
		Results:       kept,
		Configuration: limits,
	}
}

// ownerOf makes the test the report's controller: garbage collection deletes the report
// with the test.
func ownerOf(test *v1alpha1.ReachabilityTest) metav1.OwnerReference {
	gv := v1alpha1.GroupVersion
	return metav1.OwnerReference{
		APIVersion: gv.String(), Kind: "ReachabilityTest", Name: test.Name, UID: test.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
}

// Results are the test's results as OpenReports results: one per edge of the last
// completed run (or, for a test the manager refused to run, one skip per edge), then the
// canary's findings. Nil when there is nothing to report.
func Results(test *v1alpha1.ReachabilityTest) []orv1.ReportResult {
	status := &test.Status
	if refused := refusal(test); refused != nil {
		return skipped(test, refused)
	}
	if status.LastRunCompletionTime == nil {
		return nil
	}
	at := timestamp(status.LastRunCompletionTime.Unix())
	results := make([]orv1.ReportResult, 0, len(status.Results)+2)
	for _, r := range status.Results {
		results = append(results, EdgeResult(test.Name, r, at))
	}
	return append(results, CanaryResults(test.Name, status, at)...)
}

// notRunReasons are the Passed reasons of a spec the manager will not run as it stands:
// the results on the status, if any, are an older spec's and must not stand for it.
var notRunReasons = map[string]bool{
	v1alpha1.ReasonNotAllowed:      true,
	v1alpha1.ReasonNoMatchingNodes: true,
	v1alpha1.ReasonInvalidSchedule: true,
}

// refusal is the Passed condition of a test the manager refused to run (NotAllowed, a
// from.nodes that selects no node, a schedule it cannot follow), when that is what the
// status says of the current generation: the skips name the edges of the spec refused.
func refusal(test *v1alpha1.ReachabilityTest) *metav1.Condition {
	c := meta.FindStatusCondition(test.Status.Conditions, v1alpha1.ConditionPassed)
	if c == nil || !notRunReasons[c.Reason] || c.ObservedGeneration != test.Generation {
		return nil
	}
	return c
}

// skipped is a skip per edge of a test that did not run, saying why.
func skipped(test *v1alpha1.ReachabilityTest, why *metav1.Condition) []orv1.ReportResult {
	at := timestamp(why.LastTransitionTime.Unix())
	results := make([]orv1.ReportResult, 0, len(test.Spec.Edges))
	for _, e := range test.Spec.Edges {
		results = append(results, orv1.ReportResult{
			Source: Source, Policy: test.Name, Rule: e.Name, Category: CategoryEdge,
			Severity: orv1.ResultSeverity(SeverityInfo), Timestamp: at, Result: Skip,
			Description: why.Message,
			Properties:  map[string]string{"expected": string(e.Expect), "reason": why.Reason},
		})
	}
	return results
}

// EdgeResult is one edge's result.
func EdgeResult(test string, r v1alpha1.EdgeResult, at metav1.Timestamp) orv1.ReportResult {
	result, severity := EdgeOutcome(r)
	props := map[string]string{
		"expected": string(r.Expected),
		"observed": string(r.Observed),
		"verdict":  string(r.Verdict),
	}
	setIf(props, "target", r.Target)
	setIf(props, "predicted", string(r.Predicted))
	setIf(props, "diagnosis", string(r.Diagnosis))
	setIf(props, "explanation", r.Explanation)
	if r.Attempts > 0 {
		props["attempts"] = strconv.Itoa(int(r.Attempts))
		props["latencyMilliseconds"] = strconv.Itoa(int(r.LatencyMilliseconds))
	}
	return orv1.ReportResult{
		Source: Source, Policy: test, Rule: r.Edge, Category: CategoryEdge,
		Severity: orv1.ResultSeverity(severity), Timestamp: at, Result: result, Scored: true,
		Description: r.Message, Properties: props,
	}
}

// Results and severities, as OpenReports spells them.
const (
	Pass  orv1.Result = "pass"
	Fail  orv1.Result = "fail"
	Error orv1.Result = "error"
	Skip  orv1.Result = "skip"

	SeverityHigh   = "high"
	SeverityMedium = "medium"
	SeverityLow    = "low"
	SeverityInfo   = "info"
)

// EdgeOutcome maps an edge's verdict to a result and a severity:
//   - Pass: pass, info.
//   - Fail of a Deny edge (it connected: an unexpected allow, a hole in the
//     segmentation): fail, high.
//   - Fail of an Allow edge (it was blocked: an unexpected deny, an outage): fail, medium.
//   - Inconclusive: error, low. The edge could not be judged: the probe could not run
//     (observed Error), nothing showed that a denied destination listens, or a Deny
//     edge's name did not resolve. The message says which, and what makes it conclusive.
func EdgeOutcome(r v1alpha1.EdgeResult) (orv1.Result, string) {
	switch r.Verdict {
	case v1alpha1.VerdictPass:
		return Pass, SeverityInfo
	case v1alpha1.VerdictFail:
		if r.Expected == v1alpha1.ExpectDeny {
			return Fail, SeverityHigh
		}
		return Fail, SeverityMedium
	}
	return Error, SeverityLow
}

// CanaryResults are the canary's findings, one result per condition it set: rule
// NetworkPolicyEnforced and, where it checked the admin tier, ClusterNetworkPolicyEnforced
// (edge names are lowercase, so neither can clash with an edge).
func CanaryResults(test string, status *v1alpha1.ReachabilityTestStatus, at metav1.Timestamp) []orv1.ReportResult {
	if status.Canary == nil {
		return nil
	}
	var results []orv1.ReportResult
	for _, typ := range []string{v1alpha1.ConditionNetworkPolicyEnforced, v1alpha1.ConditionClusterNetworkPolicyEnforced} {
		c := meta.FindStatusCondition(status.Conditions, typ)
		if c == nil {
			continue
		}
		result, severity := CanaryOutcome(c.Reason)
		props := map[string]string{"reason": c.Reason}
		if typ == v1alpha1.ConditionNetworkPolicyEnforced {
			props["ingress"], props["egress"] = string(status.Canary.Ingress), string(status.Canary.Egress)
			if ms := status.Canary.EnforcementLatencyMilliseconds; ms != nil {
				props["enforcementLatencyMilliseconds"] = strconv.Itoa(int(*ms))
			}
		}
		results = append(results, orv1.ReportResult{
			Source: Source, Policy: test, Rule: typ, Category: CategoryCanary,
			Severity: orv1.ResultSeverity(severity), Timestamp: at, Result: result, Scored: true,
			Description: c.Message, Properties: props,
		})
	}
	return results
}

// CanaryOutcome maps a canary finding to a result and a severity:
//   - Enforced: pass, info.
//   - NotEnforced, IngressNotEnforced, EgressNotEnforced, AdminTierNotEnforced,
//     BaselineTierNotEnforced (traffic the policies deny gets through, so every Deny of
//     that kind is a hole): fail, high.
//   - CanaryFailed (enforcement unknown): error, low.
//   - NotServed (the cluster has no ClusterNetworkPolicy to check): skip, info.
func CanaryOutcome(reason string) (orv1.Result, string) {
	switch reason {
	case v1alpha1.ReasonEnforced:
		return Pass, SeverityInfo
	case v1alpha1.ReasonNotServed:
		return Skip, SeverityInfo
	case v1alpha1.ReasonCanaryFailed:
		return Error, SeverityLow
	}
	return Fail, SeverityHigh
}

// MaxResultBytes bounds the results a report holds, well under the API server's limit
// on an object (etcd's 1.5 MiB): 2000 edges with long messages would pass it.
const MaxResultBytes = 1 << 20

// Fit keeps the results that fit in budget bytes of JSON: every result that is not a
// pass first, in order, then the passes. When some are left out it says how many it
// kept in the report's configuration (limits.maxResults); the summary still counts them
// all.
func Fit(results []orv1.ReportResult, budget int) ([]orv1.ReportResult, *orv1.ReportConfiguration) {
	size := make([]int, len(results))
	total := 0
	for i, r := range results {
		b, _ := json.Marshal(r)
		size[i] = len(b) + 1
		total += size[i]
	}
	if total <= budget {
		return results, nil
	}
	keep := make([]bool, len(results))
	used := 0
	for _, passes := range []bool{false, true} {
		for i, r := range results {
			if (r.Result == Pass) == passes && used+size[i] <= budget {
				keep[i], used = true, used+size[i]
			}
		}
	}
	var kept []orv1.ReportResult
	for i, r := range results {
		if keep[i] {
			kept = append(kept, r)
		}
	}
	return kept, &orv1.ReportConfiguration{Limits: orv1.Limits{MaxResults: len(kept)}}
}

// Summarize counts the results by outcome.
func Summarize(results []orv1.ReportResult) orv1.ReportSummary {
	var s orv1.ReportSummary
	for _, r := range results {
		switch r.Result {
		case Pass:
			s.Pass++
		case Fail:
			s.Fail++
		case Error:
			s.Error++
		case Skip:
			s.Skip++
		default:
			s.Warn++
		}
	}
	return s
}

// Trusted says why an existing report of the same name is not one the manager may
// replace for this test (nil when it may): its controller must be a ReachabilityTest of
// this name and it must carry the manager's label. The UID may differ: a test deleted
// and created again (as `netconform run` does on every run) finds its predecessor's
// report still waiting for garbage collection, and takes it over. Anything else was made
// by someone else, and is neither read nor overwritten.
func Trusted(existing *orv1.ClusterReport, test *v1alpha1.ReachabilityTest) error {
	owner := metav1.GetControllerOfNoCopy(existing)
	switch {
	case owner == nil || owner.Name != test.Name || owner.Kind != "ReachabilityTest" || owner.APIVersion != v1alpha1.GroupVersion.String():
		return fmt.Errorf("ClusterReport %s is not controlled by ReachabilityTest %s", existing.Name, test.Name)
	case existing.Labels[LabelManagedBy] != ManagedBy:
		return fmt.Errorf("ClusterReport %s lacks the label %s=%s", existing.Name, LabelManagedBy, ManagedBy)
	}
	return nil
}

// Current says whether an existing report already holds what want would write.
func Current(existing, want *orv1.ClusterReport) bool {
	return equality.Semantic.DeepEqual(existing.OwnerReferences, want.OwnerReferences) &&
		existing.Labels[LabelTestUID] == want.Labels[LabelTestUID] &&
		existing.Source == want.Source &&
		equality.Semantic.DeepEqual(existing.Scope, want.Scope) &&
		equality.Semantic.DeepEqual(existing.Configuration, want.Configuration) &&
		equality.Semantic.DeepEqual(existing.Summary, want.Summary) &&
		equality.Semantic.DeepEqual(existing.Results, want.Results)
}

func scopeOf(test *v1alpha1.ReachabilityTest) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ReachabilityTest", Name: test.Name, UID: test.UID}
}

func timestamp(seconds int64) metav1.Timestamp { return metav1.Timestamp{Seconds: seconds} }

func setIf(props map[string]string, key, value string) {
	if value != "" {
		props[key] = value
	}
}
