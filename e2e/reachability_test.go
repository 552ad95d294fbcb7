//go:build e2e

package e2e

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Edge builders: the scenarios read as the matrix they declare.

func allow(name string, from v1alpha1.Source, to v1alpha1.Destination) v1alpha1.Edge {
	return v1alpha1.Edge{Name: name, From: from, To: to, Expect: v1alpha1.ExpectAllow}
}

func deny(name string, from v1alpha1.Source, to v1alpha1.Destination) v1alpha1.Edge {
	return v1alpha1.Edge{Name: name, From: from, To: to, Expect: v1alpha1.ExpectDeny}
}

// source is a probe identity: a namespace and labels (none for an unlabelled pod).
func source(ns string, podLabels map[string]string) v1alpha1.Source {
	return v1alpha1.Source{Namespace: ns, PodLabels: podLabels}
}

func toService(ns, name string, port int32) v1alpha1.Destination {
	return v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: ns, Name: name, Port: intstr.FromInt32(port)}}
}

func toPods(ns string, podLabels map[string]string, port intstr.IntOrString) v1alpha1.Destination {
	return v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: ns, PodLabels: podLabels, Port: port}}
}

func toHost(host string, port int32) v1alpha1.Destination {
	return v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: host, Port: port}}
}

func toDNS(name string) v1alpha1.Destination {
	return v1alpha1.Destination{DNS: &v1alpha1.DNSDestination{Name: name}}
}

// serviceName is a Service's fully qualified DNS name.
func serviceName(ns, name string) string {
	return fmt.Sprintf("%s.%s.svc.%s", name, ns, cfg.clusterDomain)
}

// outcome is what an edge's result must show: a verdict and one of the observations.
type outcome struct {
	verdict  v1alpha1.Verdict
	observed []v1alpha1.Observation
}

var (
	// connects: an Allow edge that passed.
	connects = outcome{v1alpha1.VerdictPass, []v1alpha1.Observation{v1alpha1.ObservedConnected}}
	// denied: a Deny edge that passed.
	denied = outcome{v1alpha1.VerdictPass, []v1alpha1.Observation{v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout, v1alpha1.ObservedUnreachable}}
	// unexpectedAllow: a Deny edge that got through, reported as a failure (a hole).
	unexpectedAllow = outcome{v1alpha1.VerdictFail, []v1alpha1.Observation{v1alpha1.ObservedConnected}}
	// unexpectedDeny: an Allow edge that was blocked, reported as a failure (an outage).
	unexpectedDeny = outcome{v1alpha1.VerdictFail, []v1alpha1.Observation{v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout, v1alpha1.ObservedUnreachable}}
	// unresolvedAllow: an Allow edge whose name did not resolve.
	unresolvedAllow = outcome{v1alpha1.VerdictFail, []v1alpha1.Observation{v1alpha1.ObservedDNSFailure}}
	// unresolvedDeny: a Deny edge whose name did not resolve proves nothing.
	// A Deny look-up that was blocked has no evidence the name server listens, either.
	unresolvedDeny = outcome{v1alpha1.VerdictInconclusive, []v1alpha1.Observation{v1alpha1.ObservedDNSFailure, v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout}}
)

func (o outcome) matches(r v1alpha1.EdgeResult) bool {
	return r.Verdict == o.verdict && slices.Contains(o.observed, r.Observed)
}

func (o outcome) String() string {
	var obs []string
	for _, x := range o.observed {
		obs = append(obs, string(x))
	}
	return fmt.Sprintf("%s/%s", o.verdict, strings.Join(obs, "|"))
}

// baseline is what the profile expects of an edge when nothing is broken on purpose:
// enforcing, every edge passes; noop, every Deny edge is caught as an unexpected allow;
// partial, as enforcing, before expect moves the edges the open node lets through.
func baseline(e v1alpha1.Edge) outcome {
	switch {
	case e.Expect == v1alpha1.ExpectAllow:
		return connects
	case cfg.profile == noop:
		return unexpectedAllow
	}
	return denied
}

// phase is one run of a ReachabilityTest and what each of its edges must show.
type phase struct {
	name  string // of the ReachabilityTest
	edges []v1alpha1.Edge
	// overrides are edges broken on purpose, whose outcome differs from the baseline.
	overrides map[string]outcome
	// afterChange: the run follows a live policy change. Until the dataplane applies it,
	// a run can see the old behaviour, and the probes' retries cannot wait for a
	// deliberate failure (they retry only toward the declared expectation); so a run that
	// does not show the change yet is repeated, under a new name, at most changeRuns times.
	afterChange bool
}

