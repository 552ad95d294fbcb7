// Package explain judges one connection against a cluster's policies without
// sending a packet, for `netconform explain`: from a source identity (a namespace and the
// labels of a pod in it) to a Service, a pod or an address, at a port. It reads what the
// verdict depends on through a client.Reader, asks the policy model (netpol: the admin
// and baseline tiers of ClusterNetworkPolicy around NetworkPolicy) and
// answers whether the connection is allowed, with the model's reasons and what could
// make the answer wrong on a real dataplane.
package explain

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/prediction"
)

// Kind is what the destination of a Query is.
type Kind string

// The destinations a Query can name.
const (
	// Service is a Service, Namespace/Name, judged towards each of its ready backends.
	Service Kind = "Service"
	// Pod is a pod, Namespace/Name.
	Pod Kind = "Pod"
	// Address is an IP: a pod's, when a pod has it, else an address outside the pods.
	Address Kind = "Address"
)

// Query is one connection to judge: a source identity to a destination port.
type Query struct {
	// From is the source: a pod of From.Namespace carrying From.PodLabels.
	From v1alpha1.Source
	// FromNode, when set, is the source instead of From: the node of that name, from its
	// InternalIP.
	FromNode string
	// Kind is what the destination is.
	Kind Kind
	// Namespace and Name name the Service or the pod.
	Namespace, Name string
	// IP is the Address.
	IP string
	// Port is the destination port: the Service's port for a Service, else the port the
	// destination listens on.
	Port int32
	// Protocol is TCP or UDP.
	Protocol corev1.Protocol
}

// Answer is the verdict on a Query.
type Answer struct {
	// Allowed is true when the policies allow every connection the query may make (to
	// each backend of a Service), and the model can decide each.
	Allowed bool
	// Undecided is true when a connection's verdict depends on what the model cannot
	// read or decide; the caveats say what.
	Undecided bool
	// Tiers say, per connection, which tier decided each direction, when the cluster
	// has ClusterNetworkPolicies.
	Tiers []string
	// Reasons are the model's sentences, the verdict on each connection first.
	Reasons []string
	// Caveats are what could make the answer wrong on a real dataplane: behaviour the
	// NetworkPolicy API leaves undefined, backends of a Service that disagree, a source
	// that may not look the Service's name up.
	Caveats []string
}

// Lines is the answer as `netconform explain` prints it: ALLOWED, DENIED or UNDECIDED,
// the tiers that decided after "tier: ", the reasons, then each caveat after "caveat: ".
func (a Answer) Lines() []string {
	lines := []string{"DENIED"}
	switch {
	case a.Undecided:
		lines[0] = "UNDECIDED"
	case a.Allowed:
		lines[0] = "ALLOWED"
	}
	for _, t := range a.Tiers {
		lines = append(lines, "tier: "+t)
	}
	lines = append(lines, a.Reasons...)
	for _, c := range a.Caveats {
		lines = append(lines, "caveat: "+c)
	}
	return lines
}

