// Package placement says what the nodes an edge's ends ran on mean for the end-to-end
// suites: whether the edge crossed nodes, and what a cluster that enforces NetworkPolicy
// on some nodes only lets through.
//
// A node's enforcer (kube-router, and every enforcer that filters at the pod's own
// interface) applies the egress policies of the pods on its node and the ingress policies
// of the pods on its node. So a connection the policies deny on the source's side (egress)
// is let through only when the source runs on an open node, one denied on the
// destination's side (ingress) only when the destination does, and one denied on both
// sides only when both do.
package placement

import "slices"

// Hop is one connection a probe makes: the nodes at its two ends and the sides whose
// NetworkPolicies deny it.
type Hop struct {
	// From is the probe pod's node; To the destination pod's node, empty for an address
	// that is no pod's (which no NetworkPolicy's ingress governs).
	From, To string
	// DenyEgress: the source's egress policies deny it; DenyIngress: the destination's
	// ingress policies do.
	DenyEgress, DenyIngress bool
}

// Passes says whether a dataplane that enforces on every node but the open ones lets the
// hop through.
func (h Hop) Passes(open []string) bool {
	egressLost := !h.DenyEgress || slices.Contains(open, h.From)
	ingressLost := !h.DenyIngress || (h.To != "" && slices.Contains(open, h.To))
	return egressLost && ingressLost
}

// Path is everything an edge's probe does.
type Path struct {
	// Lookup holds the cluster DNS's backends, one hop each, when the edge dials a name;
	// empty when it dials an address, or when the look-up is the edge itself.
	Lookup []Hop
	// Checks are the edge's connections, each with the backends a Service may send it to
	// (one hop for a pod).
	Checks [][]Hop
	// AnyCheck: the edge gets through when any of its checks does, as a Deny edge does
	// (one connection is a hole); otherwise only when all do.
	AnyCheck bool
}

// Reach is how far an edge's traffic gets.
type Reach string

// Reaches.
const (
	// LookupBlocked: the name look-up is denied, so no connection is even tried.
	LookupBlocked Reach = "LookupBlocked"
	// Blocked: the connection is denied.
	Blocked Reach = "Blocked"
	// Connects: the traffic gets through.
	Connects Reach = "Connects"
	// Unsettled: backends of the same Service or of the cluster DNS sit on open and on
	// enforcing nodes and disagree, so the result depends on which one a packet meets.
	Unsettled Reach = "Unsettled"
	// Unknown: the path holds no connection, so nothing can be said.
	Unknown Reach = "Unknown"
)

// Reach is how far the edge's traffic gets on a cluster that enforces on every node but
// the open ones (none: a fully enforcing cluster).
func (p Path) Reach(open []string) Reach {
	if len(p.Lookup) > 0 {
		switch passes(p.Lookup, open) {
		case none:
			return LookupBlocked
		case some:
			return Unsettled
		}
	}
	if len(p.Checks) == 0 {
		return Unknown
	}
	through, blocked := 0, 0
	for _, backends := range p.Checks {
		switch passes(backends, open) {
		case all:
			through++
		case none:
			blocked++
		default:
			return Unsettled
		}
	}
	if (p.AnyCheck && through > 0) || blocked == 0 {
		return Connects
	}
	return Blocked
}

// Ends are the nodes an edge's traffic ran between.
type Ends struct {
	// Probe is the node of the probe pod that made the edge's checks; empty when unknown.
	Probe string
	// Destinations are the nodes of the pods the edge may have reached: the pod actually
	// dialled when known, otherwise every backend of its Service. Empty for an address
	// that is no pod's; an entry is empty for a pod whose node is unknown.
	Destinations []string
}

// CrossNode says whether the edge's traffic certainly left the probe's node: the probe's
// node is known and every destination it may have reached ran on another known node.
func (e Ends) CrossNode() bool {
	if e.Probe == "" || len(e.Destinations) == 0 {
		return false
	}
	for _, d := range e.Destinations {
		if d == "" || d == e.Probe {
			return false
		}
	}
	return true
}

// Involves says whether either end ran on one of the nodes.
func (e Ends) Involves(nodes []string) bool {
	if slices.Contains(nodes, e.Probe) {
		return true
	}
	return slices.ContainsFunc(e.Destinations, func(d string) bool { return slices.Contains(nodes, d) })
}

type share int

const (
	none share = iota
	some
	all
)

func passes(hops []Hop, open []string) share {
	n := 0
	for _, h := range hops {
		if h.Passes(open) {
			n++
		}
	}
	switch n {
	case 0:
		return none
	case len(hops):
		return all
	}
	return some
}

// Spread is where the n-th scenario (from 1) of the suites leaves its probes and puts its
// fixtures: the scenarios take turns at leaving one node to their probe pods, and their
// fixtures go round the nodes starting after it, so that two fixtures in three (on three
// nodes) sit on another node than the probes. A single node spreads nothing.
func Spread(n int, nodes []string) (probeNode string, fixtureOrder []string) {
	if len(nodes) < 2 || n < 1 {
		return "", nil
	}
	p := (n - 1) % len(nodes)
	return nodes[p], append(slices.Clone(nodes[p+1:]), nodes[:p+1]...)
}
