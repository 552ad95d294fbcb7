package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/probes"
)

// runProgress gathers what the pods of a run have reported so far.
type runProgress struct {
	checks  map[string][]probes.Check
	results map[string][]probes.Result
	// sourceIPs holds, per edge, the address of the probe pod its checks came from.
	sourceIPs map[string]string
	failures  []podFailure
	// pending counts pods still running or starting.
	pending int
	recheck time.Duration
}

func (p *runProgress) add(checks []probes.Check, o podOutcome) {
	if !o.Done {
		p.pending++
		if p.recheck == 0 || o.RecheckAfter < p.recheck {
			p.recheck = o.RecheckAfter
		}
		return
	}
	results := o.Results
	if o.Failure != nil {
		p.failures = append(p.failures, *o.Failure)
		results = errorResults(len(checks), o.Failure)
	}
	for i, c := range checks {
		p.checks[c.Edge] = append(p.checks[c.Edge], c)
		p.results[c.Edge] = append(p.results[c.Edge], results[i])
	}
}

// from records the probe pod that made the checks, for the prediction.
func (p *runProgress) from(pod *corev1.Pod, checks []probes.Check) {
	if p.sourceIPs == nil {
		p.sourceIPs = map[string]string{}
	}
	for _, c := range checks {
		p.sourceIPs[c.Edge] = pod.Status.PodIP
	}
}

func (p *runProgress) recheckAfter(waitForCapacity bool) time.Duration {
	d := p.recheck
	if waitForCapacity && (d == 0 || d > probepool.CapacityRecheck) {
		d = probepool.CapacityRecheck
	}
	if d <= 0 {
		d = probepool.CapacityRecheck
	}
	return d
}

// judgeRun decides every edge of the spec, in spec order.
func judgeRun(edges []v1alpha1.Edge, plan probes.Plan, progress runProgress, listens probes.Listens) []v1alpha1.EdgeResult {
	results := make([]v1alpha1.EdgeResult, 0, len(edges))
	for _, edge := range edges {
		if r, ok := plan.Unprobed[edge.Name]; ok {
			results = append(results, probes.UnprobedEdge(edge, r))
			continue
		}
		if nodes, ok := plan.Nodes[edge.Name]; ok {
			results = append(results, probes.JudgeAcrossNodes(edge, nodes, progress.checks[edge.Name], progress.results[edge.Name], listens))
			continue
		}
		results = append(results, probes.JudgeEdge(edge, progress.checks[edge.Name], progress.results[edge.Name], listens))
	}
	return results
}

// listens builds the evidence that a denying destination really listens: another check
// of the same run connected to the same address over the same protocol, ready endpoints
// for the port, or a kubelet probe on the port of the pod at that address. Pods are read
// after the checks were made, so that a restart during the run shows.
func (r *ReachabilityTestReconciler) listens(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, progress runProgress) probes.Listens {
	connected := map[string]bool{}
	for edge, results := range progress.results {
		for i, res := range results {
			if res.Observation == v1alpha1.ObservedConnected && res.Target != "" {
				connected[transport(progress.checks[edge][i].Kind)+" "+res.Target] = true
			}
		}
	}
	edges := make(map[string]v1alpha1.Edge, len(test.Spec.Edges))
	for _, e := range test.Spec.Edges {
		edges[e.Name] = e
	}
	endpoints := newEndpointEvidence(r.APIReader)
	pods := newPodEvidence(r.APIReader)
	return func(c probes.Check, res probes.Result) (string, bool) {
		if connected[transport(c.Kind)+" "+res.Target] {
			return "another check of this run connected to " + res.Target, true
		}
		protocol := corev1.ProtocolTCP
		if c.Kind == probes.KindUDP {
			protocol = corev1.ProtocolUDP
		}
		switch to := edges[c.Edge].To; {
		case to.Service != nil:
			if endpoints.serviceListens(ctx, to.Service.Namespace, to.Service.Name, c.Port, protocol) {
				return "the Service has ready endpoints for the port", true
			}
		case to.Pods != nil:
			if endpoints.podListens(ctx, to.Pods.Namespace, c.Host, c.Port, protocol) {
				return "it is a ready endpoint of a Service for the port", true
			}
			return pods.kubeletEvidence(ctx, to.Pods, c, run.StartTime.Time, r.Now())
		}
		return "", false
	}
}

// transport is what a connection of this kind speaks: a reply over one says nothing of
// the other. Name look-ups go over UDP.
func transport(k probes.Kind) string {
	if k == probes.KindTCP {
		return "tcp"
	}
	return "udp"
}

// withoutChecks returns the checks that are not among those carried, counting
// duplicates. Policy verdicts do not count: a restarted manager reads them anew, and
// the policies may have changed since the pods were made.
func withoutChecks(checks, carried []probes.Check) []probes.Check {
	have := make(map[probes.Check]int, len(carried))
	for _, c := range carried {
		have[withoutVerdict(c)]++
	}
	var missing []probes.Check
	for _, c := range checks {
		if key := withoutVerdict(c); have[key] > 0 {
			have[key]--
			continue
		}
		missing = append(missing, c)
	}
	return missing
}

func withoutVerdict(c probes.Check) probes.Check {
	c.Policy = ""
	return c
}
