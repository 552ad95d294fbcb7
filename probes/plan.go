package probes

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Identity is what a probe pod looks like to NetworkPolicy: its namespace, labels and
// service account. Edges from the same identity share probe pods.
type Identity struct {
	Namespace      string
	Labels         map[string]string
	ServiceAccount string
	// Node pins the pod to one node, for an edge with from.nodes; empty: unpinned.
	Node string
}

// Key is a canonical string for the identity.
func (id Identity) Key() string {
	keys := make([]string, 0, len(id.Labels))
	size := len(id.Namespace) + len(id.ServiceAccount) + len(id.Node) + 3
	for k, v := range id.Labels {
		keys = append(keys, k)
		size += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(size)
	b.WriteString(id.Namespace)
	b.WriteByte('/')
	b.WriteString(id.ServiceAccount)
	b.WriteByte('/')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(id.Labels[k])
	}
	if id.Node != "" { // unpinned identities keep their keys, and so their pods' names
		b.WriteString("@")
		b.WriteString(id.Node)
	}
	return b.String()
}

// PodTarget is a ready pod an edge points at.
type PodTarget struct {
	Name string
	IP   string
	// Ports maps the pod's named container ports to their numbers.
	Ports map[string]int32
}

// TargetOf is the pod as a destination, and false while it cannot be one: not ready,
// without an address, or going.
func TargetOf(pod *corev1.Pod) (PodTarget, bool) {
	if !PodReady(pod) || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return PodTarget{}, false
	}
	ports := map[string]int32{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name != "" {
				ports[p.Name] = p.ContainerPort
			}
		}
	}
	return PodTarget{Name: pod.Name, IP: pod.Status.PodIP, Ports: ports}, true
}

// Resolver looks up the destinations that need the API to be known.
type Resolver interface {
	// ReadyPods returns the ready pods in a namespace that carry all the labels.
	ReadyPods(ctx context.Context, namespace string, labels map[string]string) ([]PodTarget, error)
	// ServicePortNumber returns the number of a Service's port named name.
	ServicePortNumber(ctx context.Context, namespace, service, name string) (int32, error)
}

// PlanOptions tune planning.
type PlanOptions struct {
	// ClusterDomain completes Service DNS names, such as cluster.local.
	ClusterDomain string
	// Nodes finds the nodes an edge's from.nodes selects, in a stable order; nil where
	// nodes cannot be read, which leaves such edges unprobed.
	Nodes func(ctx context.Context, sel v1alpha1.NodeSelection) ([]NodeTarget, error)
}

// NodeTarget is a node an edge is checked from.
type NodeTarget struct {
	Name string
	// Unavailable says why no probe pod can run there now, such as "is NotReady" or
	// "is cordoned"; empty when one can.
	Unavailable string
}

// PodPlan is one probe pod: an identity and the checks it makes.
type PodPlan struct {
	Identity Identity
	// Index numbers the pods of one identity.
	Index  int
	Checks []Check
}

// SourceChecks are the checks a run makes from one source identity. How many pods
// carry them is decided when the pods are made (Chunk), together with the checks of
// the other runs that share them.
type SourceChecks struct {
	Identity Identity
	Checks   []Check
}

// Plan is what a run does: the checks of each source identity, in the order the
// identities first appear, and the edges that were decided without a probe because
// their destination could not be resolved.
type Plan struct {
	Sources  []SourceChecks
	Unprobed map[string]Result
	// Nodes holds, per edge with from.nodes, the nodes it is checked from, those it
	// cannot be included.
	Nodes map[string][]NodeTarget
}

// BuildPlan turns edges into checks grouped by source identity, so that the same
// inputs always give the same plan.
func BuildPlan(ctx context.Context, edges []v1alpha1.Edge, r Resolver, opts PlanOptions) Plan {
	plan := Plan{Unprobed: map[string]Result{}}
	r = resolveOnce(r)
	index := map[string]int{}
	for _, edge := range edges {
		checks, err := ChecksFor(ctx, edge, r, opts.ClusterDomain)
		if err != nil {
			plan.Unprobed[edge.Name] = Result{Observation: v1alpha1.ObservedError, Message: err.Error()}
			continue
		}
		if edge.From.Nodes == nil {
			plan.add(index, sourceKey(edge.From), edge.From, "", checks)
			continue
		}
		nodes, err := nodesOf(ctx, edge, opts)
		if err != nil {
			plan.Unprobed[edge.Name] = Result{Observation: v1alpha1.ObservedError, Message: err.Error()}
			continue
		}
		if plan.Nodes == nil {
			plan.Nodes = map[string][]NodeTarget{}
		}
		plan.Nodes[edge.Name] = nodes
		for _, node := range nodes {
			if node.Unavailable == "" {
				plan.add(index, "", edge.From, node.Name, onNode(checks, node.Name))
			}
		}
	}
	return plan
}

// add gives the checks to the source identity's pods, pinned to node when it is set.
// key is the identity's Key when the caller has it at hand.
func (p *Plan) add(index map[string]int, key string, from v1alpha1.Source, node string, checks []Check) {
	if key == "" {
		id := IdentityOf(from)
		id.Node = node
		key = id.Key()
	}
	i, ok := index[key]
	if !ok {
		i = len(p.Sources)
		index[key] = i
		id := IdentityOf(from)
		id.Node = node
		p.Sources = append(p.Sources, SourceChecks{Identity: id})
	}
	p.Sources[i].Checks = append(p.Sources[i].Checks, checks...)
}

