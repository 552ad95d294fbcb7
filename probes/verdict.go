package probes

import (
	"fmt"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Listens returns the evidence that the destination of a denied check listens, in words
// for the result's message, and false when nothing shows it: without that evidence a
// Deny proves nothing, because a stopped server also refuses.
type Listens func(c Check, r Result) (evidence string, ok bool)

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
	evidence := make([]string, len(results))
	for i, r := range results {
		ok := false
		if edge.Expect == v1alpha1.ExpectDeny && Denied(r.Observation) {
			evidence[i], ok = listens(checks[i], r)
		}
		v := CheckVerdict(edge.Expect, r.Observation, ok)
		if Severity(v) > Severity(verdict) {
			decider, verdict = i, v
		}
	}
	r := results[decider]
	msg := explain(edge, checks[decider], r, verdict, evidence[decider])
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

func explain(edge v1alpha1.Edge, c Check, r Result, verdict v1alpha1.Verdict, evidence string) string {
	what := describe(c, r)
	expect := edge.Expect
	switch {
	case verdict == v1alpha1.VerdictPass && evidence != "":
		return what + "; the destination listens: " + evidence
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
	return what + ": " + notShownListening(edge.To, c, r)
}

// notShownListening says, of a denied check, what was looked for to show that its
// destination listens, and the user's next step to make the Deny conclusive.
func notShownListening(to v1alpha1.Destination, c Check, r Result) string {
	const denied = "denied, but nothing shows that the destination listens"
	addr := r.Target
	if addr == "" {
		addr = c.Address()
	}
	switch {
	case c.Kind == KindUDP:
		endpoints := ""
		if to.Service != nil || to.Pods != nil {
			endpoints = ", or ready endpoints of a Service for that UDP port,"
		}
		return fmt.Sprintf("%s: kubelet probes do not speak UDP, so only a reply from %s to another check of this run%s would show it; a stopped server is as silent as a denied one. To make it conclusive, add an Allow edge over UDP to the same address and port in this test", denied, addr, endpoints)
	case c.Kind == KindDNS:
		return fmt.Sprintf("%s (no other look-up of this run got an answer from %s); a stopped name server also denies. To make it conclusive, add an Allow dns edge, resolved through the same name server, in this test", denied, addr)
	case to.Pods != nil:
		return fmt.Sprintf("%s (no other check of this run connected to it, it is no ready endpoint of a Service for the port, and no kubelet probe shows the pod serving port %d); a stopped server also denies. To make it conclusive, give the pod a readiness probe (tcpSocket, httpGet or grpc) on port %d, put a Service with ready endpoints in front of it, or add an Allow edge to %s in this test", denied, c.Port, c.Port, addr)
	case to.Service != nil:
		return fmt.Sprintf("%s (no other check of this run connected to it and the Service has no ready endpoint for the port); a stopped server also denies. To make it conclusive, give the Service's pods a readiness probe on the port they serve, so that it has ready endpoints, or add an Allow edge to the same Service port in this test", denied)
	}
	return fmt.Sprintf("%s (no other check of this run connected to it); a stopped server also denies. To make it conclusive, add an Allow edge to %s in this test", denied, addr)
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

// Summarize counts the verdicts of a run's edges.
func Summarize(results []v1alpha1.EdgeResult) v1alpha1.Summary {
	s := v1alpha1.Summary{Edges: int32(len(results))}
	for _, r := range results {
		switch r.Verdict {
		case v1alpha1.VerdictPass:
			s.Passed++
		case v1alpha1.VerdictFail:
			s.Failed++
		default:
			s.Inconclusive++
		}
	}
	return s
}
