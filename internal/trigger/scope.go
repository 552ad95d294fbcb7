// Package trigger decides which changes to the cluster can change a ReachabilityTest's
// edges, and when a test that follows changes runs again. It reads nothing: the
// controller watches NetworkPolicies, namespaces and pods, describes each change as a
// Change, and asks every test's Scope whether it is affected; a Pending per test then
// says when to predict and when to run.
//
// The rule follows the NetworkPolicy model (internal/netpol). A policy selects pods of
// its own namespace only, and its peers (podSelector, namespaceSelector, ipBlock) are
// matched against the other end of a connection. The two ends of an edge are the probe
// pod, in the source's namespace with exactly the source's labels, and the destination:
// pods, a Service's backends, or an address. So only these can change an edge:
//   - a NetworkPolicy of the source's namespace that could select the probe pod, or of a
//     destination's namespace that could select a destination pod (old or new version);
//   - the labels of the source's or a destination's namespace (a namespaceSelector of a
//     policy there is matched against them);
//   - a destination pod relabelled, added or removed (which policies select it, which
//     address an ipBlock sees);
//   - any cluster-wide policy (ClusterNetworkPolicy, AdminNetworkPolicy,
//     BaselineAdminNetworkPolicy): its subject and peers select namespaces by their
//     labels, so any test may be affected.
//
// A namespace no edge has an end in cannot: its policies select its own pods, and a
// namespaceSelector or ipBlock that names it is matched against an edge's ends, which
// are not there. Other pods never count: no edge's end is a bystander pod.
package trigger

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// Cause is what kind of change it was, as metrics and events name it.
type Cause string

// Causes.
const (
	// CausePolicy: a NetworkPolicy or a cluster-wide policy was created, changed or
	// deleted.
	CausePolicy Cause = "PolicyChange"
	// CauseNamespaceLabels: a namespace's labels changed (or it came or went).
	CauseNamespaceLabels Cause = "NamespaceLabels"
	// CausePodLabels: a pod's labels changed, or it came or went.
	CausePodLabels Cause = "PodLabels"
)

// Causes are every cause, in a fixed order.
var Causes = []Cause{CausePolicy, CauseNamespaceLabels, CausePodLabels}

// Follows says whether a test that re-runs on these triggers follows changes of this
// cause.
func (c Cause) Follows(on []v1alpha1.RerunTrigger) bool {
	if c == CausePolicy {
		return slices.Contains(on, v1alpha1.RerunOnPolicyChange)
	}
	return slices.Contains(on, v1alpha1.RerunOnLabelChange)
}

// Change is one change to the cluster, as the controller saw it.
type Change struct {
	Cause Cause
	// Namespace is the policy's or the pod's namespace, or the namespace itself.
	Namespace string
	// Name is the policy's, the pod's or the namespace's name.
	Name string
	// OldPolicy and NewPolicy are the policy before and after; nil when it was created,
	// or deleted. Only for CausePolicy.
	OldPolicy, NewPolicy *networkingv1.NetworkPolicy
	// ClusterKind is the kind of the cluster-wide policy that changed, such as
	// ClusterNetworkPolicy; empty for a NetworkPolicy. Only for CausePolicy.
	ClusterKind string
	// ClusterEvent says what happened to the cluster-wide policy.
	ClusterEvent ClusterEvent
	// OldLabels and NewLabels are the labels before and after; nil when the object was
	// created, or deleted. Only for the label causes.
	OldLabels, NewLabels map[string]string
}

// ClusterEvent is what happened to a cluster-wide policy.
type ClusterEvent string

// Cluster events.
const (
	ClusterCreated ClusterEvent = "created"
	ClusterChanged ClusterEvent = "changed"
	ClusterDeleted ClusterEvent = "deleted"
)

// String says what changed, such as "NetworkPolicy bookstore/default-deny deleted".
func (c Change) String() string {
	var kind, key string
	var created, deleted bool
	if c.ClusterKind != "" {
		return fmt.Sprintf("%s %s %s", c.ClusterKind, c.Name, c.ClusterEvent)
	}
	switch c.Cause {
	case CausePolicy:
		kind, key = "NetworkPolicy", c.Namespace+"/"+c.Name
		created, deleted = c.OldPolicy == nil, c.NewPolicy == nil
	case CauseNamespaceLabels:
		kind, key = "namespace", c.Name
		created, deleted = c.OldLabels == nil, c.NewLabels == nil
	default:
		kind, key = "pod", c.Namespace+"/"+c.Name
		created, deleted = c.OldLabels == nil, c.NewLabels == nil
	}
	switch {
	case created:
		return fmt.Sprintf("%s %s created", kind, key)
	case deleted:
		return fmt.Sprintf("%s %s deleted", kind, key)
	case c.Cause == CausePolicy:
		return fmt.Sprintf("%s %s changed", kind, key)
	}
	return fmt.Sprintf("%s %s relabelled", kind, key)
}

// Scope is what a test's edges have in each namespace: the probe pods of its sources,
// and what is known of its destination pods.
type Scope struct {
	namespaces map[string]*namespaceScope
}

type namespaceScope struct {
	// seen holds the label sets already in sources and destinations: edges share them,
	// and a change is judged against each once.
	seen map[string]bool
	// sources are the labels of the probe pods that start here: exactly these (and the
	// netconform.io/ labels netconform adds).
	sources []map[string]string
	// destinations are labels every destination pod here carries, among others.
	destinations []map[string]string
	// anyPod: a destination here whose pods the test does not describe (a Service's
	// backends, an address that may be a pod's): any pod may be one.
	anyPod bool
}

