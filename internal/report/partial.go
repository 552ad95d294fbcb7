package report

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/logsafe"
)

// partialPredictions are the distinct messages of the tests whose predictions were
// partial (PredictionsComplete=False): which policy kinds the model could not read. The
// report says each once, however many tests it concerns.
func partialPredictions(tests []v1alpha1.ReachabilityTest) []string {
	var out []string
	for _, rt := range tests {
		c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPredictionsComplete)
		if c == nil || c.Status != metav1.ConditionFalse {
			continue
		}
		if msg := logsafe.Text(oneLine(c.Message)); !slices.Contains(out, msg) {
			out = append(out, msg)
		}
	}
	return out
}