// Connection reads the objects the query depends on and judges it against the cluster's
// policies. Errors about the query name its part as `netconform explain`'s flags do
// (--from, --to): a source namespace, Service or pod that does not exist, or a port the
// Service does not have.
func Connection(ctx context.Context, r client.Reader, kinds policykinds.Source, q Query) (Answer, error) {
	edges := []v1alpha1.Edge{{From: q.From}}
	switch q.Kind {
	case Service:
		edges[0].To.Service = &v1alpha1.ServiceDestination{Namespace: q.Namespace, Name: q.Name}
	case Pod:
		edges[0].To.Pods = &v1alpha1.PodsDestination{Namespace: q.Namespace}
	case Address:
		// The address may be a pod's: read the namespaces of the pods that have it.
		nss, err := namespacesWithIP(ctx, r, q.IP)
		if err != nil {
			return Answer{}, err
		}
		for _, ns := range nss {
			edges = append(edges, v1alpha1.Edge{From: q.From, To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: ns}}})
		}
	default:
		return Answer{}, fmt.Errorf("unknown kind of destination %q: want %s, %s or %s", q.Kind, Service, Pod, Address)
	}
	// A node source has no namespace of its own to read.
	c, err := prediction.SnapshotOf(ctx, r, kinds, slices.DeleteFunc(prediction.NamespacesOf(edges), func(ns string) bool { return ns == "" }))
	if err != nil {
		return Answer{}, fmt.Errorf("reading the cluster: %w", err)
	}
	src, err := source(c, q)
	if err != nil {
		return Answer{}, err
	}
	var decisions []netpol.Decision
	var notes []string
	switch q.Kind {
	case Service:
		decisions, err = c.EvaluateService(src, q.Namespace, q.Name, q.Port, q.Protocol)
		if err != nil {
			return Answer{}, fmt.Errorf("--to: %w", err)
		}
		if q.FromNode == "" { // a node resolves names through its own resolver
			notes = serviceNotes(c, src, decisions)
		}
	case Pod:
		i := slices.IndexFunc(c.Pods, func(p corev1.Pod) bool { return p.Namespace == q.Namespace && p.Name == q.Name })
		if i < 0 {
			return Answer{}, fmt.Errorf("--to: pod %s/%s not found", q.Namespace, q.Name)
		}
		decisions = []netpol.Decision{c.Evaluate(netpol.Connection{From: src, To: netpol.PodPeer(&c.Pods[i]), Port: q.Port, Protocol: q.Protocol})}
	case Address:
		decisions = []netpol.Decision{c.Evaluate(netpol.Connection{From: src, To: netpol.AddressPeer(q.IP), Port: q.Port, Protocol: q.Protocol})}
	}
	if q.FromNode != "" {
		notes = append(notes, otherNodeNotes(q.FromNode, src.Address(), decisions)...)
	}
	return answerOf(c, decisions, notes), nil
}

// otherNodeNotes warn where a node's traffic reaches a pod on another node: the model
// takes it to come from the node's InternalIP, which an overlay's tunnel address,
// masquerading, or a CNI that keeps ipBlock rules off nodes' addresses can change.
func otherNodeNotes(node, address string, decisions []netpol.Decision) []string {
	for _, d := range decisions {
		if pod := d.Connection.To.Pod; pod != nil && d.Ingress.OwnNode == "" {
			return []string{fmt.Sprintf("from node %s to a pod on another node (%s/%s on %s) the answer takes the packets to come from %s, the node's InternalIP: an overlay's tunnel address, masquerading, or a CNI that keeps ipBlock rules off nodes' addresses can make the destination see another source; only a connection from the node shows what its dataplane does",
				node, pod.Namespace, pod.Name, orUnscheduled(pod.Spec.NodeName), address)}
		}
	}
	return nil
}

func orUnscheduled(node string) string {
	if node == "" {
		return "no node yet"
	}
	return node
}

// source is the query's source: a node at its InternalIP, or a pod of the source
// identity.
func source(c *netpol.Cluster, q Query) (netpol.Peer, error) {
	if q.FromNode != "" {
		i := slices.IndexFunc(c.Nodes, func(n corev1.Node) bool { return n.Name == q.FromNode })
		if i < 0 {
			return netpol.Peer{}, fmt.Errorf("--from: node %s not found (or the nodes may not be listed with these credentials)", q.FromNode)
		}
		ip := netpol.NodeAddress(&c.Nodes[i])
		if ip == "" {
			return netpol.Peer{}, fmt.Errorf("--from: node %s has no InternalIP in status.addresses: give its address as the source instead", q.FromNode)
		}
		return netpol.AddressPeer(ip), nil
	}
	if !c.HasNamespace(q.From.Namespace) {
		return netpol.Peer{}, fmt.Errorf("--from: namespace %s does not exist in the cluster", q.From.Namespace)
	}
	// A name no real pod can have, so the source is never taken for the destination.
	return netpol.PodPeer(prediction.Source(q.From, "["+labelString(q.From.PodLabels)+"]", "")), nil
}

