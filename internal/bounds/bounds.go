// Package bounds decides whether a ReachabilityTest asks for probe pods within what the
// manager's configuration allows: the image, priority class, node selector, tolerations and resources
// of spec.probePod, and the namespaces its edges and canary put pods in. It reads
// nothing: the controller hands it the labels of the namespaces.
package bounds

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netconform/netconform/api/v1alpha1"
)

// AnyToleration in AllowedTolerationKeys allows every toleration, even one without a key
// (which tolerates every taint).
const AnyToleration = "*"

// AnyNodeSelectorKey in AllowedNodeSelectorKeys allows every node selector key.
const AnyNodeSelectorKey = "*"

// Bounds are what a test may ask of its probe pods beyond the manager's defaults.
type Bounds struct {
	// AllowedImages may be named by spec.probePod.image, besides the manager's own probe
	// image; matched exactly.
	AllowedImages []string
	// AllowedPriorityClasses may be named by spec.probePod.priorityClassName.
	AllowedPriorityClasses []string
	// AllowedTolerationKeys are the taint keys spec.probePod.tolerations may tolerate.
	AllowedTolerationKeys []string
	// AllowedNodeSelectorKeys are the node label keys spec.probePod.nodeSelector may name.
	AllowedNodeSelectorKeys []string
	// MaxCPU and MaxMemory bound the requests and limits of spec.probePod.resources.
	MaxCPU, MaxMemory resource.Quantity
	// Namespaces, when not empty, are the only namespaces probe and canary pods may run in.
	Namespaces []string
	// NamespaceSelector, when not empty, is a label selector that must match those
	// namespaces; Selector parses it.
	NamespaceSelector string
}

// Default bounds: the manager's probe image only, no priority class, no node selector, no toleration,
// up to one CPU and 256 MiB, any namespace.
func Default() Bounds {
	return Bounds{MaxCPU: resource.MustParse("1"), MaxMemory: resource.MustParse("256Mi")}
}

// Selector parses the namespace selector; nil when there is none.
func (b Bounds) Selector() (labels.Selector, error) {
	if b.NamespaceSelector == "" {
		return nil, nil
	}
	sel, err := labels.Parse(b.NamespaceSelector)
	if err != nil {
		return nil, fmt.Errorf("namespace selector %q: %w", b.NamespaceSelector, err)
	}
	return sel, nil
}

// Request is what a check needs besides the test's spec.
type Request struct {
	// Image is the manager's own probe image, always allowed.
	Image string
	// CanaryNamespace is where the test's canary runs when spec.canary names none.
	CanaryNamespace string
	// Selected holds the namespaces that exist and match the NamespaceSelector, when
	// the bounds have one.
	Selected map[string]bool
}

// Check lists what the test asks for beyond the bounds, each naming the field, the
// manager's flag and the fix; nil when the manager may start the test's pods.
func (b Bounds) Check(spec v1alpha1.ReachabilityTestSpec, req Request) []string {
	var problems []string
	if p := spec.ProbePod; p != nil {
		problems = append(problems, b.checkImage(p.Image, req.Image)...)
		problems = append(problems, b.checkPriorityClass(p.PriorityClassName)...)
		problems = append(problems, b.checkNodeSelector(p.NodeSelector)...)
		problems = append(problems, b.checkTolerations(p.Tolerations)...)
		problems = append(problems, b.checkResources(p.Resources)...)
	}
	for i, e := range spec.Edges {
		if n := e.From.Nodes; n != nil && n.Selector != nil {
			problems = append(problems, b.checkNodeKeys(fmt.Sprintf("spec.edges[%d].from.nodes.selector.matchLabels", i), n.Selector.MatchLabels)...)
		}
	}
	return append(problems, b.checkNamespaces(spec, req)...)
}

func (b Bounds) checkImage(image, own string) []string {
	if image == "" || image == own || slices.Contains(b.AllowedImages, image) {
		return nil
	}
	return []string{fmt.Sprintf("spec.probePod.image %q is not one of the manager's probe images (%s): remove spec.probePod.image to use the manager's, or have the manager's operator add it to --allowed-probe-images",
		image, listed(append([]string{own}, b.AllowedImages...)))}
}

func (b Bounds) checkPriorityClass(name string) []string {
	if name == "" || slices.Contains(b.AllowedPriorityClasses, name) {
		return nil
	}
	return []string{fmt.Sprintf("spec.probePod.priorityClassName %q is not allowed (--allowed-priority-classes: %s): remove it, or have the manager's operator allow it",
		name, listed(b.AllowedPriorityClasses))}
}

// checkNodeSelector bounds the keys, as a selector no node matches keeps a probe pod
// Pending, holding a slot of the cap, until its start timeout.
func (b Bounds) checkNodeSelector(selector map[string]string) []string {
	return b.checkNodeKeys("spec.probePod.nodeSelector", selector)
}

// checkNodeKeys bounds the node label keys a field selects nodes by: an edge's
// from.nodes selector picks where probe pods run as the probe pod's node selector does.
func (b Bounds) checkNodeKeys(field string, selector map[string]string) []string {
	if slices.Contains(b.AllowedNodeSelectorKeys, AnyNodeSelectorKey) {
		return nil
	}
	var problems []string
	for _, key := range slices.Sorted(maps.Keys(selector)) {
		if !slices.Contains(b.AllowedNodeSelectorKeys, key) {
			problems = append(problems, fmt.Sprintf("%s[%s] is not allowed (--allowed-node-selector-keys: %s): remove it, or have the manager's operator allow the key",
				field, key, listed(b.AllowedNodeSelectorKeys)))
		}
	}
	return problems
}

