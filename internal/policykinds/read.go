package policykinds

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/netpol"
)

// pageSize bounds each list of an unreadable kind's metadata.
const pageSize = 500

// Read adds to the snapshot what the cluster serves beyond NetworkPolicy: the
// ClusterNetworkPolicies, converted to v1beta1, and the policy kinds the model cannot
// read, from their metadata only. A kind it may not list (RBAC) is unreadable too, and
// may affect any connection. Other errors are returned.
func Read(ctx context.Context, r client.Reader, s Served, c *netpol.Cluster) error {
	for _, res := range s.Watched() {
		policies, err := readWhole(ctx, r, res)
		switch {
		case apierrors.IsForbidden(err):
			c.Unreadable = append(c.Unreadable, notListed(res))
		case apierrors.IsNotFound(err):
			// removed since discovery
		case err != nil:
			return fmt.Errorf("listing %s: %w", res, err)
		}
		c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, workloadPolicies(policies)...)
	}
	for _, res := range s.Unreadable {
		k, err := countObjects(ctx, r, res)
		if err != nil {
			return err
		}
		if k != nil {
			c.Unreadable = append(c.Unreadable, *k)
		}
	}
	return nil
}

// workloadPolicies leaves out the enforcement canary's ClusterNetworkPolicies: they
// select the canary's own pods only, and come and go with every canary run.
func workloadPolicies(policies []v1beta1.ClusterNetworkPolicy) []v1beta1.ClusterNetworkPolicy {
	return slices.DeleteFunc(policies, func(p v1beta1.ClusterNetworkPolicy) bool { return canary.Owns(&p) })
}

// readWhole lists a cluster-wide policy kind the model reads, converted to v1beta1.
// What a conversion cannot carry over is left for the model to call undecidable.
func readWhole(ctx context.Context, r client.Reader, res Resource) ([]v1beta1.ClusterNetworkPolicy, error) {
	var out []v1beta1.ClusterNetworkPolicy
	switch {
	case res.Kind == KindClusterNetworkPolicy && res.Version == "v1beta1":
		var list v1beta1.ClusterNetworkPolicyList
		if err := r.List(ctx, &list); err != nil {
			return nil, err
		}
		out = list.Items
	case res.Kind == KindClusterNetworkPolicy:
		var list v1alpha2.ClusterNetworkPolicyList
		if err := r.List(ctx, &list); err != nil {
			return nil, err
		}
		for i := range list.Items {
			p, _ := netpol.FromV1alpha2(&list.Items[i])
			out = append(out, p)
		}
	case res.Kind == KindAdminNetworkPolicy:
		var list v1alpha1.AdminNetworkPolicyList
		if err := r.List(ctx, &list); err != nil {
			return nil, err
		}
		for i := range list.Items {
			p, _ := netpol.FromAdminNetworkPolicy(&list.Items[i])
			out = append(out, p)
		}
	case res.Kind == KindBaselineAdminNetPolicy:
		var list v1alpha1.BaselineAdminNetworkPolicyList
		if err := r.List(ctx, &list); err != nil {
			return nil, err
		}
		for i := range list.Items {
			p, _ := netpol.FromBaselineAdminNetworkPolicy(&list.Items[i])
			out = append(out, p)
		}
	}
	return out, nil
}

// countObjects reads the metadata of a kind's objects: nil when there are none.
func countObjects(ctx context.Context, r client.Reader, res Resource) (*netpol.UnreadableKind, error) {
	k := netpol.UnreadableKind{Group: res.Group, Version: res.Version, Resource: res.Resource, Kind: res.Kind, Namespaced: res.Namespaced}
	namespaces := map[string]bool{}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(res.GroupVersionKind().GroupVersion().WithKind(res.Kind + "List"))
	for {
		err := r.List(ctx, list, client.Limit(pageSize), client.Continue(list.Continue))
		switch {
		case apierrors.IsForbidden(err):
			k := notListed(res)
			return &k, nil
		case apierrors.IsNotFound(err):
			return nil, nil // removed since discovery
		case err != nil:
			return nil, fmt.Errorf("listing %s: %w", res, err)
		}
		for _, o := range list.Items {
			namespaces[o.Namespace] = true
		}
		k.Count += len(list.Items)
		if list.Continue == "" {
			break
		}
	}
	if k.Count == 0 {
		return nil, nil
	}
	if k.Namespaced {
		for ns := range namespaces {
			k.Namespaces = append(k.Namespaces, ns)
		}
		slices.Sort(k.Namespaces)
	}
	return &k, nil
}

// notListed is a kind netconform may not list: where its objects are is unknown, so it
// counts as able to affect any connection, and Count 0 says it could not be listed.
func notListed(res Resource) netpol.UnreadableKind {
	return netpol.UnreadableKind{Group: res.Group, Version: res.Version, Resource: res.Resource, Kind: res.Kind}
}

// Listed says whether the kind's objects could be listed (Count counts them).
func Listed(k netpol.UnreadableKind) bool { return k.Count > 0 }

// Describe says in words what was found of an unreadable kind, such as
// "2 NetworkPolicy (crd.projectcalico.org/v1) in namespaces a, b" or "could not list
// networkpolicies.crd.projectcalico.org: forbidden".
func Describe(k netpol.UnreadableKind) string {
	res := Resource{Group: k.Group, Version: k.Version, Resource: k.Resource, Kind: k.Kind}
	switch {
	case !Listed(k):
		return fmt.Sprintf("could not list %s: forbidden", res)
	case k.Namespaced:
		return fmt.Sprintf("%d %s (%s/%s) in namespaces %s", k.Count, k.Kind, k.Group, k.Version, strings.Join(k.Namespaces, ", "))
	}
	return fmt.Sprintf("%d %s (%s/%s, cluster-wide)", k.Count, k.Kind, k.Group, k.Version)
}

// Affecting are the kinds that may affect connections between pods of these namespaces:
// a cluster-wide kind (or one that could not be listed) any, a namespaced kind those of
// the namespaces that hold its objects.
func Affecting(kinds []netpol.UnreadableKind, namespaces []string) []netpol.UnreadableKind {
	var out []netpol.UnreadableKind
	for _, k := range kinds {
		if !k.Namespaced || slices.ContainsFunc(k.Namespaces, func(ns string) bool { return slices.Contains(namespaces, ns) }) {
			out = append(out, k)
		}
	}
	return out
}

// Summary says once, for a status or the gate's output, which kinds were found and that
// predictions are partial; "" when there are none.
func Summary(kinds []netpol.UnreadableKind) string {
	if len(kinds) == 0 {
		return ""
	}
	found := make([]string, len(kinds))
	for i, k := range kinds {
		found[i] = Describe(k)
	}
	return "Predictions are partial: the cluster holds policies netconform cannot read (" + strings.Join(found, "; ") +
		"); edges they could affect have no prediction and are never diagnosed DataplaneMismatch"
}
