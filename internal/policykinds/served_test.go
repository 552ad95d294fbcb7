package policykinds

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/internal/netpol"
)

func resources(gv string, rs ...metav1.APIResource) *metav1.APIResourceList {
	for i := range rs {
		if rs[i].Verbs == nil {
			rs[i].Verbs = metav1.Verbs{"get", "list", "watch"}
		}
	}
	return &metav1.APIResourceList{GroupVersion: gv, APIResources: rs}
}

func kind(name, kind string, namespaced bool) metav1.APIResource {
	return metav1.APIResource{Name: name, Kind: kind, Namespaced: namespaced}
}

func names(rs []Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Kind+"."+r.Group+"/"+r.Version)
	}
	return out
}

func TestClassify(t *testing.T) {
	core := resources("v1", kind("pods", "Pod", true), kind("pods/log", "Pod", true))
	netpolV1 := resources("networking.k8s.io/v1", kind("networkpolicies", "NetworkPolicy", true))
	cnpBeta := resources("policy.networking.k8s.io/v1beta1", kind("clusternetworkpolicies", "ClusterNetworkPolicy", false))
	cnpAlpha := resources("policy.networking.k8s.io/v1alpha2", kind("clusternetworkpolicies", "ClusterNetworkPolicy", false))
	cases := []struct {
		name           string
		lists          []*metav1.APIResourceList
		cnp            string // version read, "" for none
		anp, banp      bool
		wantUnreadable []string
	}{
		{name: "a plain cluster serves nothing beyond NetworkPolicy",
			lists: []*metav1.APIResourceList{core, netpolV1}},
		{name: "v1beta1 is preferred where both versions are served",
			lists: []*metav1.APIResourceList{netpolV1, cnpAlpha, cnpBeta}, cnp: "v1beta1"},
		{name: "v1alpha2 is read where it is all the cluster serves",
			lists: []*metav1.APIResourceList{cnpAlpha}, cnp: "v1alpha2"},
		{name: "a ClusterNetworkPolicy version the model does not know is unreadable",
			lists:          []*metav1.APIResourceList{resources("policy.networking.k8s.io/v1", kind("clusternetworkpolicies", "ClusterNetworkPolicy", false))},
			wantUnreadable: []string{"ClusterNetworkPolicy.policy.networking.k8s.io/v1"}},
		{name: "the v1alpha1 admin kinds are read",
			lists: []*metav1.APIResourceList{resources("policy.networking.k8s.io/v1alpha1",
				kind("adminnetworkpolicies", "AdminNetworkPolicy", false), kind("baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy", false))},
			anp: true, banp: true},
		{name: "Calico's kinds, at the preferred version only",
			lists: []*metav1.APIResourceList{
				resources("crd.projectcalico.org/v1", kind("networkpolicies", "NetworkPolicy", true), kind("globalnetworkpolicies", "GlobalNetworkPolicy", false), kind("ippools", "IPPool", false)),
				resources("projectcalico.org/v3", kind("networkpolicies", "NetworkPolicy", true)),
				resources("projectcalico.org/v2", kind("networkpolicies", "NetworkPolicy", true)),
			},
			wantUnreadable: []string{"NetworkPolicy.crd.projectcalico.org/v1", "GlobalNetworkPolicy.crd.projectcalico.org/v1", "NetworkPolicy.projectcalico.org/v3"}},
		{name: "Cilium's and Antrea's kinds",
			lists: []*metav1.APIResourceList{
				resources("cilium.io/v2", kind("ciliumnetworkpolicies", "CiliumNetworkPolicy", true), kind("ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy", false), kind("ciliumendpoints", "CiliumEndpoint", true)),
				resources("crd.antrea.io/v1beta1", kind("networkpolicies", "NetworkPolicy", true), kind("clusternetworkpolicies", "ClusterNetworkPolicy", false), kind("tiers", "Tier", false)),
			},
			wantUnreadable: []string{"CiliumNetworkPolicy.cilium.io/v2", "CiliumClusterwideNetworkPolicy.cilium.io/v2", "NetworkPolicy.crd.antrea.io/v1beta1", "ClusterNetworkPolicy.crd.antrea.io/v1beta1"}},
		{name: "unknown kinds named like network policies are unreadable; the Gateway API's policies are not network policies",
			lists: []*metav1.APIResourceList{
				resources("example.com/v1", kind("tenantnetworkpolicies", "TenantNetworkPolicy", true), kind("widgets", "Widget", true)),
				resources("network.example.io/v1", kind("egresspolicies", "EgressPolicy", false)),
				resources("security.example.io/v1", kind("auditpolicies", "AuditPolicy", false)),
				resources("gateway.networking.k8s.io/v1", kind("backendtlspolicies", "BackendTLSPolicy", true)),
			},
			wantUnreadable: []string{"TenantNetworkPolicy.example.com/v1", "EgressPolicy.network.example.io/v1"}},
		{name: "a kind that cannot be listed is left out",
			lists:          []*metav1.APIResourceList{{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{{Name: "reviewnetworkpolicies", Kind: "ReviewNetworkPolicy", Verbs: metav1.Verbs{"create"}}}}},
			wantUnreadable: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Classify(c.lists)
			var cnp string
			if s.ClusterNetworkPolicy != nil {
				cnp = s.ClusterNetworkPolicy.Version
			}
			if cnp != c.cnp {
				t.Errorf("ClusterNetworkPolicy read at %q, want %q", cnp, c.cnp)
			}
			if (s.AdminNetworkPolicy != nil) != c.anp || (s.BaselineAdminNetworkPolicy != nil) != c.banp {
				t.Errorf("AdminNetworkPolicy %v, BaselineAdminNetworkPolicy %v; want %t, %t", s.AdminNetworkPolicy, s.BaselineAdminNetworkPolicy, c.anp, c.banp)
			}
			if got := names(s.Unreadable); !slices.Equal(got, c.wantUnreadable) {
				t.Errorf("unreadable %q, want %q", got, c.wantUnreadable)
			}
		})
	}
}

