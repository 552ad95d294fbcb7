package controllers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/schedule"
	"github.com/netconform/netconform/probes"
)

// startRunStatus records a new run on the status: Completed turns False until it ends;
// the results of the previous run stay visible meanwhile.
func startRunStatus(status *v1alpha1.ReachabilityTestStatus, run v1alpha1.Run) {
	status.ActiveRun = &run
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               v1alpha1.ConditionCompleted,
		Status:             metav1.ConditionFalse,
		ObservedGeneration: run.Generation,
		Reason:             v1alpha1.ReasonRunning,
		Message:            fmt.Sprintf("Run %s is checking generation %d", run.ID, run.Generation),
	})
	if meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionPassed) == nil {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type:               v1alpha1.ConditionPassed,
			Status:             metav1.ConditionUnknown,
			ObservedGeneration: run.Generation,
			Reason:             v1alpha1.ReasonNoRunYet,
			Message:            "No run has completed yet",
		})
	}
}

// invalidScheduleStatus records that the test cannot run by its schedule: Completed
// turns False with the reason, and no next run time is shown. It says whether the
// status changed.
func invalidScheduleStatus(status *v1alpha1.ReachabilityTestStatus, generation int64, msg string) bool {
	cleared := status.NextRunTime != nil
	status.NextRunTime = nil
	return meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               v1alpha1.ConditionCompleted,
		Status:             metav1.ConditionFalse,
		ObservedGeneration: generation,
		Reason:             v1alpha1.ReasonInvalidSchedule,
		Message:            truncateMessage(msg),
	}) || cleared
}

// completeRunStatus records the results of a finished run.
func completeRunStatus(status *v1alpha1.ReachabilityTestStatus, run v1alpha1.Run, results []v1alpha1.EdgeResult, now metav1.Time) {
	summary := probes.Summarize(results)
	status.ActiveRun = nil
	status.ObservedGeneration = run.Generation
	status.Results = results
	status.Summary = &summary
	status.LastRunStartTime = run.StartTime.DeepCopy()
	status.LastRunCompletionTime = now.DeepCopy()
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               v1alpha1.ConditionCompleted,
		Status:             metav1.ConditionTrue,
		ObservedGeneration: run.Generation,
		Reason:             v1alpha1.ReasonRunCompleted,
		Message:            fmt.Sprintf("Run %s checked %d edges in %s", run.ID, summary.Edges, now.Sub(run.StartTime.Time).Round(10e6)),
	})
	meta.SetStatusCondition(&status.Conditions, passedCondition(summary, results, run.Generation))
}

// recordPredictionsComplete says whether the run's predictions could read every policy
// kind that may affect the edges, given the namespaces they have an end in; without a
// view of the cluster (it could not be read) the condition is left as it was.
func recordPredictionsComplete(status *v1alpha1.ReachabilityTestStatus, cluster *netpol.Cluster, namespaces []string, generation int64) {
	if cluster == nil {
		return
	}
	c := metav1.Condition{
		Type: v1alpha1.ConditionPredictionsComplete, Status: metav1.ConditionTrue, ObservedGeneration: generation,
		Reason: v1alpha1.ReasonAllPoliciesRead, Message: "The model read every policy kind that may affect the edges",
	}
	if found := policykinds.Affecting(cluster.Unreadable, namespaces); len(found) > 0 {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonUnreadablePolicies
		c.Message = truncateMessage(policykinds.Summary(found))
	}
	meta.SetStatusCondition(&status.Conditions, c)
}

