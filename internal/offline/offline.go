// Package offline predicts ReachabilityTests from manifests alone, before anything is
// applied: it turns NetworkPolicies, Namespaces, Services and the pods that workloads
// would create into a netpol.Cluster, and judges each edge with the NetworkPolicy model
// as a live run's prediction would. It also answers the what-if of a live cluster with
// policies from files added.
//
// Pods and Services get addresses of their own (see Addresses), which no cluster
// assigns: a verdict that depends on a pod's or a probe's address (an ipBlock rule) is
// Inconclusive, never decided on them.
package offline

import (
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/netpol"
)

// Manifests is what the manifests declare, as the model reads it.
type Manifests struct {
	// Cluster holds the Namespaces (declared, and those objects are in), the pods the
	// workloads would create, the Services and the NetworkPolicies.
	Cluster *netpol.Cluster
	// Notes say what of the manifests the model reads only in part (an older admin-tier
	// version with a field that does not convert), once, for the user.
	Notes []string
}

// Read reads the manifests in paths (files, directories, "-" for stdin: see
// manifest.ReadObjects) and decodes the objects the model needs strictly, as the API
// server would; every problem comes back at once with its file, line and field.
func Read(paths []string, stdin io.Reader) (*Manifests, error) {
	objs, err := manifest.ReadObjects(paths, stdin)
	if err != nil {
		return nil, err
	}
	return FromObjects(objs)
}

// FromObjects builds the manifests' cluster from objects already read.
func FromObjects(objs []manifest.Object) (*Manifests, error) {
	b := builder{cluster: &netpol.Cluster{}, addrs: newAddresses(), seen: map[string]string{}}
	for _, o := range objs {
		b.add(o)
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	b.finish()
	return &Manifests{Cluster: b.cluster, Notes: b.notes}, nil
}

// builder accumulates the cluster and the problems of one set of manifests.
type builder struct {
	cluster *netpol.Cluster
	addrs   *addresses
	notes   []string
	errs    []error
	// seen maps each object (kind, namespace, name) to the file:line that defined it.
	seen map[string]string
}

// add decodes one object into the cluster; kinds that bear on no verdict are skipped.
func (b *builder) add(o manifest.Object) {
	if !b.unique(o) {
		return
	}
	switch gvk := o.APIVersion + " " + o.Kind; gvk {
	case "v1 Namespace":
		var ns corev1.Namespace
		if b.decode(o, &ns) {
			ns.Namespace = ""
			b.cluster.Namespaces = append(b.cluster.Namespaces, ns)
		}
	case "v1 Service":
		var svc corev1.Service
		if b.decode(o, &svc) {
			b.addService(svc)
		}
	case "networking.k8s.io/v1 NetworkPolicy":
		var p networkingv1.NetworkPolicy
		if b.decode(o, &p) && b.validPolicy(o, &p) {
			b.cluster.Policies = append(b.cluster.Policies, p)
		}
	default:
		if tmpl, ok := workloadKinds[gvk]; ok {
			b.addWorkload(o, tmpl)
			return
		}
		if read, ok := adminTierKinds[gvk]; ok {
			read(b, o)
			return
		}
		if u, ok := unreadable(o); ok {
			b.cluster.Unreadable = mergeUnreadable(b.cluster.Unreadable, u)
		}
	}
}

// fail records a problem at a field of an object.
func (b *builder) fail(o manifest.Object, path, format string, args ...any) {
	b.errs = append(b.errs, o.Errorf(path, format, args...))
}

// namespaceOf is where a namespaced object goes: its own, else default (as kubectl
// apply without -n).
func namespaceOf(ns string) string {
	if ns == "" {
		return corev1.NamespaceDefault
	}
	return ns
}

// unique refuses an object defined twice: which one a cluster would hold depends on
// the order they are applied in.
func (b *builder) unique(o manifest.Object) bool {
	meta, _ := o.Content["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if name == "" {
		return true // the decoder or the checks name what is missing
	}
	key := fmt.Sprintf("%s %s %s/%s", o.APIVersion, o.Kind, ns, name)
	if first, dup := b.seen[key]; dup {
		b.fail(o, "metadata.name", "%s %q is defined twice: first at %s; keep one", o.Kind, name, first)
		return false
	}
	b.seen[key] = fmt.Sprintf("%s:%d", o.File, o.LineOf("metadata.name"))
	return true
}
