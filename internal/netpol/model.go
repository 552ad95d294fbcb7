// Package netpol predicts what Kubernetes NetworkPolicy (networking.k8s.io/v1) allows,
// without a cluster and without sending a packet. It judges one connection between two
// pods, or between a pod and an address outside the pods, against the policies of a
// Cluster snapshot, and explains the verdict in sentences that name the policies and
// rules that made it.
//
// The semantics are those of the Kubernetes documentation and of the upstream
// NetworkPolicy conformance tests (k8s.io/kubernetes test/e2e/network/netpol): a pod is
// isolated in a direction only when a policy of its namespace selects it for that
// direction; what isolated pods accept is the union of the rules of every policy that
// selects them; a connection needs the source's egress and the destination's ingress.
package netpol

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// Cluster is the snapshot the model judges against. Only these fields are read:
// namespaces' names and labels; pods' namespace, name, labels, IPs, container ports
// (with their names and protocols), readiness and hostNetwork; Services' namespace, name,
// cluster IP, selector and ports; NetworkPolicies; ClusterNetworkPolicies; the policy
// kinds the model cannot read; and nodes' names and addresses. The model never modifies it.
type Cluster struct {
	Namespaces []corev1.Namespace
	Pods       []corev1.Pod
	Services   []corev1.Service
	Policies   []networkingv1.NetworkPolicy
	// ClusterNetworkPolicies are the admin and baseline tiers. Older served versions are
	// converted with FromV1alpha2, FromAdminNetworkPolicy and
	// FromBaselineAdminNetworkPolicy.
	ClusterNetworkPolicies []v1beta1.ClusterNetworkPolicy
	// Unreadable are policy kinds the cluster holds objects of and the model cannot read:
	// a connection they could affect is undecided.
	Unreadable []UnreadableKind
	// Nodes are read for their names and addresses: traffic from a pod's own node is
	// allowed in whatever the policies say.
	Nodes []corev1.Node
}

// UnreadableKind is a policy kind the model cannot read, and where its objects are.
type UnreadableKind struct {
	Group, Version, Resource, Kind string
	// Namespaced is true for a namespaced kind, whose objects affect only the pods of
	// their namespaces; a cluster-scoped kind may affect any connection.
	Namespaced bool
	// Namespaces hold the kind's objects, when Namespaced.
	Namespaces []string
	// Count is how many objects of the kind exist; 0 for a kind netconform may not list
	// (which then counts as able to affect any connection).
	Count int
}

// HasNamespace reports whether the snapshot holds the namespace of that name.
func (c *Cluster) HasNamespace(name string) bool {
	return c != nil && slices.ContainsFunc(c.Namespaces, func(ns corev1.Namespace) bool { return ns.Name == name })
}

// Peer is one end of a connection: a pod, or an address outside the pods.
type Peer struct {
	// Pod is the pod at this end, or nil for an address that is no pod's.
	Pod *corev1.Pod
	// IP is the address at this end. For a pod it may be left empty, and the pod's
	// status.podIP is used; set it to pick one of a dual-stack pod's addresses.
	IP string
}

// PodPeer is the pod's end of a connection, at its primary IP.
func PodPeer(pod *corev1.Pod) Peer { return Peer{Pod: pod} }

// AddressPeer is an address at the end of a connection, such as an off-cluster host.
// Evaluate recognises the IP of a pod of the Cluster and judges that pod.
func AddressPeer(ip string) Peer { return Peer{IP: ip} }

// Address is the IP this end uses: IP when set, otherwise the pod's primary IP.
func (p Peer) Address() string {
	if p.IP == "" && p.Pod != nil {
		return p.Pod.Status.PodIP
	}
	return p.IP
}

// String names the peer as "namespace/name" for a pod and by its IP otherwise.
func (p Peer) String() string {
	switch {
	case p.Pod != nil:
		return podKey(p.Pod)
	case p.IP != "":
		return p.IP
	default:
		return "an unknown address"
	}
}

