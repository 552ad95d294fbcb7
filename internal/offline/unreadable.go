package offline

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/policykinds"
)

// unreadable recognises a policy kind the model cannot read, for the model to leave
// undecided what it could affect (netpol.Cluster.Unreadable): any kind of
// policy.networking.k8s.io but those adminTierKinds reads, a kind named like a
// NetworkPolicy (Calico's, Cilium's, Antrea's), or a Policy of a group named for
// networking but the Gateway API's: policykinds' rule, which discovery applies to what
// a cluster serves. Kinds named Global, Cluster or Admin apply cluster-wide.
func unreadable(o manifest.Object) (netpol.UnreadableKind, bool) {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil || !policykinds.IsNetworkPolicyKind(gv.Group, o.Kind) {
		return netpol.UnreadableKind{}, false
	}
	u := netpol.UnreadableKind{Group: gv.Group, Version: gv.Version, Kind: o.Kind, Count: 1,
		Resource: strings.ToLower(o.Kind) + "s"}
	u.Namespaced = !strings.Contains(o.Kind, "Global") && !strings.Contains(o.Kind, "Cluster") && !strings.Contains(o.Kind, "Admin")
	if u.Namespaced {
		meta, _ := o.Content["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		u.Namespaces = []string{namespaceOf(ns)}
	}
	return u, true
}

// mergeUnreadable counts one more object of a kind.
func mergeUnreadable(all []netpol.UnreadableKind, u netpol.UnreadableKind) []netpol.UnreadableKind {
	i := slices.IndexFunc(all, func(x netpol.UnreadableKind) bool {
		return x.Group == u.Group && x.Version == u.Version && x.Kind == u.Kind
	})
	if i < 0 {
		return append(all, u)
	}
	all[i].Count++
	for _, ns := range u.Namespaces {
		if !slices.Contains(all[i].Namespaces, ns) {
			all[i].Namespaces = append(all[i].Namespaces, ns)
			slices.Sort(all[i].Namespaces)
		}
	}
	return all
}