// changeRuns bounds the runs of a phase after a live policy change.
const changeRuns = 3

func (p phase) want(e v1alpha1.Edge) outcome {
	if o, ok := p.overrides[e.Name]; ok {
		return o
	}
	return baseline(e)
}

// run runs the phase, checks every edge and the Passed condition, counts the edges and
// reports mismatches with the saved state. It returns what the last run was held to.
func (s *scenario) run(p phase) expectation {
	s.t.Helper()
	runs := 1
	// On partial a Deny edge into or out of the open node must connect, but its probe
	// stops at the first denial (it retries only toward the expectation), and a fresh
	// probe pod's first packets can be lost while the enforcer programs it: such a run
	// is repeated too.
	if p.afterChange || cfg.profile == partial {
		runs = changeRuns
	}
	for i := 1; ; i++ {
		name := p.name
		if i > 1 {
			name = fmt.Sprintf("%s-%d", p.name, i)
		}
		rt := s.runTest(name, p.edges)
		counts, problems, ex := s.compare(p, rt)
		s.t.Logf("ReachabilityTest %s (run %d of at most %d):\n%s", name, i, runs, resultTable(p, rt, ex))
		if len(problems) > 0 && i < runs {
			s.t.Logf("%s: not yet what it should show (%s); running again while the dataplane converges", name, strings.Join(problems, "; "))
			continue
		}
		countEdges(len(p.edges), counts)
		if len(problems) > 0 {
			s.t.Errorf("ReachabilityTest %s on profile %s:\n  %s\nstate saved in %s", name, cfg.profile, strings.Join(problems, "\n  "), s.dump(name))
		}
		return ex
	}
}

// runTest creates a ReachabilityTest and waits until its run for the current generation
// completed.
func (s *scenario) runTest(name string, edges []v1alpha1.Edge) *v1alpha1.ReachabilityTest {
	s.t.Helper()
	return s.runSpec(name, v1alpha1.ReachabilityTestSpec{Edges: edges})
}

// runSpec creates a ReachabilityTest of any spec and waits until its first run completed.
func (s *scenario) runSpec(name string, spec v1alpha1.ReachabilityTestSpec) *v1alpha1.ReachabilityTest {
	s.t.Helper()
	rt := &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{e2eLabel: "true"}},
		Spec:       spec,
	}
	if err := k8s.Create(s.ctx, rt); err != nil {
		if apierrors.IsAlreadyExists(err) {
			s.t.Fatalf("ReachabilityTest %s already exists (from something other than this run): delete it", name)
		}
		s.fatalf("creating ReachabilityTest %s: %v", name, err)
	}
	s.tests = append(s.tests, name)
	s.waitCompleted(rt)
	return rt
}

// waitCompleted waits until the test's run for its current generation completed, and
// reads the test into rt.
func (s *scenario) waitCompleted(rt *v1alpha1.ReachabilityTest) {
	s.t.Helper()
	name := rt.Name
	s.waitUntil("ReachabilityTest "+name+" to complete", func(ctx context.Context) (bool, string, error) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, rt); err != nil {
			return false, "", err
		}
		c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionCompleted)
		if c == nil {
			return false, "no Completed condition yet", nil
		}
		done := c.Status == metav1.ConditionTrue && c.ObservedGeneration == rt.Generation && rt.Status.ObservedGeneration == rt.Generation
		return done, fmt.Sprintf("Completed=%s for generation %d of %d: %s", c.Status, c.ObservedGeneration, rt.Generation, c.Message), nil
	})
}

// compare checks each declared edge's result and the Passed condition against the phase.
// runCounts are what one run adds to the closing lines.
type runCounts struct {
	asExpected, predicted, agreed   int
	crossNode, caught, caughtOnOpen int
}