// Connection is the traffic to judge: From opens a connection To a destination port.
type Connection struct {
	From, To Peer
	// Port is the destination port, as the destination pod sees it (after any Service
	// translation: see EvaluateService).
	Port int32
	// Protocol is TCP, UDP or SCTP; empty means TCP.
	Protocol corev1.Protocol
}

// String is the connection in words, such as "x/a to x/b port 80/TCP".
func (c Connection) String() string {
	return fmt.Sprintf("%s to %s port %d/%s", c.From, c.To, c.Port, protocolOrTCP(c.Protocol))
}

// Decision is the model's verdict on a connection and why.
type Decision struct {
	// Connection is what was judged: for a Service, the connection after translation to
	// one backend pod; an address of a known pod is replaced by that pod.
	Connection Connection
	// Allowed is true when both the source's egress and the destination's ingress allow
	// the connection.
	Allowed bool
	// Egress is the verdict on the source's side, Ingress on the destination's side.
	Egress, Ingress DirectionDecision
	// Reasons explain the verdict in sentences, the verdict first.
	Reasons []string
	// Caveats name what makes the verdict uncertain on a real dataplane because the
	// NetworkPolicy API leaves it undefined (a pod reaching itself, host-network pods).
	// An observation that disagrees with a verdict carrying caveats proves nothing.
	Caveats []string
	// Undecided is true when the verdict depends on what the model cannot read or decide
	// (a policy kind it cannot read, an experimental ClusterNetworkPolicy peer, a rule of
	// an unknown version): Allowed is then no verdict and must be ignored; Caveats say why.
	Undecided bool
}

// DirectionDecision is the verdict on one side of a connection: egress on the source,
// ingress on the destination.
type DirectionDecision struct {
	// Pod is "namespace/name" of the pod this side is judged on; empty when this side is
	// an address outside the pods, which no NetworkPolicy governs (Allowed is then true).
	Pod string
	// Isolated is true when at least one NetworkPolicy selects Pod for this direction.
	Isolated bool
	// Allowed is the verdict of the tiers together (see Tier).
	Allowed bool
	// Policies are "namespace/name" of the policies that select Pod for this direction,
	// sorted.
	Policies []string
	// AllowedBy are the rules that allow the connection, in the order of Policies.
	AllowedBy []RuleRef
	// NetworkPolicyAllowed is the NetworkPolicy tier's verdict alone: true when Pod is
	// not isolated or a rule allows the connection.
	NetworkPolicyAllowed bool
	// Tier is the tier that decided Allowed: TierAdmin, TierNetworkPolicy or
	// TierBaseline; empty when none did and the connection is allowed by default.
	Tier string
	// ClusterRule is the ClusterNetworkPolicy rule that decided, when Tier is TierAdmin
	// or TierBaseline.
	ClusterRule *ClusterRuleRef
	// Passed are the Pass rules the connection went through on its way.
	Passed []ClusterRuleRef
	// Undecided is true when this side's verdict depends on what the model cannot
	// decide; the Decision's Caveats say what.
	Undecided bool
	// OwnNode is the node the traffic comes from when it is the destination pod's own
	// node, which is always allowed in: no tier decides.
	OwnNode string
}

// RuleRef points at one rule of a policy.
type RuleRef struct {
	// Policy is "namespace/name" of the policy.
	Policy string
	// Direction is Ingress (spec.ingress) or Egress (spec.egress).
	Direction networkingv1.PolicyType
	// Index is the rule's position in spec.ingress or spec.egress, from 0. Sentences
	// count from 1 ("ingress rule 1" is Index 0).
	Index int
	// Rule is the rule in words, such as "from pods app=catalog in bookstore, port
	// 5432/TCP".
	Rule string
}

// String is the rule reference in words, such as "bookstore/allow ingress rule 1 (from
// pods app=catalog in bookstore, port 5432/TCP)".
func (r RuleRef) String() string {
	return fmt.Sprintf("%s %s rule %d (%s)", r.Policy, direction(r.Direction), r.Index+1, r.Rule)
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func policyKey(p *networkingv1.NetworkPolicy) string { return p.Namespace + "/" + p.Name }

// protocolOrTCP applies the API's default protocol.
func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
