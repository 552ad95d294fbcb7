package canary

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// PairFinding is what one pair of the ring found.
type PairFinding struct {
	Pair    Pair
	Finding Finding
}

// Combine turns the pairs' findings into one per node and one for the cluster: a node's
// egress is what its client found, its ingress what the client probing its server found.
// The cluster enforces a direction only where every node does. unchecked counts the
// schedulable nodes beyond MaxNodes: where some went unchecked, nothing is known to be
// enforced cluster-wide.
func Combine(pairs []PairFinding, unchecked int) Finding {
	if len(pairs) == 1 && pairs[0].Pair.ClientNode == "" {
		return pairs[0].Finding // unpinned: no node to speak of
	}
	nodes := nodeFindings(pairs)
	f := Finding{Status: v1alpha1.CanaryStatus{Phases: pairs[0].Finding.Status.Phases, Nodes: nodes}}
	f.Status.Ingress = clusterWide(nodes, func(n v1alpha1.CanaryNode) v1alpha1.Enforcement { return n.Ingress })
	f.Status.Egress = clusterWide(nodes, func(n v1alpha1.CanaryNode) v1alpha1.Enforcement { return n.Egress })
	for _, p := range pairs {
		if l := p.Finding.Latency; l != nil && (f.Latency == nil || *l > *f.Latency) {
			f.Latency = l
		}
	}
	if f.Latency != nil {
		f.Status.EnforcementLatencyMilliseconds = ptr.To(int32(f.Latency.Milliseconds()))
	}
	f.AdminTier = adminTierOf(pairs)
	if f.AdminTier != nil && f.AdminTier.Reason != v1alpha1.ReasonNotServed {
		f.Status.AdminTier = f.AdminTier.Status.DeepCopy()
	}
	f.Reason, f.Message = nodesVerdict(pairs, nodes, f.Latency)
	if unchecked > 0 {
		ownUpToUnchecked(&f, unchecked)
	}
	return f
}

// ownUpToUnchecked turns what the checked nodes enforce into Unknown, since the
// unchecked nodes may not: a finding that some node does not enforce stands.
func ownUpToUnchecked(f *Finding, unchecked int) {
	for _, d := range []*v1alpha1.Enforcement{&f.Status.Ingress, &f.Status.Egress} {
		if *d == v1alpha1.Enforced {
			*d = v1alpha1.Unknown
		}
	}
	gap := fmt.Sprintf("%d more schedulable nodes were not checked: one canary checks at most %d. To check them, split the nodes across several tests' canaries, each selecting at most %d with spec.probePod.nodeSelector.", unchecked, MaxNodes, MaxNodes)
	if f.Reason != v1alpha1.ReasonEnforced {
		f.Message += " " + gap
		return
	}
	f.Reason = v1alpha1.ReasonCanaryFailed
	f.Message = fmt.Sprintf("NetworkPolicy is enforced on each of the %d nodes checked, but whether the whole cluster enforces it is unknown: %s", len(f.Status.Nodes), gap)
}

// nodeFindings are the nodes' findings, in the ring's order.
func nodeFindings(pairs []PairFinding) []v1alpha1.CanaryNode {
	nodes := make([]v1alpha1.CanaryNode, len(pairs))
	for i, p := range pairs {
		n := &nodes[i]
		n.Name, n.Egress = p.Pair.ClientNode, p.Finding.Status.Egress
		n.EnforcementLatencyMilliseconds = p.Finding.Status.EnforcementLatencyMilliseconds
		if p.Finding.Reason == v1alpha1.ReasonCanaryFailed {
			n.Message = truncate(p.Finding.Message, 512)
		}
		// The server of the pair before serves on this node.
		prev := pairs[(i+len(pairs)-1)%len(pairs)]
		n.Ingress = prev.Finding.Status.Ingress
		if n.Message == "" && prev.Finding.Reason == v1alpha1.ReasonCanaryFailed {
			n.Message = truncate(prev.Finding.Message, 512)
		}
	}
	return nodes
}

