// Package policykinds finds which policy APIs a cluster serves besides NetworkPolicy, and
// reads them for the model: ClusterNetworkPolicy (and the older AdminNetworkPolicy and
// BaselineAdminNetworkPolicy) whole, and the policy kinds the model cannot read (Calico,
// Cilium, Antrea, or any kind whose name says it is a network policy) by their metadata
// only, so that predictions they could affect are said to be partial instead of wrong.
package policykinds

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// The policy.networking.k8s.io group (sigs.k8s.io/network-policy-api) and the versions
// of it the model reads, most preferred first.
const (
	PolicyGroup                = "policy.networking.k8s.io"
	KindClusterNetworkPolicy   = "ClusterNetworkPolicy"
	KindAdminNetworkPolicy     = "AdminNetworkPolicy"
	KindBaselineAdminNetPolicy = "BaselineAdminNetworkPolicy"
)

// cnpVersions are the ClusterNetworkPolicy versions the model reads, preferred first.
var cnpVersions = []string{"v1beta1", "v1alpha2"}

// Resource is one served kind at one version.
type Resource struct {
	Group, Version, Resource, Kind string
	Namespaced                     bool
}

// GroupVersionKind is the resource's kind at its version.
func (r Resource) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// String names the resource as kubectl does, such as "networkpolicies.crd.projectcalico.org".
func (r Resource) String() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// Served is what the cluster serves of the policy kinds beyond NetworkPolicy. The zero
// value serves none.
type Served struct {
	// ClusterNetworkPolicy is the version of ClusterNetworkPolicy to read (v1beta1 where
	// served, else v1alpha2); empty when neither is served.
	ClusterNetworkPolicy *Resource
	// AdminNetworkPolicy and BaselineAdminNetworkPolicy are the v1alpha1 kinds, when
	// served.
	AdminNetworkPolicy, BaselineAdminNetworkPolicy *Resource
	// Unreadable are the policy kinds the model cannot read, at their preferred version.
	Unreadable []Resource
}

// Watched are the kinds the model reads whole, whose changes are policy changes.
func (s Served) Watched() []Resource {
	var out []Resource
	for _, r := range []*Resource{s.ClusterNetworkPolicy, s.AdminNetworkPolicy, s.BaselineAdminNetworkPolicy} {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// CNISpecific are the CNI-specific policy kinds netconform knows by name (any version),
// which the manager's role may list. Kinds of other groups are recognised by their names
// (see looksLikeNetworkPolicy); listing them needs rights the role does not grant.
var CNISpecific = []Resource{
	{Group: "projectcalico.org", Resource: "networkpolicies", Kind: "NetworkPolicy", Namespaced: true},
	{Group: "projectcalico.org", Resource: "globalnetworkpolicies", Kind: "GlobalNetworkPolicy"},
	{Group: "crd.projectcalico.org", Resource: "networkpolicies", Kind: "NetworkPolicy", Namespaced: true},
	{Group: "crd.projectcalico.org", Resource: "globalnetworkpolicies", Kind: "GlobalNetworkPolicy"},
	{Group: "cilium.io", Resource: "ciliumnetworkpolicies", Kind: "CiliumNetworkPolicy", Namespaced: true},
	{Group: "cilium.io", Resource: "ciliumclusterwidenetworkpolicies", Kind: "CiliumClusterwideNetworkPolicy"},
	{Group: "crd.antrea.io", Resource: "networkpolicies", Kind: "NetworkPolicy", Namespaced: true},
	{Group: "crd.antrea.io", Resource: "clusternetworkpolicies", Kind: "ClusterNetworkPolicy"},
}

// Readable are the policy.networking.k8s.io resources the model reads, which the
// manager's role may list and watch.
var Readable = []string{"clusternetworkpolicies", "adminnetworkpolicies", "baselineadminnetworkpolicies"}

// notNetworkPolicies are groups whose kinds are named like policies but govern no
// connection between pods: the Gateway API's policies attach to routes and backends.
var notNetworkPolicies = []string{"gateway.networking.k8s.io", "gateway.networking.x-k8s.io", "netconform.io"}

// Classify reads what discovery says the cluster serves (every version of every group,
// as ServerGroupsAndResources returns it; the preferred version of a group first).
func Classify(lists []*metav1.APIResourceList) Served {
	var s Served
	var cnp []Resource
	seen := map[schema.GroupKind]bool{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, ar := range list.APIResources {
			if strings.Contains(ar.Name, "/") || !slices.Contains(ar.Verbs, "list") {
				continue // a subresource, or nothing to list
			}
			r := Resource{Group: gv.Group, Version: gv.Version, Resource: ar.Name, Kind: ar.Kind, Namespaced: ar.Namespaced}
			switch {
			case r.Group == "networking.k8s.io" && r.Kind == "NetworkPolicy":
			case r.Group == PolicyGroup && r.Kind == KindClusterNetworkPolicy:
				cnp = append(cnp, r)
			case r.Group == PolicyGroup && r.Version == "v1alpha1" && r.Kind == KindAdminNetworkPolicy:
				s.AdminNetworkPolicy = &r
			case r.Group == PolicyGroup && r.Version == "v1alpha1" && r.Kind == KindBaselineAdminNetPolicy:
				s.BaselineAdminNetworkPolicy = &r
			case isNetworkPolicyKind(r) && !seen[schema.GroupKind{Group: r.Group, Kind: r.Kind}]:
				seen[schema.GroupKind{Group: r.Group, Kind: r.Kind}] = true
				s.Unreadable = append(s.Unreadable, r)
			}
		}
	}
	s.ClusterNetworkPolicy, s.Unreadable = pickClusterNetworkPolicy(cnp, s.Unreadable)
	return s
}

// pickClusterNetworkPolicy picks the version of ClusterNetworkPolicy the model reads; a
// cluster that serves it only at versions the model does not know holds policies the
// model cannot read.
func pickClusterNetworkPolicy(served []Resource, unreadable []Resource) (*Resource, []Resource) {
	for _, v := range cnpVersions {
		if i := slices.IndexFunc(served, func(r Resource) bool { return r.Version == v }); i >= 0 {
			return &served[i], unreadable
		}
	}
	if len(served) > 0 {
		unreadable = append(unreadable, served[0])
	}
	return nil, unreadable
}

// isNetworkPolicyKind says whether a kind is a network policy the model cannot read:
// a known CNI-specific kind, a policy.networking.k8s.io kind the model does not know, or
// a kind whose name says it is a network policy.
func isNetworkPolicyKind(r Resource) bool {
	known := slices.ContainsFunc(CNISpecific, func(k Resource) bool { return k.Group == r.Group && k.Kind == r.Kind })
	if known || r.Group == PolicyGroup {
		return true
	}
	if slices.Contains(notNetworkPolicies, r.Group) {
		return false
	}
	return looksLikeNetworkPolicy(r.Group, r.Kind)
}

// looksLikeNetworkPolicy: a kind named like a NetworkPolicy, or a Policy of a group
// named for networking.
func looksLikeNetworkPolicy(group, kind string) bool {
	return strings.Contains(kind, "NetworkPolicy") ||
		(strings.Contains(kind, "Policy") && strings.Contains(strings.ToLower(group), "network"))
}

// AddToScheme registers the network-policy-api types the model reads.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{v1beta1.Install, v1alpha2.Install, v1alpha1.Install} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
