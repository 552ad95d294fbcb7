// Package report renders completed ReachabilityTests for people and for CI systems: a
// truth table of sources × destinations for a terminal, markdown for a job summary, JSON,
// and JUnit XML.
package report

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/logsafe"
)

// test is what every format renders: a ReachabilityTest's edges in declared order, each
// with its result, and counts computed from those results so that they always agree.
type test struct {
	name       string
	edges      []edge
	summary    v1alpha1.Summary
	start, end *metav1.Time
	// canary is nil for a test without one.
	canary *canaryResult
}

// edge is a declared edge, its result, and the labels of its row and column.
type edge struct {
	v1alpha1.Edge
	result       v1alpha1.EdgeResult
	outcome      outcome
	source, dest string
}

// noResult stands in for an edge the status has no result for (the run did not finish,
// or the spec changed since): the gate must not pass on it.
const noResult = "no result for this edge: its run did not complete"

// newTest is where the text of a test enters the report: everything the cluster holds
// (names, labels, targets, messages) is escaped here, once, for every format, so that a
// hostile message cannot write to a terminal or a CI log (see logsafe).
func newTest(rt v1alpha1.ReachabilityTest) test {
	results := make(map[string]v1alpha1.EdgeResult, len(rt.Status.Results))
	for _, r := range rt.Status.Results {
		results[r.Edge] = r
	}
	t := test{name: logsafe.Text(rt.Name), start: rt.Status.LastRunStartTime, end: rt.Status.LastRunCompletionTime, canary: newCanaryResult(rt)}
	for _, e := range rt.Spec.Edges {
		r, ok := results[e.Name]
		if !ok {
			r = v1alpha1.EdgeResult{Edge: e.Name, Expected: e.Expect, Verdict: v1alpha1.VerdictInconclusive, Message: noResult}
		}
		r = safeResult(r)
		source, dest := logsafe.Text(sourceLabel(e.From)), logsafe.Text(destLabel(e))
		e.Name = logsafe.Text(e.Name)
		t.edges = append(t.edges, edge{Edge: e, result: r, outcome: outcomeOf(r), source: source, dest: dest})
		t.count(r.Verdict)
	}
	return t
}

// safeResult is a result with every text escaped; its enums too, which the status does
// not guarantee. A message's line breaks (API errors have them) read better as spaces.
func safeResult(r v1alpha1.EdgeResult) v1alpha1.EdgeResult {
	r.Edge, r.Target = logsafe.Text(r.Edge), logsafe.Text(r.Target)
	r.Message, r.Explanation = logsafe.Text(oneLine(r.Message)), logsafe.Text(oneLine(r.Explanation))
	r.Expected = v1alpha1.Expectation(logsafe.Text(string(r.Expected)))
	r.Observed = v1alpha1.Observation(logsafe.Text(string(r.Observed)))
	r.Verdict = v1alpha1.Verdict(logsafe.Text(string(r.Verdict)))
	r.Diagnosis = v1alpha1.Diagnosis(logsafe.Text(string(r.Diagnosis)))
	r.Predicted = v1alpha1.Expectation(logsafe.Text(string(r.Predicted)))
	nodes := make([]string, len(r.FailingNodes))
	for i, n := range r.FailingNodes {
		nodes[i] = logsafe.Text(n)
	}
	r.FailingNodes = nodes
	return r
}

func (t *test) count(v v1alpha1.Verdict) {
	t.summary.Edges++
	switch v {
	case v1alpha1.VerdictPass:
		t.summary.Passed++
	case v1alpha1.VerdictFail:
		t.summary.Failed++
	default:
		t.summary.Inconclusive++
	}
}

func newTests(rts []v1alpha1.ReachabilityTest) []test {
	out := make([]test, 0, len(rts))
	for _, rt := range rts {
		out = append(out, newTest(rt))
	}
	return out
}

// passed needs something checked (an edge or a canary), every edge passed, and the
// canary, if any, to have found NetworkPolicy enforced.
func (t test) passed() bool {
	return (t.summary.Edges > 0 || t.canary != nil) && t.summary.Passed == t.summary.Edges && t.canary.enforced()
}

// status is the test's verdict in one word.
func (t test) status() string {
	switch {
	case t.passed():
		return "PASSED"
	case t.summary.Failed > 0 || t.canary.failed():
		return "FAILED"
	}
	return "INCONCLUSIVE"
}

// duration of the run; false when the status lacks its times.
func (t test) duration() (time.Duration, bool) {
	if t.start == nil || t.end == nil {
		return 0, false
	}
	return t.end.Sub(t.start.Time), true
}

// headline reads "FAILED: 9 edges, 5 passed, 2 failed, 2 inconclusive, in 14s".
func (t test) headline() string {
	s := t.summary
	line := fmt.Sprintf("%s: %d edges, %d passed, %d failed, %d inconclusive", t.status(), s.Edges, s.Passed, s.Failed, s.Inconclusive)
	if t.canary != nil {
		line += ", " + t.canary.summary()
	}
	if d, ok := t.duration(); ok {
		line += ", in " + d.Round(100*time.Millisecond).String()
	}
	return line
}

// problems are the edges that did not pass, in declared order.
func (t test) problems() []edge {
	var out []edge
	for _, e := range t.edges {
		if e.result.Verdict != v1alpha1.VerdictPass {
			out = append(out, e)
		}
	}
	return out
}

func allPassed(tests []test) bool {
	for _, t := range tests {
		if !t.passed() {
			return false
		}
	}
	return len(tests) > 0
}

