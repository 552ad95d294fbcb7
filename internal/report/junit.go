package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// The JUnit XML schema as Jenkins, GitLab and GitHub test reporters read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string `xml:"classname,attr"`
	Name      string `xml:"name,attr"`
	Time      string `xml:"time,attr"`
	// Properties carry the whole result, of a passing case too, first as pytest
	// writes them, for the GitLab, Jenkins and GitHub reporters.
	Properties *junitProperties `xml:"properties,omitempty"`
	Failure    *junitProblem    `xml:"failure,omitempty"`
	Error      *junitProblem    `xml:"error,omitempty"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// properties are the pairs whose value is not empty, in the order given.
func properties(pairs ...string) *junitProperties {
	var ps junitProperties
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			ps.Property = append(ps.Property, junitProperty{Name: pairs[i], Value: xmlText(pairs[i+1])})
		}
	}
	if len(ps.Property) == 0 {
		return nil
	}
	return &ps
}

// junitProblem's text is CDATA, so that its lines stay lines for whoever opens the file.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// JUnit writes JUnit XML: a testsuite per ReachabilityTest and a testcase per edge. A
// failed edge is a failure of type UnexpectedAllow or UnexpectedDeny, an inconclusive
// one an error of type Inconclusive: it could not be judged, which is not the same as
// judged wrong.
func JUnit(w io.Writer, tests []v1alpha1.ReachabilityTest) error {
	doc := junitSuites{Name: "netconform"}
	var total time.Duration
	for _, t := range newTests(tests) {
		s := newJUnitSuite(t)
		doc.Suites = append(doc.Suites, s)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		if d, ok := t.duration(); ok {
			total += d
		}
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func newJUnitSuite(t test) junitSuite {
	s := junitSuite{Name: t.name, Tests: len(t.edges), Failures: int(t.summary.Failed), Errors: int(t.summary.Inconclusive)}
	d, _ := t.duration()
	s.Time = seconds(d)
	if t.start != nil {
		s.Timestamp = t.start.UTC().Format(time.RFC3339)
	}
	for _, e := range t.edges {
		s.Cases = append(s.Cases, newJUnitCase(t.name, e))
	}
	if t.canary != nil {
		c := newJUnitCanaryCase(t.name, t.canary)
		s.Cases = append(s.Cases, c)
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
	}
	return s
}

// newJUnitCanaryCase is the canary as one case: a failure when the dataplane does not
// enforce, an error when the canary could not tell.
func newJUnitCanaryCase(testName string, c *canaryResult) junitCase {
	jc := junitCase{Classname: "netconform." + testName, Name: "enforcement-canary", Properties: canaryProperties(c)}
	if c.enforced() {
		return jc
	}
	p := &junitProblem{Type: c.Reason, Message: c.summary(), Text: xmlText(strings.Join(append([]string{c.Message}, phaseLines(c.Status)...), "\n"))}
	if c.failed() {
		jc.Failure = p
	} else {
		jc.Error = p
	}
	return jc
}

func newJUnitCase(testName string, e edge) junitCase {
	r := e.result
	c := junitCase{
		Classname:  "netconform." + testName,
		Name:       e.Name,
		Time:       seconds(time.Duration(r.LatencyMilliseconds) * time.Millisecond),
		Properties: edgeProperties(r),
	}
	if r.Verdict == v1alpha1.VerdictPass {
		return c
	}
	p := &junitProblem{Type: e.outcome.mismatch(), Message: "expected " + string(r.Expected), Text: junitText(e)}
	if r.Observed != "" {
		p.Message += ", observed " + string(r.Observed)
	}
	p.Message += onNodes(r)
	if r.Verdict == v1alpha1.VerdictFail {
		c.Failure = p
	} else {
		c.Error = p
	}
	return c
}

// junitText is what a CI system shows when the case is opened.
func junitText(e edge) string {
	r := e.result
	lines := []string{
		"from: " + e.source,
		"to: " + e.dest,
		fmt.Sprintf("expected: %s, observed: %s, verdict: %s", r.Expected, orNone(string(r.Observed)), r.Verdict),
	}
	if r.Target != "" {
		lines = append(lines, fmt.Sprintf("target: %s, attempts: %d, last attempt: %dms", r.Target, r.Attempts, r.LatencyMilliseconds))
	}
	if len(r.FailingNodes) > 0 {
		lines = append(lines, fmt.Sprintf("failing nodes: %s (of %d checked)", strings.Join(r.FailingNodes, ", "), r.Nodes))
	}
	if r.Message != "" {
		lines = append(lines, r.Message)
	}
	if r.Predicted != "" || r.Diagnosis != "" {
		lines = append(lines, fmt.Sprintf("predicted: %s, diagnosis: %s", orNone(string(r.Predicted)), orNone(string(r.Diagnosis))))
	}
	if r.Explanation != "" {
		lines = append(lines, "explanation: "+r.Explanation)
	}
	return xmlText(strings.Join(lines, "\n"))
}

// edgeProperties are an edge's whole result.
func edgeProperties(r v1alpha1.EdgeResult) *junitProperties {
	attempts := ""
	if r.Attempts > 0 {
		attempts = strconv.Itoa(int(r.Attempts))
	}
	return properties("expected", string(r.Expected), "observed", string(r.Observed), "verdict", string(r.Verdict),
		"target", r.Target, "attempts", attempts, "message", r.Message,
		"predicted", string(r.Predicted), "diagnosis", string(r.Diagnosis), "explanation", r.Explanation)
}

// canaryProperties are the canary's whole finding: its reason, each direction, the
// latency, each phase and the ClusterNetworkPolicy tiers.
func canaryProperties(c *canaryResult) *junitProperties {
	pairs := []string{"reason", c.Reason, "message", c.Message}
	if s := c.Status; s != nil {
		pairs = append(pairs, "ingress", string(s.Ingress), "egress", string(s.Egress),
			"enforcementLatencyMilliseconds", milliseconds(s.EnforcementLatencyMilliseconds))
		for _, p := range s.Phases {
			pairs = append(pairs, "phase."+p.Name, phaseText(p))
		}
		if a := s.AdminTier; a != nil {
			pairs = append(pairs, "adminTier.admin", string(a.Admin), "adminTier.baseline", string(a.Baseline),
				"adminTier.enforcementLatencyMilliseconds", milliseconds(a.EnforcementLatencyMilliseconds))
		}
	}
	return properties(pairs...)
}

// phaseLines read "phase Denied: expected Deny, observed Connected: message".
func phaseLines(s *v1alpha1.CanaryStatus) []string {
	if s == nil {
		return nil
	}
	var lines []string
	for _, p := range s.Phases {
		lines = append(lines, "phase "+p.Name+": "+phaseText(p))
	}
	return lines
}

func phaseText(p v1alpha1.CanaryPhase) string {
	s := fmt.Sprintf("expected %s, observed %s", p.Expected, orNone(string(p.Observed)))
	if p.Message != "" {
		s += ": " + p.Message
	}
	return s
}

func milliseconds(ms *int32) string {
	if ms == nil {
		return ""
	}
	return strconv.Itoa(int(*ms))
}

// xmlText drops what XML 1.0 cannot carry at all (most control characters), which
// encoding/xml passes through in CDATA.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000 {
			return r
		}
		return -1
	}, s)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