func (s *scenario) compare(p phase, rt *v1alpha1.ReachabilityTest) (counts runCounts, problems []string, ex expectation) {
	s.t.Helper()
	results := map[string]v1alpha1.EdgeResult{}
	for _, r := range rt.Status.Results {
		results[r.Edge] = r
	}
	ex = s.expect(p, rt)
	ex.count(p.edges, rt, &counts)
	problems = append(problems, ex.problems...)
	passed := true
	for _, e := range p.edges {
		want := ex.wants[e.Name]
		passed = passed && want.verdict == v1alpha1.VerdictPass
		r, ok := results[e.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("edge %s: no result", e.Name))
		case !want.matches(r):
			problems = append(problems, fmt.Sprintf("edge %s (expect %s): got %s/%s, want %s: %s", e.Name, e.Expect, r.Verdict, r.Observed, want, r.Message))
		default:
			counts.asExpected++
		}
		if !ok {
			continue
		}
		if r.Predicted != "" {
			counts.predicted++
			if r.Diagnosis != v1alpha1.DiagnosisDataplaneMismatch {
				counts.agreed++
			}
		}
		if problem := oracle(e, r, ex.opened[e.Name]); problem != "" {
			problems = append(problems, problem)
		}
	}
	s.t.Logf("%s: the policies predict %d of %d edges; the dataplane agrees on %d", rt.Name, counts.predicted, len(p.edges), counts.agreed)
	wantPassed := metav1.ConditionFalse
	if passed {
		wantPassed = metav1.ConditionTrue
	}
	c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPassed)
	switch {
	case c == nil:
		problems = append(problems, "no Passed condition")
	case c.Status != wantPassed || c.ObservedGeneration != rt.Generation:
		problems = append(problems, fmt.Sprintf("condition Passed=%s for generation %d (%s), want Passed=%s for generation %d", c.Status, c.ObservedGeneration, c.Message, wantPassed, rt.Generation))
	}
	return counts, problems, ex
}

// oracle checks the prediction from the policies against the dataplane: on an enforcing
// cluster they agree on every edge, and every failure is the policies' (PolicyMismatch);
// on a cluster that enforces nothing, every Deny edge is the dataplane's; on a partial
// one, exactly the edges the open node let through (opened) are the dataplane's, and the
// rest is as on an enforcing one.
func oracle(e v1alpha1.Edge, r v1alpha1.EdgeResult, opened bool) string {
	var want v1alpha1.Diagnosis
	switch {
	case cfg.profile == noop && e.Expect == v1alpha1.ExpectDeny:
		want = v1alpha1.DiagnosisDataplaneMismatch
	case cfg.profile == partial && opened:
		want = v1alpha1.DiagnosisDataplaneMismatch
	case cfg.profile != noop && r.Verdict == v1alpha1.VerdictFail:
		want = v1alpha1.DiagnosisPolicyMismatch
	case cfg.profile != noop && r.Diagnosis == v1alpha1.DiagnosisDataplaneMismatch:
		return fmt.Sprintf("edge %s: the policies predict %s but the dataplane did otherwise (%s): %s", e.Name, r.Predicted, r.Observed, r.Explanation)
	default:
		return ""
	}
	if r.Diagnosis != want {
		return fmt.Sprintf("edge %s: diagnosis %q (predicted %q, observed %s), want %s: %s", e.Name, r.Diagnosis, r.Predicted, r.Observed, want, r.Explanation)
	}
	return ""
}

// resultTable renders a run's results beside what is expected of them, with the nodes
// the probe and the destinations ran on.
func resultTable(p phase, rt *v1alpha1.ReachabilityTest, ex expectation) string {
	results := map[string]v1alpha1.EdgeResult{}
	for _, r := range rt.Status.Results {
		results[r.Edge] = r
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "EDGE\tEXPECT\tOBSERVED\tVERDICT\tWANT\tATTEMPTS\tTARGET\tNODES\t")
	for _, e := range p.edges {
		r, want := results[e.Name], ex.wants[e.Name]
		mark := ""
		if !want.matches(r) {
			mark = "  <-- mismatch"
		}
		ends := ex.sites[e.Name].ends
		nodes := fmt.Sprintf("%s -> %s", cmp.Or(ends.Probe, "?"), strings.Join(ends.Destinations, ","))
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Name, e.Expect, r.Observed, r.Verdict, want, r.Attempts, r.Target, nodes, mark)
	}
	_ = w.Flush()
	if c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionPassed); c != nil {
		fmt.Fprintf(&b, "Passed=%s (%s)\n", c.Status, c.Message)
	}
	return b.String()
}

// overridesFor gives the outcome o to every edge that match selects.
func overridesFor(edges []v1alpha1.Edge, match func(v1alpha1.Edge) bool, o func(v1alpha1.Edge) outcome) map[string]outcome {
	m := map[string]outcome{}
	for _, e := range edges {
		if match(e) {
			m[e.Name] = o(e)
		}
	}
	return m
}

// namedEdges matches the edges with these names.
func namedEdges(names ...string) func(v1alpha1.Edge) bool {
	return func(e v1alpha1.Edge) bool { return slices.Contains(names, e.Name) }
}

// always returns o whatever the edge.
func always(o outcome) func(v1alpha1.Edge) outcome {
	return func(v1alpha1.Edge) outcome { return o }
}