func TestAffectingAndSummary(t *testing.T) {
	calico := netpol.UnreadableKind{Group: "crd.projectcalico.org", Version: "v1", Resource: "networkpolicies", Kind: "NetworkPolicy", Namespaced: true, Namespaces: []string{"shop"}, Count: 2}
	global := netpol.UnreadableKind{Group: "crd.projectcalico.org", Version: "v1", Resource: "globalnetworkpolicies", Kind: "GlobalNetworkPolicy", Count: 1}
	forbidden := netpol.UnreadableKind{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies", Kind: "CiliumNetworkPolicy", Namespaced: true}
	forbidden = notListed(Resource{Group: forbidden.Group, Version: forbidden.Version, Resource: forbidden.Resource, Kind: forbidden.Kind, Namespaced: true})
	all := []netpol.UnreadableKind{calico, global, forbidden}
	if got := Affecting(all, []string{"web"}); len(got) != 2 || got[0].Kind != "GlobalNetworkPolicy" || got[1].Kind != "CiliumNetworkPolicy" {
		t.Errorf("kinds affecting namespace web: %+v; want the cluster-wide one and the one that could not be listed", got)
	}
	if got := Affecting(all, []string{"kube-system", "shop"}); len(got) != 3 {
		t.Errorf("kinds affecting namespace shop: %+v; want all three", got)
	}
	want := "Predictions are partial: the cluster holds policies netconform cannot read (2 NetworkPolicy (crd.projectcalico.org/v1) in namespaces shop; " +
		"1 GlobalNetworkPolicy (crd.projectcalico.org/v1, cluster-wide); could not list ciliumnetworkpolicies.cilium.io: forbidden); " +
		"edges they could affect have no prediction and are never diagnosed DataplaneMismatch"
	if got := Summary(all); got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
	if Summary(nil) != "" {
		t.Error("a cluster without unreadable kinds has a summary")
	}
}
