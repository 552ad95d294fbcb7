package report

import (
	"encoding/xml"
	"fmt"
	"io"
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
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
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
	jc := junitCase{Classname: "netconform." + testName, Name: "enforcement-canary"}
	if c.enforced() {
		return jc
	}
	p := &junitProblem{Type: c.Reason, Message: c.summary(), Text: c.Message}
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
		Classname: "netconform." + testName,
		Name:      e.Name,
		Time:      seconds(time.Duration(r.LatencyMilliseconds) * time.Millisecond),
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
	return xmlText(strings.Join(lines, "\n"))
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
