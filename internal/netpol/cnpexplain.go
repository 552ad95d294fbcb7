package netpol

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// The words of the admin and baseline tiers.

// String is the rule in words, such as `ClusterNetworkPolicy deny-all (tier Admin,
// priority 10) ingress rule 1 "deny-db" (from namespaces team=web, port 5432/TCP)`.
func (r ClusterRuleRef) String() string {
	name := ""
	if r.Name != "" {
		name = fmt.Sprintf(" %q", r.Name)
	}
	return fmt.Sprintf("%s %s (tier %s, priority %d) %s rule %d%s (%s)", r.Kind, r.Policy, r.Tier, r.Priority, direction(r.Direction), r.Index+1, name, r.Rule)
}

// verb is what the rule's action does, in words.
func (r *ClusterRuleRef) verb() string {
	switch r.Action {
	case v1beta1.ClusterNetworkPolicyRuleActionAccept:
		return "accepts"
	case v1beta1.ClusterNetworkPolicyRuleActionDeny:
		return "denies"
	case v1beta1.ClusterNetworkPolicyRuleActionPass:
		return "passes"
	}
	return fmt.Sprintf("applies action %q, which the model does not know, to", r.Action)
}

func decidedBy(dir networkingv1.PolicyType, pod string, r *ClusterRuleRef) string {
	rest := "NetworkPolicies and the Baseline tier are not consulted"
	if r.Tier == TierBaseline {
		rest = "no NetworkPolicy isolates the pod, so the Baseline tier decides"
	}
	return fmt.Sprintf("%s is decided in tier %s: %s %s it; %s", side(dir, pod), r.Tier, r, r.verb(), rest)
}

func passedBy(dir networkingv1.PolicyType, pod string, r *ClusterRuleRef) string {
	next := "the NetworkPolicy tier"
	if r.Tier == TierBaseline {
		next = "the default, which allows"
	}
	return fmt.Sprintf("%s: %s passes it to %s", side(dir, pod), r, next)
}

func undecidableRule(r *ClusterRuleRef) string {
	return fmt.Sprintf("%s may match: it has a peer, port or action the model cannot decide (nodes, domainNames, an address not yet known, or a field of a version it does not know)", r)
}

func samePriority(a, b *ClusterRuleRef) string {
	return fmt.Sprintf("%s and %s have the same priority and disagree: the API lets an implementation apply either", a, b)
}

func unknownTier(p *v1beta1.ClusterNetworkPolicy) string {
	return fmt.Sprintf("ClusterNetworkPolicy %s has tier %q, which the model does not know", p.Name, p.Spec.Tier)
}

func unreadable(u UnreadableKind) string {
	if u.Count == 0 { // a kind netconform may not list: where its objects are is unknown
		return fmt.Sprintf("netconform may not list %s.%s (%s/%s), a policy kind that may affect any connection", u.Resource, u.Group, u.Group, u.Version)
	}
	where := "cluster-wide"
	if u.Namespaced {
		where = "in " + strings.Join(u.Namespaces, ", ")
	}
	gv := u.Group + "/" + u.Version
	return fmt.Sprintf("the cluster holds %d %s (%s) %s, a policy kind the model cannot read", u.Count, u.Kind, gv, where)
}

func describeIngress(r v1beta1.ClusterNetworkPolicyIngressRule) string {
	peers := make([]string, len(r.From))
	for i, p := range r.From {
		peers[i] = describeClusterPeer(p.Namespaces, p.Pods)
	}
	return "from " + strings.Join(peers, " or ") + ", " + describeProtocols(r.Protocols)
}

func describeEgress(r v1beta1.ClusterNetworkPolicyEgressRule) string {
	peers := make([]string, len(r.To))
	for i, p := range r.To {
		switch {
		case p.Nodes != nil:
			peers[i] = "nodes " + describeAll(p.Nodes)
		case len(p.DomainNames) > 0:
			peers[i] = "domain names " + joinStrings(p.DomainNames)
		case len(p.Networks) > 0:
			peers[i] = "networks " + joinStrings(p.Networks)
		default:
			peers[i] = describeClusterPeer(p.Namespaces, p.Pods)
		}
	}
	return "to " + strings.Join(peers, " or ") + ", " + describeProtocols(r.Protocols)
}

func describeClusterPeer(namespaces *metav1.LabelSelector, pods *v1beta1.NamespacedPod) string {
	switch {
	case namespaces != nil:
		return "all pods in namespaces " + describeAll(namespaces)
	case pods != nil:
		return "pods " + describeAll(&pods.PodSelector) + " in namespaces " + describeAll(&pods.NamespaceSelector)
	}
	return "a peer the model cannot read"
}

// describeAll is a selector in words, "(all)" when it is empty.
func describeAll(s *metav1.LabelSelector) string {
	if isEmpty(s) {
		return "(all)"
	}
	return describeSelector(s)
}

func describeProtocols(ps []v1beta1.ClusterNetworkPolicyProtocol) string {
	if len(ps) == 0 {
		return "any port"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		switch {
		case p.TCP != nil:
			out[i] = describeClusterPort(p.TCP.DestinationPort, "TCP")
		case p.UDP != nil:
			out[i] = describeClusterPort(p.UDP.DestinationPort, "UDP")
		case p.SCTP != nil:
			out[i] = describeClusterPort(p.SCTP.DestinationPort, "SCTP")
		case p.DestinationNamedPort != "":
			out[i] = "named port " + p.DestinationNamedPort
		default:
			out[i] = "a protocol the model cannot read"
		}
	}
	return strings.Join(out, " or ")
}

func describeClusterPort(p *v1beta1.Port, proto string) string {
	switch {
	case p == nil:
		return "any " + proto + " port"
	case p.Range != nil:
		return fmt.Sprintf("ports %d-%d/%s", p.Range.Start, p.Range.End, proto)
	}
	return fmt.Sprintf("port %d/%s", p.Number, proto)
}

func joinStrings[S ~string](items []S) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