// clusterWide is NotEnforced where a node does not enforce, else Unknown where a node
// is unknown, else Enforced.
func clusterWide(nodes []v1alpha1.CanaryNode, direction func(v1alpha1.CanaryNode) v1alpha1.Enforcement) v1alpha1.Enforcement {
	found := v1alpha1.Enforced
	for _, n := range nodes {
		switch direction(n) {
		case v1alpha1.NotEnforced:
			return v1alpha1.NotEnforced
		case v1alpha1.Unknown, "":
			found = v1alpha1.Unknown
		}
	}
	return found
}

// nodesVerdict: Enforced where every node enforces; the one-node reasons where every
// node found the same; PartiallyEnforced, naming the nodes, where they differ.
func nodesVerdict(pairs []PairFinding, nodes []v1alpha1.CanaryNode, latency *time.Duration) (string, string) {
	if len(pairs) == 1 {
		return pairs[0].Finding.Reason, pairs[0].Finding.Message
	}
	var open, unknown []string
	for _, n := range nodes {
		switch {
		case n.Ingress == v1alpha1.NotEnforced || n.Egress == v1alpha1.NotEnforced:
			open = append(open, fmt.Sprintf("%s does not enforce %s", n.Name, notEnforcedDirections(n)))
		case n.Ingress != v1alpha1.Enforced || n.Egress != v1alpha1.Enforced:
			unknown = append(unknown, n.Name)
		}
	}
	switch {
	case len(open) == 0 && len(unknown) == 0:
		reason, message := directionVerdict(v1alpha1.Enforced, v1alpha1.Enforced, ptr.Deref(latency, 0))
		return reason, fmt.Sprintf("%s This holds on each of the %d schedulable nodes; the time is the slowest node's.", message, len(nodes))
	case len(open) == 0:
		return v1alpha1.ReasonCanaryFailed, fmt.Sprintf("The canary could not check every node: whether %s enforce NetworkPolicy is unknown (see status.canary.nodes); the other nodes enforce ingress and egress.", strings.Join(unknown, ", "))
	case len(unknown) == 0 && uniform(nodes):
		reason, message := directionVerdict(nodes[0].Ingress, nodes[0].Egress, ptr.Deref(latency, 0))
		return reason, fmt.Sprintf("%s This holds on each of the %d schedulable nodes.", message, len(nodes))
	}
	message := fmt.Sprintf("NetworkPolicy is enforced on some nodes only: %s. Pods on those nodes are reachable, or reach out, whatever the policies say, so Deny verdicts that involve them cannot be trusted. Is the CNI's policy agent running on each of them?", strings.Join(open, "; "))
	if len(unknown) > 0 {
		message += fmt.Sprintf(" The canary could not check %s.", strings.Join(unknown, ", "))
	}
	return v1alpha1.ReasonPartiallyEnforced, message
}

func notEnforcedDirections(n v1alpha1.CanaryNode) string {
	var dirs []string
	if n.Ingress == v1alpha1.NotEnforced {
		dirs = append(dirs, "ingress")
	}
	if n.Egress == v1alpha1.NotEnforced {
		dirs = append(dirs, "egress")
	}
	return strings.Join(dirs, " or ")
}

func uniform(nodes []v1alpha1.CanaryNode) bool {
	return !slices.ContainsFunc(nodes, func(n v1alpha1.CanaryNode) bool {
		return n.Ingress != nodes[0].Ingress || n.Egress != nodes[0].Egress
	})
}

// adminTierOf is the first pair's admin-tier finding that is not Enforced, or the first.
func adminTierOf(pairs []PairFinding) *AdminTierFinding {
	for _, p := range pairs {
		if a := p.Finding.AdminTier; a != nil && !a.Enforced() {
			return a
		}
	}
	return pairs[0].Finding.AdminTier
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