// outcome is what a cell of the truth table shows.
type outcome int

const (
	noEdge outcome = iota
	allowedAsExpected
	deniedAsExpected
	inconclusive
	unexpectedDeny  // an outage
	unexpectedAllow // a security hole, the worst
)

func outcomeOf(r v1alpha1.EdgeResult) outcome {
	switch {
	case r.Verdict == v1alpha1.VerdictPass && r.Expected == v1alpha1.ExpectAllow:
		return allowedAsExpected
	case r.Verdict == v1alpha1.VerdictPass:
		return deniedAsExpected
	case r.Verdict == v1alpha1.VerdictFail && r.Expected == v1alpha1.ExpectDeny:
		return unexpectedAllow
	case r.Verdict == v1alpha1.VerdictFail:
		return unexpectedDeny
	}
	return inconclusive
}

func (o outcome) mark() string {
	return [...]string{".", "✓", "✗", "?", "B!", "X!"}[o]
}

// mismatch names a failure for machines (JUnit failure type, JSON).
func (o outcome) mismatch() string {
	switch o {
	case unexpectedAllow:
		return "UnexpectedAllow"
	case unexpectedDeny:
		return "UnexpectedDeny"
	case inconclusive:
		return "Inconclusive"
	}
	return ""
}

// legend explains the marks, worst last, as every format prints it.
var legend = []struct{ mark, meaning string }{
	{"✓", "allowed, as expected"},
	{"✗", "denied, as expected"},
	{"X!", "allowed, expected Deny"},
	{"B!", "blocked, expected Allow"},
	{"?", "inconclusive"},
	{".", "no edge"},
}

// matrix is the truth table: rows are sources, columns destinations, both in the order
// the edges first name them.
type matrix struct {
	rows, cols []string
	cells      [][]outcome
}

func newMatrix(edges []edge) matrix {
	var m matrix
	for _, e := range edges {
		if !slices.Contains(m.rows, e.source) {
			m.rows = append(m.rows, e.source)
		}
		if !slices.Contains(m.cols, e.dest) {
			m.cols = append(m.cols, e.dest)
		}
	}
	m.cells = make([][]outcome, len(m.rows))
	for i := range m.cells {
		m.cells[i] = make([]outcome, len(m.cols))
	}
	for _, e := range edges {
		cell := &m.cells[slices.Index(m.rows, e.source)][slices.Index(m.cols, e.dest)]
		*cell = max(*cell, e.outcome) // edges sharing a cell: the worst shows
	}
	return m
}

// column is a destination's short header: D1, D2, ...
func column(i int) string {
	return "D" + strconv.Itoa(i+1)
}

func sourceLabel(s v1alpha1.Source) string {
	l := s.Namespace + "/" + labels(s.PodLabels)
	if s.ServiceAccountName != "" {
		l += " sa:" + s.ServiceAccountName
	}
	switch n := s.Nodes; {
	case n == nil:
	case n.Selector != nil:
		l += " nodes:" + labels(n.Selector.MatchLabels)
	default:
		l += " nodes:all"
	}
	return l
}

func destLabel(e v1alpha1.Edge) string {
	var l string
	switch to := e.To; {
	case to.Service != nil:
		l = fmt.Sprintf("svc %s/%s:%s", to.Service.Namespace, to.Service.Name, to.Service.Port.String())
	case to.Pods != nil:
		l = fmt.Sprintf("pods %s/%s:%s", to.Pods.Namespace, labels(to.Pods.PodLabels), to.Pods.Port.String())
	case to.Host != nil:
		l = "host " + net.JoinHostPort(to.Host.Host, strconv.Itoa(int(to.Host.Port))) // brackets an IPv6 address
	case to.DNS != nil:
		l = "dns " + to.DNS.Name
	}
	if e.Protocol == v1alpha1.ProtocolUDP {
		l += "/UDP"
	}
	return l
}

func labels(m map[string]string) string {
	if len(m) == 0 {
		return "(no labels)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// problemLine reads "FAIL edge: expected Deny, observed Connected (10.96.0.5:5432/TCP): message".
func problemLine(e edge) string {
	r := e.result
	word := "FAIL"
	if r.Verdict != v1alpha1.VerdictFail {
		word = "INCONCLUSIVE"
	}
	return fmt.Sprintf("%s %s: %s", word, e.Name, observation(r))
}

// observation reads "expected Deny, observed Connected (10.96.0.5:5432/TCP): message".
func observation(r v1alpha1.EdgeResult) string {
	s := "expected " + string(r.Expected)
	if r.Observed != "" {
		s += ", observed " + string(r.Observed)
	}
	if r.Target != "" {
		s += " (" + r.Target + ")"
	}
	s += onNodes(r)
	if r.Message != "" {
		s += ": " + r.Message
	}
	if r.Diagnosis != "" {
		s += fmt.Sprintf(" [%s: the policies say %s: %s]", r.Diagnosis, r.Predicted, r.Explanation)
	}
	return s
}

// onNodes reads " on nodes b, c of 3" for an edge checked from nodes that did not pass
// on some; empty otherwise.
func onNodes(r v1alpha1.EdgeResult) string {
	if len(r.FailingNodes) == 0 {
		return ""
	}
	more := ""
	if n := int(r.Nodes) - len(r.FailingNodes); n > 0 {
		more = fmt.Sprintf(" of %d", r.Nodes)
	}
	return " on nodes " + strings.Join(r.FailingNodes, ", ") + more
}

// oneLine joins the lines and words of s with single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