// The cluster DNS, which every Service name look-up goes through.
const (
	dnsNamespace = "kube-system"
	dnsLabel     = "k8s-app"
	dnsApp       = "kube-dns"
)

// ScopeOf is the scope of a test's edges.
func ScopeOf(edges []v1alpha1.Edge) Scope {
	s := Scope{namespaces: map[string]*namespaceScope{}}
	var addresses bool
	for _, e := range edges {
		src := s.namespace(e.From.Namespace)
		if key := "s" + labels.Set(e.From.PodLabels).String(); !src.seen[key] {
			src.seen[key] = true
			src.sources = append(src.sources, e.From.PodLabels)
		}
		switch {
		case e.To.Pods != nil:
			dst := s.namespace(e.To.Pods.Namespace)
			if key := "d" + labels.Set(e.To.Pods.PodLabels).String(); !dst.seen[key] {
				dst.seen[key] = true
				dst.destinations = append(dst.destinations, e.To.Pods.PodLabels)
			}
		case e.To.Service != nil:
			s.namespace(e.To.Service.Namespace).anyPod = true
		case e.To.Host != nil:
			// An address the model recognises as a pod's is judged as that pod, and a
			// name resolves to any address: any pod of the test's namespaces may be it.
			addresses = true
		}
		if needsDNS(e) {
			if dns := s.namespace(dnsNamespace); !dns.seen["dns"] {
				dns.seen["dns"] = true
				dns.destinations = append(dns.destinations, map[string]string{dnsLabel: dnsApp})
			}
		}
	}
	if addresses {
		for _, ns := range s.namespaces {
			ns.anyPod = true
		}
	}
	return s
}

func (s Scope) namespace(name string) *namespaceScope {
	ns, ok := s.namespaces[name]
	if !ok {
		ns = &namespaceScope{seen: map[string]bool{}}
		s.namespaces[name] = ns
	}
	return ns
}

func needsDNS(e v1alpha1.Edge) bool {
	return e.To.Service != nil || e.To.DNS != nil || (e.To.Host != nil && net.ParseIP(e.To.Host.Host) == nil)
}

// Namespaces are the namespaces the test's edges have an end in, sorted.
func (s Scope) Namespaces() []string {
	return slices.Sorted(maps.Keys(s.namespaces))
}

// Affects says whether the change can change any of the test's edges, and why, in
// words, when it can.
func (s Scope) Affects(c Change) (bool, string) {
	if c.Cause == CausePolicy && c.ClusterKind != "" {
		return len(s.namespaces) > 0, "a " + c.ClusterKind + " may select the pods of any namespace"
	}
	ns := s.namespaces[c.Namespace]
	if c.Cause == CauseNamespaceLabels {
		ns = s.namespaces[c.Name]
	}
	if ns == nil {
		return false, ""
	}
	switch c.Cause {
	case CausePolicy:
		for _, p := range []*networkingv1.NetworkPolicy{c.OldPolicy, c.NewPolicy} {
			if p == nil {
				continue
			}
			if why := ns.selectedBy(&p.Spec.PodSelector); why != "" {
				return true, why
			}
		}
		return false, ""
	case CauseNamespaceLabels:
		if maps.Equal(c.OldLabels, c.NewLabels) && c.OldLabels != nil && c.NewLabels != nil {
			return false, ""
		}
		return true, "an edge has an end in namespace " + c.Name
	case CausePodLabels:
		if maps.Equal(c.OldLabels, c.NewLabels) && c.OldLabels != nil && c.NewLabels != nil {
			return false, ""
		}
		for _, set := range []map[string]string{c.OldLabels, c.NewLabels} {
			if set != nil && ns.isDestination(set) {
				return true, "the pod is, or was, a destination"
			}
		}
	}
	return false, ""
}

// selectedBy says which of the namespace's ends a policy's podSelector may select, or ""
// for none.
func (ns *namespaceScope) selectedBy(sel *metav1.LabelSelector) string {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "" // the API server rejects it; the model selects nothing with it
	}
	reqs, _ := selector.Requirements()
	for _, src := range ns.sources {
		if mayMatch(reqs, src, isProbeLabel) {
			return "it may select a source's probe pod"
		}
	}
	if ns.anyPod {
		return "it may select a destination pod"
	}
	for _, dst := range ns.destinations {
		if mayMatch(reqs, dst, func(string) bool { return true }) {
			return "it may select a destination pod"
		}
	}
	return ""
}

// isDestination says whether a pod with these labels may be one of the destinations.
func (ns *namespaceScope) isDestination(set map[string]string) bool {
	if ns.anyPod {
		return true
	}
	for _, dst := range ns.destinations {
		if labels.SelectorFromSet(dst).Matches(labels.Set(set)) {
			return true
		}
	}
	return false
}

// mayMatch says whether a pod whose labels include known may match every requirement.
// A requirement on a key known does not hold is decided by known; on any other key it
// may hold, when unknown says the pod may carry that key with any value.
func mayMatch(reqs labels.Requirements, known map[string]string, unknown func(key string) bool) bool {
	for _, r := range reqs {
		if _, ok := known[r.Key()]; !ok && unknown(r.Key()) {
			continue // the pod may lack the key or carry any value
		}
		if !r.Matches(labels.Set(known)) {
			return false
		}
	}
	return true
}

// isProbeLabel: besides the source's labels, a probe pod carries the run's label and one
// label per test it serves, whatever their values. Other netconform.io/ labels (the
// canary's) it never carries: a policy that needs one does not select it.
func isProbeLabel(key string) bool {
	return key == probes.LabelRun || strings.HasPrefix(key, probes.TestLabel(""))
}
