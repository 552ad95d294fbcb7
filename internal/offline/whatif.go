package offline

import (
	"cmp"
	"context"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
	"github.com/netconform/netconform/probes"
)

// Policies are the policies a what-if adds to a cluster's.
type Policies struct {
	NetworkPolicies        []networkingv1.NetworkPolicy
	ClusterNetworkPolicies []v1beta1.ClusterNetworkPolicy
}

// PoliciesOf are the policies the manifests declare.
func PoliciesOf(m *Manifests) Policies {
	return Policies{NetworkPolicies: m.Cluster.Policies, ClusterNetworkPolicies: m.Cluster.ClusterNetworkPolicies}
}

// Replaced counts the policies that take the place of one of the cluster's.
func (p Policies) Replaced(c *netpol.Cluster) int {
	n := 0
	for _, np := range p.NetworkPolicies {
		if slices.ContainsFunc(c.Policies, sameNetworkPolicy(np)) {
			n++
		}
	}
	for _, cnp := range p.ClusterNetworkPolicies {
		if slices.ContainsFunc(c.ClusterNetworkPolicies, sameClusterPolicy(cnp)) {
			n++
		}
	}
	return n
}

// With is a copy of the cluster with the policies added, each replacing the cluster's
// policy of the same namespace and name.
func (p Policies) With(c *netpol.Cluster) *netpol.Cluster {
	out := *c
	out.Policies = mergeBy(c.Policies, p.NetworkPolicies, sameNetworkPolicy)
	out.ClusterNetworkPolicies = mergeBy(c.ClusterNetworkPolicies, p.ClusterNetworkPolicies, sameClusterPolicy)
	return &out
}

func sameNetworkPolicy(a networkingv1.NetworkPolicy) func(networkingv1.NetworkPolicy) bool {
	return func(b networkingv1.NetworkPolicy) bool { return a.Namespace == b.Namespace && a.Name == b.Name }
}

func sameClusterPolicy(a v1beta1.ClusterNetworkPolicy) func(v1beta1.ClusterNetworkPolicy) bool {
	return func(b v1beta1.ClusterNetworkPolicy) bool { return a.Name == b.Name }
}

// mergeBy is have without the items that one of add replaces, then add.
func mergeBy[T any](have, add []T, same func(T) func(T) bool) []T {
	out := make([]T, 0, len(have)+len(add))
	for _, h := range have {
		if !slices.ContainsFunc(add, func(a T) bool { return same(a)(h) }) {
			out = append(out, h)
		}
	}
	return append(out, add...)
}

// Change is an edge whose prediction the added policies change.
type Change struct {
	Test, Edge string
	Expected   v1alpha1.Expectation
	// Before and After are what the policies allow without and with the added ones; ""
	// where they do not decide it.
	Before, After v1alpha1.Expectation
	// Why explains After.
	Why string
}

// Breaks tells whether the change leaves the edge predicted against what it expects.
func (c Change) Breaks() bool { return c.After != "" && c.After != c.Expected }

// Changes predicts each edge of the tests on a live cluster before and after the
// policies are added, as the controller predicts before a probe starts
// (prediction.Current), and lists the edges whose prediction differs, in test and edge
// order.
func Changes(before *netpol.Cluster, add Policies, tests []v1alpha1.ReachabilityTest) []Change {
	after := add.With(before)
	var out []Change
	for _, t := range tests {
		for _, e := range t.Spec.Edges {
			was, _ := current(before, e)
			now, why := current(after, e)
			if was != now {
				out = append(out, Change{Test: t.Name, Edge: e.Name, Expected: e.Expect, Before: was, After: now, Why: why})
			}
		}
	}
	return out
}

func current(c *netpol.Cluster, e v1alpha1.Edge) (v1alpha1.Expectation, string) {
	checks, err := probes.ChecksFor(context.Background(), e, resolver{c}, ClusterDomain)
	if err != nil {
		return "", err.Error()
	}
	predicted, why := prediction.Current(c, e, checks)
	if predicted == v1alpha1.ExpectAllow {
		probe := netpol.PodPeer(prediction.Source(e.From, "probe", ""))
		why = cmp.Or(allowedBecause(c, e, probe, checks), why)
	}
	if predicted == "" && why == "" {
		why = "the policies do not settle it before a probe runs (an address only a probe pod gets, or backends that disagree)"
	}
	return predicted, why
}

// Reader is a client.Reader of a cluster with the policies added: lists of
// NetworkPolicies and ClusterNetworkPolicies hold them, each replacing the cluster's of
// the same namespace and name. It writes nothing: a what-if reads only.
func (p Policies) Reader(r client.Reader) client.Reader { return overlay{Reader: r, add: p} }

type overlay struct {
	client.Reader
	add Policies
}

func (o overlay) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := o.Reader.List(ctx, list, opts...); err != nil {
		return err
	}
	ns := (&client.ListOptions{}).ApplyOptions(opts).Namespace
	switch l := list.(type) {
	case *networkingv1.NetworkPolicyList:
		add := slices.DeleteFunc(slices.Clone(o.add.NetworkPolicies), func(p networkingv1.NetworkPolicy) bool { return ns != "" && p.Namespace != ns })
		l.Items = mergeBy(l.Items, add, sameNetworkPolicy)
	case *v1beta1.ClusterNetworkPolicyList:
		l.Items = mergeBy(l.Items, o.add.ClusterNetworkPolicies, sameClusterPolicy)
	}
	return nil
}