// recordCanary publishes the canary's finding: NetworkPolicyEnforced, and Passed turns
// False when the edges passed on a dataplane that does not (fully) enforce policy.
func recordCanary(status *v1alpha1.ReachabilityTestStatus, finding *canary.Finding, generation int64) {
	if finding == nil {
		status.Canary = nil
		meta.RemoveStatusCondition(&status.Conditions, v1alpha1.ConditionNetworkPolicyEnforced)
		meta.RemoveStatusCondition(&status.Conditions, v1alpha1.ConditionClusterNetworkPolicyEnforced)
		return
	}
	status.Canary = finding.Status.DeepCopy()
	meta.SetStatusCondition(&status.Conditions, enforcedCondition(v1alpha1.ConditionNetworkPolicyEnforced, finding.Reason, finding.Message, generation))
	recordAdminTier(status, finding.AdminTier, generation)
	passed := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionPassed)
	switch {
	case passed.Status != metav1.ConditionTrue:
	case !finding.Enforced():
		passed.Status, passed.Reason = metav1.ConditionFalse, v1alpha1.ReasonCanaryNotEnforced
		passed.Message = truncateMessage(passed.Message + ", but the canary found: " + finding.Message)
	case status.Summary.Edges == 0:
		passed.Message = "The canary found NetworkPolicy enforced; the test has no edges"
	}
}

// recordAdminTier publishes the canary's finding on ClusterNetworkPolicy. It leaves
// Passed alone: the admin tier is optional, and a cluster that does not implement it
// may well enforce every policy its workloads rely on.
func recordAdminTier(status *v1alpha1.ReachabilityTestStatus, finding *canary.AdminTierFinding, generation int64) {
	if finding == nil {
		meta.RemoveStatusCondition(&status.Conditions, v1alpha1.ConditionClusterNetworkPolicyEnforced)
		return
	}
	meta.SetStatusCondition(&status.Conditions, enforcedCondition(v1alpha1.ConditionClusterNetworkPolicyEnforced, finding.Reason, finding.Message, generation))
}

// enforcedCondition is a canary finding as a condition: True when enforced, Unknown
// when the canary could not tell, False otherwise.
func enforcedCondition(kind, reason, message string, generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	switch reason {
	case v1alpha1.ReasonEnforced:
		status = metav1.ConditionTrue
	case v1alpha1.ReasonCanaryFailed, v1alpha1.ReasonNotServed:
		status = metav1.ConditionUnknown
	}
	return metav1.Condition{Type: kind, Status: status, ObservedGeneration: generation, Reason: reason, Message: truncateMessage(message)}
}

func passedCondition(s v1alpha1.Summary, results []v1alpha1.EdgeResult, generation int64) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionPassed, ObservedGeneration: generation}
	switch {
	case s.Failed > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonEdgesFailed
		c.Message = fmt.Sprintf("%d of %d edges failed: %s", s.Failed, s.Edges, edgeNames(results, v1alpha1.VerdictFail))
	case s.Inconclusive > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonEdgesInconclusive
		c.Message = fmt.Sprintf("%d of %d edges are inconclusive: %s", s.Inconclusive, s.Edges, edgeNames(results, v1alpha1.VerdictInconclusive))
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonAllEdgesPassed
		c.Message = fmt.Sprintf("All %d edges passed", s.Edges)
	}
	return c
}

// edgeNames lists the edges with a verdict, for messages people read.
func edgeNames(results []v1alpha1.EdgeResult, v v1alpha1.Verdict) string {
	var names []string
	for _, r := range results {
		if r.Verdict == v {
			names = append(names, r.Edge)
		}
	}
	return listNames(names)
}

// listNames joins at most ten names, saying how many more there are.
func listNames(names []string) string {
	const shown = 10
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:shown], ", ") + fmt.Sprintf(" and %d more", len(names)-shown)
}

// truncateMessage keeps a status message within the API's 1024 bytes.
func truncateMessage(s string) string {
	if len(s) <= 1024 {
		return s
	}
	return strings.ToValidUTF8(s[:1021], "") + "..."
}

// verdictChange is an edge whose verdict moved between two runs.
type verdictChange struct {
	Edge string
	// Regressed is true when the verdict got worse: Pass to Inconclusive or Fail, or
	// Inconclusive to Fail. Otherwise the edge improved.
	Regressed bool
	Before    v1alpha1.Verdict
	Now       v1alpha1.EdgeResult
}

