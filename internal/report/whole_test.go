package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/report"
)

// wholeResult is a test whose edges and canary carry every field the status has: a
// failing edge the policies explain, a passing one they predict, a canary with phases
// and ClusterNetworkPolicy tiers.
func wholeResult() v1alpha1.ReachabilityTest {
	storefront := v1alpha1.Source{Namespace: "bookstore", PodLabels: map[string]string{"app": "storefront"}}
	return v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "whole"},
		Spec: v1alpha1.ReachabilityTestSpec{
			Edges: []v1alpha1.Edge{
				{Name: "storefront-to-postgres", From: storefront, To: svc("postgres", 5432), Expect: v1alpha1.ExpectDeny},
				{Name: "storefront-to-catalog", From: storefront, To: svc("catalog", 8080), Expect: v1alpha1.ExpectAllow},
			},
			Canary: &v1alpha1.CanarySpec{},
		},
		Status: v1alpha1.ReachabilityTestStatus{
			Results: []v1alpha1.EdgeResult{
				{Edge: "storefront-to-postgres", Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictFail,
					Attempts: 3, Target: "10.96.0.13:5432/TCP", Message: "unexpected allow",
					Predicted: v1alpha1.ExpectAllow, Diagnosis: v1alpha1.DiagnosisPolicyMismatch, Explanation: "bookstore/allow-all rule 1 allows it"},
				{Edge: "storefront-to-catalog", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictPass,
					Attempts: 1, Target: "10.96.0.12:8080/TCP", Predicted: v1alpha1.ExpectAllow, Explanation: "bookstore/catalog-ingress rule 0 allows it"},
			},
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionNetworkPolicyEnforced, Status: metav1.ConditionFalse, Reason: "EgressNotEnforced", Message: "egress is not enforced"}},
			Canary: &v1alpha1.CanaryStatus{
				Ingress: v1alpha1.Enforced, Egress: v1alpha1.NotEnforced, EnforcementLatencyMilliseconds: ptr(int32(120)),
				Phases: []v1alpha1.CanaryPhase{
					{Name: "Allowed", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedConnected},
					{Name: "IngressAllowOnly", Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedConnected, Message: "got through without an egress allow"},
				},
				AdminTier: &v1alpha1.AdminTierStatus{Admin: v1alpha1.Enforced, Baseline: v1alpha1.Unknown},
			},
		},
	}
}

// TestEveryFormatCarriesTheWholeResult: what a script or a CI system reads (JSON, YAML,
// JUnit) holds each edge's prediction, diagnosis and explanation and the canary's whole
// finding, not only the verdicts.
func TestEveryFormatCarriesTheWholeResult(t *testing.T) {
	var js, ys bytes.Buffer
	if err := report.JSON(&js, []v1alpha1.ReachabilityTest{wholeResult()}); err != nil {
		t.Fatal(err)
	}
	if err := report.YAML(&ys, []v1alpha1.ReachabilityTest{wholeResult()}); err != nil {
		t.Fatal(err)
	}
	fromYAML, err := yaml.YAMLToJSON(ys.Bytes())
	if err != nil {
		t.Fatalf("the YAML does not parse: %v\n%s", err, ys.String())
	}
	for format, data := range map[string][]byte{"json": js.Bytes(), "yaml": fromYAML} {
		t.Run(format, func(t *testing.T) {
			var doc struct {
				Tests []struct {
					Results []struct{ Edge, Predicted, Diagnosis, Explanation string }
					Canary  *struct {
						Reason, Ingress, Egress        string
						EnforcementLatencyMilliseconds int
						Phases                         []v1alpha1.CanaryPhase
						AdminTier                      *v1alpha1.AdminTierStatus
					}
				}
			}
			if err := json.Unmarshal(data, &doc); err != nil || len(doc.Tests) != 1 {
				t.Fatalf("decoding: %v, %d tests\n%s", err, len(doc.Tests), data)
			}
			got := doc.Tests[0]
			if len(got.Results) != 2 {
				t.Fatalf("results %+v, want 2", got.Results)
			}
			failing, passing := got.Results[0], got.Results[1]
			if failing.Predicted != "Allow" || failing.Diagnosis != "PolicyMismatch" || failing.Explanation != "bookstore/allow-all rule 1 allows it" {
				t.Errorf("failing edge %+v lacks its prediction, diagnosis or explanation", failing)
			}
			if passing.Predicted != "Allow" || passing.Diagnosis != "" || passing.Explanation != "bookstore/catalog-ingress rule 0 allows it" {
				t.Errorf("passing edge %+v lacks its prediction or explanation", passing)
			}
			c := got.Canary
			if c == nil || c.Reason != "EgressNotEnforced" || c.Ingress != "Enforced" || c.Egress != "NotEnforced" || c.EnforcementLatencyMilliseconds != 120 {
				t.Fatalf("canary %+v, want EgressNotEnforced with both directions and the latency", c)
			}
			if len(c.Phases) != 2 || c.Phases[1].Name != "IngressAllowOnly" || c.Phases[1].Observed != v1alpha1.ObservedConnected || c.Phases[1].Message == "" {
				t.Errorf("canary phases %+v, want both with what they saw", c.Phases)
			}
			if c.AdminTier == nil || c.AdminTier.Admin != v1alpha1.Enforced || c.AdminTier.Baseline != v1alpha1.Unknown {
				t.Errorf("canary admin tier %+v", c.AdminTier)
			}
		})
	}
	t.Run("junit", func(t *testing.T) {
		props := junitProperties(t, wholeResult())
		for _, want := range []string{
			"storefront-to-postgres predicted=Allow", "storefront-to-postgres diagnosis=PolicyMismatch",
			"storefront-to-postgres explanation=bookstore/allow-all rule 1 allows it",
			"storefront-to-catalog predicted=Allow", "storefront-to-catalog explanation=bookstore/catalog-ingress rule 0 allows it",
			"enforcement-canary reason=EgressNotEnforced", "enforcement-canary egress=NotEnforced",
			"enforcement-canary enforcementLatencyMilliseconds=120",
			"enforcement-canary phase.IngressAllowOnly=expected Deny, observed Connected: got through without an egress allow",
			"enforcement-canary adminTier.baseline=Unknown",
		} {
			if !strings.Contains(props, want+"\n") {
				t.Errorf("JUnit properties lack %q:\n%s", want, props)
			}
		}
	})
}

// junitProperties are the properties of every case of the test's JUnit, one "case
// name=value" a line.
func junitProperties(t *testing.T, rt v1alpha1.ReachabilityTest) string {
	t.Helper()
	var out bytes.Buffer
	if err := report.JUnit(&out, []v1alpha1.ReachabilityTest{rt}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name       string `xml:"name,attr"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, out.String())
	}
	var b strings.Builder
	for _, c := range doc.Cases {
		for _, p := range c.Properties {
			b.WriteString(c.Name + " " + p.Name + "=" + p.Value + "\n")
		}
	}
	return b.String()
}
