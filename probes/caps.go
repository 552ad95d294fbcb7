package probes

import (
	"fmt"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Caps bound the checks of one run: an edge to the pods of a large namespace makes one
// check per ready pod, and a run's checks become probe pods.
type Caps struct {
	// PerEdge is the most checks one edge may make.
	PerEdge int
	// PerRun is the most checks one run may make.
	PerRun int
}

// Exceeded names the first cap the plan exceeds: the edge, the count, the cap and the
// fix; nil when it exceeds none. A cap below 1 is no cap.
func (c Caps) Exceeded(p Plan) error {
	perEdge := map[string]int{}
	var order []string
	total := 0
	for _, s := range p.Sources {
		for _, check := range s.Checks {
			if perEdge[check.Edge] == 0 {
				order = append(order, check.Edge)
			}
			perEdge[check.Edge]++
			total++
		}
	}
	for _, edge := range order {
		if n := perEdge[edge]; c.PerEdge > 0 && n > c.PerEdge {
			return fmt.Errorf("edge %s makes %d checks (one per ready destination pod, from each of its from.nodes), over the manager's cap of %d checks per edge: narrow the edge's to.pods.podLabels or from.nodes, or raise --max-checks-per-edge", edge, n, c.PerEdge)
		}
	}
	if c.PerRun > 0 && total > c.PerRun {
		return fmt.Errorf("the run makes %d checks, over the manager's cap of %d checks per run: split the test's edges across tests, or raise --max-checks-per-run", total, c.PerRun)
	}
	return nil
}

// Refused is the plan of a run that makes no check: every edge is decided, with an
// Error that says why.
func Refused(edges []v1alpha1.Edge, why error) Plan {
	p := Plan{Unprobed: make(map[string]Result, len(edges))}
	for _, e := range edges {
		p.Unprobed[e.Name] = Result{Observation: v1alpha1.ObservedError, Message: why.Error()}
	}
	return p
}