// verdictChanges compares a run's results with the previous run's, edge by edge.
func verdictChanges(before, now []v1alpha1.EdgeResult) []verdictChange {
	prev := make(map[string]v1alpha1.Verdict, len(before))
	for _, r := range before {
		prev[r.Edge] = r.Verdict
	}
	var changes []verdictChange
	for _, r := range now {
		was, ok := prev[r.Edge]
		if !ok || was == r.Verdict {
			continue
		}
		changes = append(changes, verdictChange{Edge: r.Edge, Regressed: probes.Severity(r.Verdict) > probes.Severity(was), Before: was, Now: r})
	}
	return changes
}

// nextRunTime is when a scheduled test runs next: the schedule's first time after the
// last run started (so a restarted manager neither skips nor doubles a run). Nil when
// the test is suspended, has no schedule, or has not run yet.
func nextRunTime(test *v1alpha1.ReachabilityTest, events events.EventRecorder) *metav1.Time {
	last := test.Status.LastRunStartTime
	if suspended(test) || test.Spec.Schedule == "" || last == nil {
		return nil
	}
	next, err := schedule.Next(test.Spec.Schedule, last.Time)
	if err != nil {
		events.Eventf(test, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSchedule, "Schedule", "spec.schedule: %v", err)
		return nil
	}
	t := metav1.NewTime(next.Truncate(time.Second)) // as the API stores it
	return &t
}

func suspended(test *v1alpha1.ReachabilityTest) bool {
	return test.Spec.Suspend != nil && *test.Spec.Suspend
}

// predictionFlip is an edge whose prediction a change to the cluster flipped.
type predictionFlip struct {
	Edge        string
	Expected    v1alpha1.Expectation
	Before, Now v1alpha1.Expectation
	Explanation string
}

// unsettledNow explains a prediction the model can no longer make before a run.
const unsettledNow = "the policies no longer settle it before a probe pod exists (a rule that admits by address, a name only the probe resolves, or a destination with no ready pod); the run that follows predicts it again"

// message says what flipped, after what, and that a run follows.
func (f predictionFlip) message(after string) string {
	if f.Now == "" {
		return fmt.Sprintf("Edge %s (expected %s), predicted %s, cannot be predicted after %s: %s", f.Edge, f.Expected, f.Before, after, f.Explanation)
	}
	return fmt.Sprintf("Edge %s (expected %s) went from predicted %s to predicted %s after %s; a run follows to confirm it: %s",
		f.Edge, f.Expected, f.Before, f.Now, after, f.Explanation)
}

// predictionFlips compares each result's prediction with what predict says now. A flip
// between Allow and Deny counts, and so does a prediction the model cannot make now (""):
// kept, it would be shown as current when nothing shows it still holds. An edge that had
// no prediction waits for the run.
func predictionFlips(results []v1alpha1.EdgeResult, predict func(edge string) (v1alpha1.Expectation, string)) []predictionFlip {
	var flips []predictionFlip
	for _, r := range results {
		if r.Predicted == "" {
			continue
		}
		now, why := predict(r.Edge)
		if now == r.Predicted {
			continue
		}
		if now == "" {
			why = unsettledNow
		}
		flips = append(flips, predictionFlip{Edge: r.Edge, Expected: r.Expected, Before: r.Predicted, Now: now, Explanation: why})
	}
	return flips
}

// applyPredictionFlips records the flipped predictions on the results. The diagnosis
// compared the old prediction with the last run's observation: it waits for the run
// that follows.
func applyPredictionFlips(status *v1alpha1.ReachabilityTestStatus, flips []predictionFlip) {
	byEdge := make(map[string]predictionFlip, len(flips))
	for _, f := range flips {
		byEdge[f.Edge] = f
	}
	for i := range status.Results {
		f, ok := byEdge[status.Results[i].Edge]
		if !ok {
			continue
		}
		status.Results[i].Predicted = f.Now
		status.Results[i].Explanation = truncateMessage(f.Explanation)
		status.Results[i].Diagnosis = ""
	}
}
