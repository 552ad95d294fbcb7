package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/report"
)

// canaryOnly is a test with a canary and no edges whose canary found reason.
func canaryOnly(reason string, ingress, egress v1alpha1.Enforcement, latencyMs *int32) v1alpha1.ReachabilityTest {
	rt := v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-canary"},
		Spec:       v1alpha1.ReachabilityTestSpec{Canary: &v1alpha1.CanarySpec{}},
	}
	if reason == "" {
		return rt // no run completed
	}
	rt.Status.Canary = &v1alpha1.CanaryStatus{Ingress: ingress, Egress: egress, EnforcementLatencyMilliseconds: latencyMs}
	rt.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionNetworkPolicyEnforced, Reason: reason, Message: "the canary says " + reason}}
	return rt
}

func TestCanaryVerdicts(t *testing.T) {
	tests := []struct {
		name, reason, headline string
		ingress, egress        v1alpha1.Enforcement
		passed                 bool
		junit                  string // failure, error or "" for a pass
	}{
		{"enforced", v1alpha1.ReasonEnforced, "PASSED: 0 edges, 0 passed, 0 failed, 0 inconclusive, canary: Enforced, latency 120ms", v1alpha1.Enforced, v1alpha1.Enforced, true, ""},
		{"not enforced", v1alpha1.ReasonNotEnforced, "FAILED: 0 edges, 0 passed, 0 failed, 0 inconclusive, canary: NotEnforced", v1alpha1.NotEnforced, v1alpha1.NotEnforced, false, "failure"},
		{"egress not enforced", v1alpha1.ReasonEgressNotEnforced, "FAILED: 0 edges, 0 passed, 0 failed, 0 inconclusive, canary: EgressNotEnforced", v1alpha1.Enforced, v1alpha1.NotEnforced, false, "failure"},
		{"canary failed", v1alpha1.ReasonCanaryFailed, "INCONCLUSIVE: 0 edges, 0 passed, 0 failed, 0 inconclusive, canary: CanaryFailed", v1alpha1.Unknown, v1alpha1.Unknown, false, "error"},
		{"no result", "", "INCONCLUSIVE: 0 edges, 0 passed, 0 failed, 0 inconclusive, canary: no result", "", "", false, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rts := []v1alpha1.ReachabilityTest{canaryOnly(tt.reason, tt.ingress, tt.egress, ptr[int32](120))}
			var table, js, junit bytes.Buffer
			for _, err := range []error{report.Table(&table, rts), report.JSON(&js, rts), report.JUnit(&junit, rts)} {
				if err != nil {
					t.Fatal(err)
				}
			}
			if first := strings.SplitN(table.String(), "\n", 2)[0]; first != "nightly-canary "+tt.headline {
				t.Errorf("table headline %q, want %q", first, "nightly-canary "+tt.headline)
			}
			if !tt.passed && !strings.Contains(table.String(), "canary") {
				t.Errorf("the table does not say what the canary found:\n%s", table.String())
			}
			var doc struct {
				Passed bool `json:"passed"`
				Tests  []struct {
					Canary *struct {
						Reason  string `json:"reason"`
						Ingress string `json:"ingress"`
						Message string `json:"message"`
					} `json:"canary"`
				} `json:"tests"`
			}
			if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Passed != tt.passed || doc.Tests[0].Canary == nil || doc.Tests[0].Canary.Reason != tt.reason || doc.Tests[0].Canary.Ingress != string(tt.ingress) {
				t.Errorf("JSON: %s", js.String())
			}
			var suites struct {
				Cases []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
					Error   *struct{} `xml:"error"`
				} `xml:"testsuite>testcase"`
			}
			if err := xml.Unmarshal(junit.Bytes(), &suites); err != nil {
				t.Fatal(err)
			}
			if len(suites.Cases) != 1 || suites.Cases[0].Name != "enforcement-canary" {
				t.Fatalf("JUnit cases: %+v", suites.Cases)
			}
			got := ""
			if suites.Cases[0].Failure != nil {
				got = "failure"
			} else if suites.Cases[0].Error != nil {
				got = "error"
			}
			if got != tt.junit {
				t.Errorf("JUnit canary case is %q, want %q:\n%s", got, tt.junit, junit.String())
			}
		})
	}
}
