package report

import (
	"encoding/json"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

// jsonReport is the document JSON writes. Its fields are a contract for scripts: add,
// never rename.
type jsonReport struct {
	// Passed is true when there are tests, every edge of every test passed and every
	// canary found NetworkPolicy enforced.
	Passed bool       `json:"passed"`
	Tests  []jsonTest `json:"tests"`
}

type jsonTest struct {
	Name            string           `json:"name"`
	Passed          bool             `json:"passed"`
	Summary         v1alpha1.Summary `json:"summary"`
	StartTime       *metav1.Time     `json:"startTime,omitempty"`
	CompletionTime  *metav1.Time     `json:"completionTime,omitempty"`
	DurationSeconds *float64         `json:"durationSeconds,omitempty"`
	Results         []jsonResult     `json:"results"`
	Canary          *jsonCanary      `json:"canary,omitempty"`
}

// jsonCanary is the enforcement canary's finding.
type jsonCanary struct {
	// Reason is Enforced, NotEnforced, IngressNotEnforced, EgressNotEnforced or
	// CanaryFailed; empty when the canary has no result.
	Reason                         string `json:"reason,omitempty"`
	Message                        string `json:"message"`
	Ingress                        string `json:"ingress,omitempty"`
	Egress                         string `json:"egress,omitempty"`
	EnforcementLatencyMilliseconds *int32 `json:"enforcementLatencyMilliseconds,omitempty"`
	// Phases are the canary's steps in order, with what each saw.
	Phases []v1alpha1.CanaryPhase `json:"phases,omitempty"`
	// AdminTier is what the canary found about ClusterNetworkPolicy, when it checked.
	AdminTier *v1alpha1.AdminTierStatus `json:"adminTier,omitempty"`
}

type jsonResult struct {
	Edge        string `json:"edge"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Expected    string `json:"expected"`
	Observed    string `json:"observed,omitempty"`
	Verdict     string `json:"verdict"`
	// Mismatch is UnexpectedAllow, UnexpectedDeny or Inconclusive; empty for a pass.
	Mismatch            string `json:"mismatch,omitempty"`
	Attempts            int32  `json:"attempts,omitempty"`
	Target              string `json:"target,omitempty"`
	LatencyMilliseconds int32  `json:"latencyMilliseconds,omitempty"`
	Message             string `json:"message,omitempty"`
	// Nodes and FailingNodes are those of an edge checked from nodes (from.nodes).
	Nodes        int32    `json:"nodes,omitempty"`
	FailingNodes []string `json:"failingNodes,omitempty"`
	// Predicted is what the policies allow, read without a packet; empty when they do
	// not settle it.
	Predicted string `json:"predicted,omitempty"`
	// Diagnosis is PolicyMismatch or DataplaneMismatch when intent, policies and
	// dataplane disagree.
	Diagnosis string `json:"diagnosis,omitempty"`
	// Explanation names the policies and rules that made the prediction.
	Explanation string `json:"explanation,omitempty"`
}

// JSON writes a stable, indented JSON document: every test with its summary and one
// result per declared edge, and whether all passed.
func JSON(w io.Writer, tests []v1alpha1.ReachabilityTest) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // messages stay readable; this is not embedded in HTML
	return enc.Encode(newJSONReport(tests))
}

// YAML writes the document JSON writes, as YAML.
func YAML(w io.Writer, tests []v1alpha1.ReachabilityTest) error {
	out, err := yaml.Marshal(newJSONReport(tests))
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func newJSONReport(tests []v1alpha1.ReachabilityTest) jsonReport {
	ts := newTests(tests)
	doc := jsonReport{Passed: allPassed(ts), Tests: make([]jsonTest, 0, len(ts))}
	for _, t := range ts {
		doc.Tests = append(doc.Tests, newJSONTest(t))
	}
	return doc
}

func newJSONTest(t test) jsonTest {
	jt := jsonTest{
		Name: t.name, Passed: t.passed(), Summary: t.summary,
		StartTime: t.start, CompletionTime: t.end,
		Results: make([]jsonResult, 0, len(t.edges)),
	}
	if d, ok := t.duration(); ok {
		s := d.Seconds()
		jt.DurationSeconds = &s
	}
	if c := t.canary; c != nil {
		jt.Canary = &jsonCanary{Reason: c.Reason, Message: c.Message}
		if c.Status != nil {
			jt.Canary.Ingress, jt.Canary.Egress = string(c.Status.Ingress), string(c.Status.Egress)
			jt.Canary.EnforcementLatencyMilliseconds = c.Status.EnforcementLatencyMilliseconds
			jt.Canary.Phases, jt.Canary.AdminTier = c.Status.Phases, c.Status.AdminTier
		}
	}
	for _, e := range t.edges {
		r := e.result
		jt.Results = append(jt.Results, jsonResult{
			Edge: e.Name, Source: e.source, Destination: e.dest,
			Expected: string(r.Expected), Observed: string(r.Observed), Verdict: string(r.Verdict),
			Mismatch: e.outcome.mismatch(), Attempts: r.Attempts, Target: r.Target,
			LatencyMilliseconds: r.LatencyMilliseconds, Message: r.Message,
			Nodes: r.Nodes, FailingNodes: r.FailingNodes,
			Predicted: string(r.Predicted), Diagnosis: string(r.Diagnosis), Explanation: r.Explanation,
		})
	}
	return jt
}