// nodesOf resolves an edge's from.nodes; selecting no node is an error that names the
// field and the fix.
func nodesOf(ctx context.Context, edge v1alpha1.Edge, opts PlanOptions) ([]NodeTarget, error) {
	if opts.Nodes == nil {
		return nil, fmt.Errorf("edge %q: from.nodes needs the nodes, which this runner cannot read: remove from.nodes", edge.Name)
	}
	nodes, err := opts.Nodes(ctx, *edge.From.Nodes)
	if err != nil {
		return nil, fmt.Errorf("listing the nodes of edge %q: %w", edge.Name, err)
	}
	if len(nodes) == 0 {
		return nil, NoNodesError(edge.Name, *edge.From.Nodes)
	}
	return nodes, nil
}

// NoNodesError says that an edge's from.nodes selects no node a probe pod may run on.
func NoNodesError(edge string, sel v1alpha1.NodeSelection) error {
	if sel.Selector != nil {
		return fmt.Errorf("edge %s: from.nodes.selector %s matches no node that probe pods may run on: label the nodes, fix the selector, or allow their taints with spec.probePod.tolerations", edge, selectorString(sel.Selector.MatchLabels))
	}
	return fmt.Errorf("edge %s: from.nodes.all finds no node that probe pods may run on: check spec.probePod.nodeSelector and tolerations against the nodes' labels and taints", edge)
}

// onNode copies checks to be made from a node.
func onNode(checks []Check, node string) []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		c.Node = node
		out[i] = c
	}
	return out
}

// sourceKey is the Key of the source's identity, without copying its labels.
func sourceKey(from v1alpha1.Source) string {
	return Identity{Namespace: from.Namespace, Labels: from.PodLabels, ServiceAccount: from.ServiceAccountName}.Key()
}

// IdentityOf is the identity a probe pod takes on for a source.
func IdentityOf(from v1alpha1.Source) Identity {
	return Identity{Namespace: from.Namespace, Labels: maps.Clone(from.PodLabels), ServiceAccount: from.ServiceAccountName}
}

// ChecksFor expands an edge into the checks that probe it: one per ready pod for a pods
// destination, one otherwise.
func ChecksFor(ctx context.Context, edge v1alpha1.Edge, r Resolver, clusterDomain string) ([]Check, error) {
	kind := KindTCP
	if edge.Protocol == v1alpha1.ProtocolUDP {
		kind = KindUDP
	}
	base := Check{Edge: edge.Name, Kind: kind, Deny: edge.Expect == v1alpha1.ExpectDeny}
	to := edge.To
	switch {
	case to.Service != nil:
		port, err := servicePort(ctx, r, to.Service)
		if err != nil {
			return nil, err
		}
		base.Host = ServiceDNSName(to.Service.Name, to.Service.Namespace, clusterDomain)
		base.Port = port
		return []Check{base}, nil
	case to.Pods != nil:
		return podChecks(ctx, base, to.Pods, r)
	case to.Host != nil:
		base.Host, base.Port = to.Host.Host, to.Host.Port
		return []Check{base}, nil
	case to.DNS != nil:
		base.Kind, base.Host = KindDNS, to.DNS.Name
		return []Check{base}, nil
	}
	return nil, fmt.Errorf("edge %q has no destination: set one of to.service, to.pods, to.host or to.dns", edge.Name)
}

// ServiceDNSName is the absolute DNS name of a Service.
func ServiceDNSName(name, namespace, clusterDomain string) string {
	return fmt.Sprintf("%s.%s.svc.%s.", name, namespace, strings.TrimSuffix(clusterDomain, "."))
}

func servicePort(ctx context.Context, r Resolver, svc *v1alpha1.ServiceDestination) (int32, error) {
	if svc.Port.Type == intstr.Int {
		return svc.Port.IntVal, nil
	}
	port, err := r.ServicePortNumber(ctx, svc.Namespace, svc.Name, svc.Port.StrVal)
	if err != nil {
		return 0, fmt.Errorf("resolving port %q of Service %s/%s: %w", svc.Port.StrVal, svc.Namespace, svc.Name, err)
	}
	return port, nil
}

func podChecks(ctx context.Context, base Check, dest *v1alpha1.PodsDestination, r Resolver) ([]Check, error) {
	pods, err := r.ReadyPods(ctx, dest.Namespace, dest.PodLabels)
	if err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", dest.Namespace, err)
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no ready pod in namespace %s matches %s: start the destination or fix to.pods.podLabels", dest.Namespace, selectorString(dest.PodLabels))
	}
	checks := make([]Check, 0, len(pods))
	for _, pod := range pods {
		port, err := podPort(pod, dest.Port)
		if err != nil {
			return nil, err
		}
		c := base
		c.Host, c.Port = pod.IP, port
		checks = append(checks, c)
	}
	return checks, nil
}

func podPort(pod PodTarget, port intstr.IntOrString) (int32, error) {
	if port.Type == intstr.Int {
		return port.IntVal, nil
	}
	if n, ok := pod.Ports[port.StrVal]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("pod %s has no container port named %q: name the port in the pod spec or give to.pods.port as a number", pod.Name, port.StrVal)
}

func selectorString(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}
