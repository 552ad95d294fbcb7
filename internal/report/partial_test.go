package report_test

import (
	"bytes"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/report"
)

// TestPartialPredictionsAreSaidOnce: the policy kinds that made predictions partial are
// said once, before the tests, however many tests they concern; a test whose
// predictions were complete adds nothing.
func TestPartialPredictionsAreSaidOnce(t *testing.T) {
	const msg = "Predictions are partial: the cluster holds policies netconform cannot read (1 GlobalNetworkPolicy (crd.projectcalico.org/v1, cluster-wide))"
	tests := append(fixtures(), fixtures()[1:]...)
	tests[2].Name = "another"
	for i := range tests {
		c := metav1.Condition{Type: v1alpha1.ConditionPredictionsComplete, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonUnreadablePolicies, Message: msg}
		if i == 0 {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1alpha1.ReasonAllPoliciesRead, "The model read every policy kind that may affect the edges"
		}
		tests[i].Status.Conditions = append(tests[i].Status.Conditions, c)
	}
	if len(tests) < 3 {
		t.Fatalf("%d fixtures, want at least 3: two with the same partial predictions", len(tests))
	}
	var table, md bytes.Buffer
	if err := report.Table(&table, tests); err != nil {
		t.Fatal(err)
	}
	if err := report.Markdown(&md, tests); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(table.String(), msg); n != 1 || !strings.HasPrefix(table.String(), msg+"\n") {
		t.Errorf("the table says it %d times, want once, first:\n%s", n, table.String())
	}
	if n := strings.Count(md.String(), msg); n != 1 {
		t.Errorf("the markdown says it %d times, want once:\n%s", n, md.String())
	}
	var complete bytes.Buffer
	if err := report.Table(&complete, tests[:1]); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(complete.String(), "Predictions are partial") || strings.Contains(complete.String(), "every policy kind") {
		t.Errorf("complete predictions are mentioned:\n%s", complete.String())
	}
}
