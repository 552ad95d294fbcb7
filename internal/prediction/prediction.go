// Package prediction says what a cluster's policies (NetworkPolicies and the admin and
// baseline tiers of ClusterNetworkPolicy) allow for each edge of a run, and compares
// that with what the edge declared and what the probes saw, to tell a policy bug from an
// enforcement bug.
package prediction

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/probes"
)

// The cluster DNS every Service name look-up goes through.
const (
	dnsNamespace = "kube-system"
	dnsService   = "kube-dns"
	dnsPort      = 53
)

// DNSLookup judges a source's look-ups: UDP 53 to the cluster DNS's pods. It fails when
// the cluster has no kube-dns Service.
func DNSLookup(c *netpol.Cluster, from netpol.Peer) ([]netpol.Decision, error) {
	return c.EvaluateService(from, dnsNamespace, dnsService, dnsPort, corev1.ProtocolUDP)
}

// Snapshot reads what the model needs: every namespace, and the pods, Services and
// NetworkPolicies of the namespaces the edges touch (and of the cluster DNS), and the
// cluster-wide policy kinds that kinds says are served. Probe pods are left out: they
// are never ready, so never a destination, and they are large.
func Snapshot(ctx context.Context, r client.Reader, kinds policykinds.Source, edges []v1alpha1.Edge) (*netpol.Cluster, error) {
	return SnapshotOf(ctx, r, kinds, NamespacesOf(edges))
}

// SnapshotOf reads every namespace and node, the pods, Services and NetworkPolicies of the given
// namespaces, the ClusterNetworkPolicies, and the policy kinds the model cannot read
// (their metadata), as far as kinds says they are served.
func SnapshotOf(ctx context.Context, r client.Reader, kinds policykinds.Source, namespaces []string) (*netpol.Cluster, error) {
	c := &netpol.Cluster{}
	served, err := kinds.Served(ctx)
	if err != nil {
		return nil, err
	}
	if err := policykinds.Read(ctx, r, served, c); err != nil {
		return nil, err
	}
	var nss corev1.NamespaceList
	if err := r.List(ctx, &nss); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	c.Namespaces = nss.Items
	if c.Nodes, err = readNodes(ctx, r); err != nil {
		return nil, err
	}
	notProbes := client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(notProbePods)}
	for _, ns := range namespaces {
		var pods corev1.PodList
		var svcs corev1.ServiceList
		var pols networkingv1.NetworkPolicyList
		if err := r.List(ctx, &pods, client.InNamespace(ns), notProbes); err != nil {
			return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
		}
		for _, list := range []client.ObjectList{&svcs, &pols} {
			if err := r.List(ctx, list, client.InNamespace(ns)); err != nil {
				return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
			}
		}
		c.Pods = append(c.Pods, pods.Items...)
		c.Services = append(c.Services, svcs.Items...)
		c.Policies = append(c.Policies, pols.Items...)
	}
	return c, nil
}

