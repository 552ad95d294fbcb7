package probes

import (
	"fmt"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Listens tells whether the destination of a denied check is known to listen: without
// that, a Deny proves nothing, because a stopped server also refuses.
type Listens func(c Check, r Result) bool

// CheckVerdict compares one observation with what the edge expects.
func CheckVerdict(expect v1alpha1.Expectation, obs v1alpha1.Observation, listens bool) v1alpha1.Verdict {
	switch {
	case obs == v1alpha1.ObservedError:
		return v1alpha1.VerdictInconclusive
	case expect == v1alpha1.ExpectAllow && obs == v1alpha1.ObservedConnected:
		return v1alpha1.VerdictPass
	case expect == v1alpha1.ExpectAllow:
		return v1alpha1.VerdictFail
	case obs == v1alpha1.ObservedConnected:
		return v1alpha1.VerdictFail
	case !Denied(obs) || !listens:
		return v1alpha1.VerdictInconclusive
	}
	return v1alpha1.VerdictPass
}

// Outcome is what an observation says the dataplane did; a name that did not resolve
// was denied on the way to the name server. False for an error, which says nothing.
func Outcome(o v1alpha1.Observation) (v1alpha1.Expectation, bool) {
	switch {
	case o == v1alpha1.ObservedConnected:
		return v1alpha1.ExpectAllow, true
	case Denied(o) || o == v1alpha1.ObservedDNSFailure:
		return v1alpha1.ExpectDeny, true
	}
	return "", false
}

// Denied is true for the observations a Deny edge expects.
func Denied(obs v1alpha1.Observation) bool {
	return obs == v1alpha1.ObservedRefused || obs == v1alpha1.ObservedTimeout || obs == v1alpha1.ObservedUnreachable
}

// JudgeEdge decides an edge from the results of its checks (in the same order). The
// deciding check is the first that failed, else the first inconclusive one, else the first.
func JudgeEdge(edge v1alpha1.Edge, checks []Check, results []Result, listens Listens) v1alpha1.EdgeResult {
	if len(checks) == 0 || len(checks) != len(results) {
		const msg = "the run returned no result for this edge"
		return edgeResult(edge, Result{Observation: v1alpha1.ObservedError, Message: msg}, v1alpha1.VerdictInconclusive, msg)
	}
	decider, verdict := 0, v1alpha1.VerdictPass
	for i, r := range results {
		needsEvidence := edge.Expect == v1alpha1.ExpectDeny && Denied(r.Observation)
		v := CheckVerdict(edge.Expect, r.Observation, needsEvidence && listens(checks[i], r))
		if Severity(v) > Severity(verdict) {
			decider, verdict = i, v
		}
	}
	r := results[decider]
	msg := explain(edge.Expect, checks[decider], r, verdict)
	if len(checks) > 1 {
		msg = fmt.Sprintf("%d checks (one per ready pod), deciding %d: %s", len(checks), decider+1, msg)
	}
	return edgeResult(edge, r, verdict, msg)
}

// UnprobedEdge is the result of an edge decided without a probe.
func UnprobedEdge(edge v1alpha1.Edge, r Result) v1alpha1.EdgeResult {
	return edgeResult(edge, r, v1alpha1.VerdictInconclusive, r.Message)
}

// Severity orders verdicts from best (Pass) to worst (Fail).
func Severity(v v1alpha1.Verdict) int {
	switch v {
	case v1alpha1.VerdictFail:
		return 2
	case v1alpha1.VerdictInconclusive:
		return 1
	}
	return 0
}

func edgeResult(edge v1alpha1.Edge, r Result, verdict v1alpha1.Verdict, msg string) v1alpha1.EdgeResult {
	return v1alpha1.EdgeResult{
		Edge:                edge.Name,
		Expected:            edge.Expect,
		Observed:            r.Observation,
		Verdict:             verdict,
		Attempts:            int32(r.Attempts),
		Target:              r.Target,
		LatencyMilliseconds: int32(r.Latency.Milliseconds()),
		Message:             truncate(msg, 1024),
	}
}

func explain(expect v1alpha1.Expectation, c Check, r Result, verdict v1alpha1.Verdict) string {
	what := describe(c, r)
	switch {
	case verdict == v1alpha1.VerdictPass:
		return what
	case r.Observation == v1alpha1.ObservedError:
		return "the probe could not run: " + what
	case expect == v1alpha1.ExpectDeny && r.Observation == v1alpha1.ObservedConnected:
		return what + ": unexpected allow, traffic the edge expects to be denied got through"
	case expect == v1alpha1.ExpectAllow:
		return what + ": unexpected deny, traffic the edge expects to be allowed was blocked"
	case r.Observation == v1alpha1.ObservedDNSFailure:
		return what + ": the name did not resolve, so the Deny was never put to the test"
	}
	return what + ": denied, but nothing shows that the destination listens (no other check of this run connected to it and it has no ready endpoint for the port); a stopped server also denies"
}

func describe(c Check, r Result) string {
	target := r.Target
	if target == "" {
		target = c.Address()
	}
	if r.Message != "" {
		return fmt.Sprintf("%s %s: %s", r.Observation, target, r.Message)
	}
	return fmt.Sprintf("%s %s", r.Observation, target)
}
