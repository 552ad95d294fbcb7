package offline

import (
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/netpol"
)

// The admin tier's kinds the model reads, by "apiVersion kind"; older versions are
// converted to v1beta1, with notes for what does not convert.
var adminTierKinds = map[string]func(b *builder, o manifest.Object){
	"policy.networking.k8s.io/v1beta1 ClusterNetworkPolicy": func(b *builder, o manifest.Object) {
		var p v1beta1.ClusterNetworkPolicy
		if b.decode(o, &p) {
			b.addClusterPolicy(p, nil)
		}
	},
	"policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy": func(b *builder, o manifest.Object) {
		var p v1alpha2.ClusterNetworkPolicy
		if b.decode(o, &p) {
			b.addClusterPolicy(netpol.FromV1alpha2(&p))
		}
	},
	"policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy": func(b *builder, o manifest.Object) {
		var p v1alpha1.AdminNetworkPolicy
		if b.decode(o, &p) {
			b.addClusterPolicy(netpol.FromAdminNetworkPolicy(&p))
		}
	},
	"policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy": func(b *builder, o manifest.Object) {
		var p v1alpha1.BaselineAdminNetworkPolicy
		if b.decode(o, &p) {
			b.addClusterPolicy(netpol.FromBaselineAdminNetworkPolicy(&p))
		}
	},
}

func (b *builder) addClusterPolicy(p v1beta1.ClusterNetworkPolicy, notes []string) {
	b.cluster.ClusterNetworkPolicies = append(b.cluster.ClusterNetworkPolicies, p)
	b.notes = append(b.notes, notes...)
}