// readNodes lists the nodes, whose traffic to their own pods is always allowed in. A
// reader that may not list them gets none: node addresses are then ordinary addresses.
func readNodes(ctx context.Context, r client.Reader) ([]corev1.Node, error) {
	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		if apierrors.IsForbidden(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	return nodes.Items, nil
}

var notProbePods = func() labels.Requirement {
	r, err := labels.NewRequirement(probes.LabelRun, selection.DoesNotExist, nil)
	if err != nil {
		panic(err) // a constant requirement
	}
	return *r
}()

// NamespacesOf are the namespaces whose objects decide the edges, sorted: those of their
// sources and destinations, and the cluster DNS's.
func NamespacesOf(edges []v1alpha1.Edge) []string {
	set := map[string]bool{dnsNamespace: true}
	for _, e := range edges {
		set[e.From.Namespace] = true
		switch {
		case e.To.Service != nil:
			set[e.To.Service.Namespace] = true
		case e.To.Pods != nil:
			set[e.To.Pods.Namespace] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// Source is the probe pod an edge's checks came from, as the policies see it.
func Source(from v1alpha1.Source, name, ip string) *corev1.Pod {
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.Labels = name, from.Namespace, from.PodLabels
	pod.Spec.ServiceAccountName = from.ServiceAccountName
	pod.Status.PodIP, pod.Status.Phase = ip, corev1.PodRunning
	return pod
}

// Predict says whether the policies allow an edge from source, using the checks that
// probed it and their results for addresses only the probe resolved. It returns "" when
// the model cannot tell (a Service with backends that disagree, an unknown address), and
// sentences that explain the prediction.
func Predict(c *netpol.Cluster, edge v1alpha1.Edge, source *corev1.Pod, checks []probes.Check, results []probes.Result) (v1alpha1.Expectation, string) {
	lookup, connections, unsettled := decide(c, edge, netpol.PodPeer(source), checks, results)
	if why, ok := undecided(slices.Concat(unsettled, lookup, connections)); ok {
		return "", why
	}
	if unsettled != nil {
		return "", "the policies do not settle this edge: " + strings.Join(reasons(unsettled), " ")
	}
	decisions := slices.Concat(lookup, connections)
	if len(decisions) == 0 {
		return "", ""
	}
	return verdictOf(decisions)
}

// Current says what the policies allow for an edge now, for the checks a run would make,
// before any probe pod exists: "" where the model cannot tell without a probe (a name
// only the probe resolves, a Service whose backends disagree, a destination that admits
// sources by address, which a probe pod gets only when it starts). It lets the
// controller say at once that a change flipped an edge, before any packet.
func Current(c *netpol.Cluster, edge v1alpha1.Edge, checks []probes.Check) (v1alpha1.Expectation, string) {
	if len(checks) == 0 {
		return "", ""
	}
	results := make([]probes.Result, len(checks))
	lookup, connections, unsettled := decide(c, edge, netpol.PodPeer(Source(edge.From, "probe", "")), checks, results)
	decisions := slices.Concat(lookup, connections)
	if _, ok := undecided(slices.Concat(unsettled, decisions)); ok || unsettled != nil || len(decisions) == 0 {
		return "", ""
	}
	for _, d := range decisions {
		if c.AdmitsByAddress(d) {
			return "", ""
		}
	}
	return verdictOf(decisions)
}

// Before says what the policies allow for a check that a new probe pod of the edge's
// source is about to make, before the pod has an address: "" where the model cannot
// tell, where a rule admits by address, or where the verdict has a caveat.
func Before(c *netpol.Cluster, edge v1alpha1.Edge, check probes.Check) probes.PolicyVerdict {
	lookup, connections, unsettled := decide(c, edge, netpol.PodPeer(Source(edge.From, "probe", "")), []probes.Check{check}, []probes.Result{{}})
	decisions := slices.Concat(lookup, connections)
	if unsettled != nil || len(decisions) == 0 {
		return ""
	}
	for _, d := range decisions {
		if d.Undecided || len(d.Caveats) > 0 || c.AdmitsByAddress(d) {
			return ""
		}
	}
	if verdict, _ := verdictOf(decisions); verdict == v1alpha1.ExpectAllow {
		return probes.PolicyAllows
	}
	lookupDenied := slices.ContainsFunc(lookup, func(d netpol.Decision) bool { return !d.Allowed })
	if check.Kind != probes.KindDNS && lookupDenied {
		return probes.PolicyDeniesLookup
	}
	return probes.PolicyDenies
}

// decide judges the DNS look-up an edge needs and the connections of its checks. When
// the model cannot tell for a check, it returns the decisions that stood in its way as
// unsettled instead (non-nil, possibly empty).
func decide(c *netpol.Cluster, edge v1alpha1.Edge, from netpol.Peer, checks []probes.Check, results []probes.Result) (lookup, connections, unsettled []netpol.Decision) {
	if needsDNS(edge) {
		if dns, err := DNSLookup(c, from); err == nil {
			lookup = dns
		}
	}
	for i, check := range checks {
		d, ok := predictCheck(c, edge, from, check, results[i])
		if !ok {
			return nil, nil, append([]netpol.Decision{}, d...)
		}
		connections = append(connections, d...)
	}
	return lookup, connections, nil
}

func needsDNS(edge v1alpha1.Edge) bool {
	return edge.To.Service != nil || edge.To.DNS != nil || (edge.To.Host != nil && net.ParseIP(edge.To.Host.Host) == nil)
}

// predictCheck judges one check's connection; false when the model cannot tell.
func predictCheck(c *netpol.Cluster, edge v1alpha1.Edge, from netpol.Peer, check probes.Check, r probes.Result) ([]netpol.Decision, bool) {
	protocol := corev1.ProtocolTCP
	if check.Kind == probes.KindUDP {
		protocol = corev1.ProtocolUDP
	}
	switch {
	case check.Kind == probes.KindDNS:
		return nil, true // the DNS leg is all there is
	case edge.To.Service != nil:
		d, err := c.EvaluateService(from, edge.To.Service.Namespace, edge.To.Service.Name, check.Port, protocol)
		return d, err == nil && agree(d)
	}
	ip := check.Host
	if net.ParseIP(ip) == nil {
		host, _, err := net.SplitHostPort(r.Target)
		if err != nil {
			return nil, false // the probe never resolved the name
		}
		ip = host
	}
	d := c.Evaluate(netpol.Connection{From: from, To: netpol.AddressPeer(ip), Port: check.Port, Protocol: protocol})
	return []netpol.Decision{d}, true
}

// undecided explains the first decision whose verdict depends on what the model cannot
// read or decide: such an edge gets no prediction, so an observation can never be
// diagnosed against it.
func undecided(ds []netpol.Decision) (string, bool) {
	for _, d := range ds {
		if d.Undecided {
			return "the model cannot decide this edge: " + strings.Join(d.Caveats, "; ") + ". " + strings.Join(d.Reasons, " "), true
		}
	}
	return "", false
}

// agree: every backend of a Service gets the same verdict, so it does not matter which
// one a probe reached.
func agree(ds []netpol.Decision) bool {
	for _, d := range ds {
		if d.Allowed != ds[0].Allowed {
			return false
		}
	}
	return len(ds) > 0
}

// verdictOf allows only when every decision allows; the explanation comes from the
// first decision that denies, or the first one.
func verdictOf(ds []netpol.Decision) (v1alpha1.Expectation, string) {
	for _, d := range ds {
		if !d.Allowed {
			return v1alpha1.ExpectDeny, strings.Join(reasons([]netpol.Decision{d}), " ")
		}
	}
	return v1alpha1.ExpectAllow, strings.Join(reasons(ds[:1]), " ")
}

func reasons(ds []netpol.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Reasons...)
	}
	return out
}

// Diagnose names what disagrees when the declared intent, the policies and the dataplane
// do not line up: DataplaneMismatch when the probes saw other than the policies say
// (enforcement), else PolicyMismatch when the policies say other than the edge declares.
func Diagnose(expected, predicted v1alpha1.Expectation, observed v1alpha1.Observation) v1alpha1.Diagnosis {
	seen, ok := probes.Outcome(observed)
	switch {
	case predicted == "" || !ok:
		return ""
	case seen != predicted:
		return v1alpha1.DiagnosisDataplaneMismatch
	case predicted != expected:
		return v1alpha1.DiagnosisPolicyMismatch
	}
	return ""
}