// answerOf sums the decisions up: allowed only when each is decided and allowed.
func answerOf(c *netpol.Cluster, decisions []netpol.Decision, notes []string) Answer {
	a := Answer{
		Allowed:   !slices.ContainsFunc(decisions, func(d netpol.Decision) bool { return !d.Allowed || d.Undecided }),
		Undecided: slices.ContainsFunc(decisions, func(d netpol.Decision) bool { return d.Undecided }),
	}
	for _, d := range decisions {
		a.Reasons = append(a.Reasons, d.Reasons...)
		if len(c.ClusterNetworkPolicies) > 0 {
			a.Tiers = append(a.Tiers, tiers(d))
		}
	}
	for _, d := range decisions {
		a.Caveats = append(a.Caveats, d.Caveats...)
	}
	a.Caveats = append(a.Caveats, notes...)
	return a
}

// tiers says which tier decided each direction of a decision.
func tiers(d netpol.Decision) string {
	return fmt.Sprintf("%s, %s", tierOf("egress from "+d.Connection.From.String(), d.Egress), tierOf("ingress to "+d.Connection.To.String(), d.Ingress))
}

func tierOf(side string, dd netpol.DirectionDecision) string {
	verdict := "denied"
	if dd.Allowed {
		verdict = "allowed"
	}
	switch {
	case dd.Undecided:
		return side + " undecided"
	case dd.Pod == "":
		return side + " not judged (not a pod)"
	case dd.OwnNode != "":
		return fmt.Sprintf("%s allowed: from its own node %s, which no tier governs", side, dd.OwnNode)
	case dd.ClusterRule != nil:
		return fmt.Sprintf("%s %s in tier %s by %s %s", side, verdict, dd.Tier, dd.ClusterRule.Kind, dd.ClusterRule.Policy)
	case dd.Tier == netpol.TierNetworkPolicy:
		return fmt.Sprintf("%s %s in tier NetworkPolicy", side, verdict)
	}
	return side + " allowed by default (no tier decides)"
}

// serviceNotes: the backends of a Service that disagree, and a source that may not look
// the Service's name up.
func serviceNotes(c *netpol.Cluster, src netpol.Peer, decisions []netpol.Decision) []string {
	var notes []string
	if slices.ContainsFunc(decisions, func(d netpol.Decision) bool { return d.Allowed != decisions[0].Allowed }) {
		notes = append(notes, "the Service's backends get different verdicts: whether a connection succeeds depends on the backend it reaches")
	}
	dns, err := prediction.DNSLookup(c, src)
	if err != nil {
		return notes
	}
	for _, d := range dns {
		if !d.Allowed {
			return append(notes, fmt.Sprintf("looking the Service's name up fails, so only its cluster IP can be reached: %s", d.Reasons[0]))
		}
	}
	return notes
}

// namespacesWithIP lists the namespaces of the pods that have the address.
func namespacesWithIP(ctx context.Context, r client.Reader, ip string) ([]string, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods); err != nil {
		return nil, fmt.Errorf("reading the cluster's pods: %w", err)
	}
	var out []string
	for _, p := range pods.Items {
		ips := []string{p.Status.PodIP}
		for _, pi := range p.Status.PodIPs {
			ips = append(ips, pi.IP)
		}
		if slices.ContainsFunc(ips, func(s string) bool { return sameIP(s, ip) }) && !slices.Contains(out, p.Namespace) {
			out = append(out, p.Namespace)
		}
	}
	return out, nil
}

func sameIP(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	return errX == nil && errY == nil && x.Unmap() == y.Unmap()
}

// labelString is labels as k=v,k=v sorted by key, or "no labels".
func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "no labels"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}