func (b Bounds) checkTolerations(tolerations []corev1.Toleration) []string {
	if slices.Contains(b.AllowedTolerationKeys, AnyToleration) {
		return nil
	}
	var problems []string
	for i, t := range tolerations {
		switch {
		case t.Key == "":
			problems = append(problems, fmt.Sprintf("spec.probePod.tolerations[%d] has no key and tolerates every taint, which needs --allowed-toleration-keys=%s: give the key of the taint to tolerate", i, AnyToleration))
		case !slices.Contains(b.AllowedTolerationKeys, t.Key):
			problems = append(problems, fmt.Sprintf("spec.probePod.tolerations[%d].key %q is not allowed (--allowed-toleration-keys: %s): remove the toleration, or have the manager's operator allow the key",
				i, t.Key, listed(b.AllowedTolerationKeys)))
		}
	}
	return problems
}

// checkResources allows CPU and memory only, bounded, with limits, so that a probe pod
// can neither hold extended resources nor grow without bound.
func (b Bounds) checkResources(r *corev1.ResourceRequirements) []string {
	if r == nil {
		return nil
	}
	most := corev1.ResourceList{corev1.ResourceCPU: b.MaxCPU, corev1.ResourceMemory: b.MaxMemory}
	flags := map[corev1.ResourceName]string{corev1.ResourceCPU: "--max-probe-cpu", corev1.ResourceMemory: "--max-probe-memory"}
	var problems []string
	if len(r.Claims) > 0 {
		problems = append(problems, "spec.probePod.resources.claims are not allowed: remove them")
	}
	for _, kind := range []struct {
		field string
		list  corev1.ResourceList
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		for _, name := range sortedNames(kind.list) {
			q := kind.list[name]
			bound, ok := most[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("spec.probePod.resources.%s[%s] is not allowed: probe pods take cpu and memory only; remove it", kind.field, name))
			case q.Sign() < 0:
				problems = append(problems, fmt.Sprintf("spec.probePod.resources.%s.%s %s is negative: give zero or more", kind.field, name, q.String()))
			case q.Cmp(bound) > 0:
				problems = append(problems, fmt.Sprintf("spec.probePod.resources.%s.%s %s is more than the manager allows (%s %s): give at most %s",
					kind.field, name, q.String(), flags[name], bound.String(), bound.String()))
			}
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		request, requested := r.Requests[name]
		limit, ok := r.Limits[name]
		if requested && ok && request.Cmp(limit) > 0 {
			problems = append(problems, fmt.Sprintf("spec.probePod.resources.requests.%s %s is more than limits.%s %s: a request may not exceed its limit; lower the request or raise the limit",
				name, request.String(), name, limit.String()))
		}
		if !ok {
			bound := most[name]
			problems = append(problems, fmt.Sprintf("spec.probePod.resources.limits.%s is not set, which leaves the probe pod unbounded: give a limit of at most %s (%s)",
				name, bound.String(), flags[name]))
		}
	}
	return problems
}

// checkNamespaces names each namespace outside the bounds once, with the first field
// that puts pods there.
func (b Bounds) checkNamespaces(spec v1alpha1.ReachabilityTestSpec, req Request) []string {
	if len(b.Namespaces) == 0 && b.NamespaceSelector == "" {
		return nil
	}
	seen := map[string]bool{}
	var problems []string
	check := func(ns, field string) {
		if seen[ns] {
			return
		}
		seen[ns] = true
		if p := b.namespaceProblem(ns, req.Selected); p != "" {
			problems = append(problems, fmt.Sprintf("%s %q %s: run the test in a namespace the manager serves, or have its operator serve this one", field, ns, p))
		}
	}
	for i, e := range spec.Edges {
		check(e.From.Namespace, fmt.Sprintf("spec.edges[%d].from.namespace", i))
	}
	if c := spec.Canary; c != nil {
		if c.Namespace != "" {
			check(c.Namespace, "spec.canary.namespace")
		} else {
			check(req.CanaryNamespace, "the manager's canary namespace (spec.canary.namespace is empty)")
		}
	}
	return problems
}

func (b Bounds) namespaceProblem(ns string, selected map[string]bool) string {
	if len(b.Namespaces) > 0 && !slices.Contains(b.Namespaces, ns) {
		return fmt.Sprintf("is not one of the namespaces the manager may put pods in (--namespaces: %s)", listed(b.Namespaces))
	}
	if b.NamespaceSelector != "" && !selected[ns] {
		return fmt.Sprintf("is not a namespace the manager's --namespace-selector %q selects (or does not exist)", b.NamespaceSelector)
	}
	return ""
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func listed(values []string) string {
	var nonEmpty []string
	for _, v := range values {
		if v != "" {
			nonEmpty = append(nonEmpty, v)
		}
	}
	if len(nonEmpty) == 0 {
		return "none"
	}
	return strings.Join(nonEmpty, ", ")
}
