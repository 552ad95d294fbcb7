package probes

import (
	"errors"
	"strings"
	"testing"

	"github.com/netconform/netconform/api/v1alpha1"
)

func TestCapsExceeded(t *testing.T) {
	checks := func(edge string, n int) []Check {
		out := make([]Check, n)
		for i := range out {
			out[i] = Check{Edge: edge, Kind: KindTCP, Host: "10.0.0.1", Port: int32(i + 1)}
		}
		return out
	}
	plan := Plan{Sources: []SourceChecks{
		{Identity: frontendID, Checks: append(checks("to-web", 3), checks("to-pods", 5)...)},
		{Identity: Identity{Namespace: "db"}, Checks: checks("to-pods", 2)},
	}}
	tests := []struct {
		name string
		caps Caps
		want []string // what the error names; nil for none
	}{
		{"within", Caps{PerEdge: 7, PerRun: 10}, nil},
		{"no caps", Caps{}, nil},
		{"edge over", Caps{PerEdge: 6, PerRun: 100}, []string{"edge to-pods", "7 checks", "cap of 6", "--max-checks-per-edge", "to.pods.podLabels"}},
		{"run over", Caps{PerEdge: 7, PerRun: 9}, []string{"10 checks", "cap of 9", "--max-checks-per-run"}},
	}
	for _, tt := range tests {
		err := tt.caps.Exceeded(plan)
		if (err == nil) != (tt.want == nil) {
			t.Errorf("%s: error %v, want one naming %v", tt.name, err, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not name %q", tt.name, err, w)
			}
		}
	}
}

func TestRefusedPlanDecidesEveryEdge(t *testing.T) {
	edges := []v1alpha1.Edge{{Name: "a"}, {Name: "b"}}
	p := Refused(edges, errors.New("too many"))
	if len(p.Sources) != 0 || len(p.Unprobed) != 2 || p.Unprobed["b"].Observation != v1alpha1.ObservedError || p.Unprobed["a"].Message != "too many" {
		t.Errorf("refused plan %+v, want every edge an Error and no checks", p)
	}
}
