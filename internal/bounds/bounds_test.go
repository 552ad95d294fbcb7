package bounds

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/netconform/netconform/api/v1alpha1"
)

func TestCheck(t *testing.T) {
	own := Request{Image: "netconform:v1", CanaryNamespace: "netconform-system"}
	configured := Default()
	configured.AllowedImages = []string{"mirror.corp/netconform:v1"}
	configured.AllowedPriorityClasses = []string{"probes"}
	configured.AllowedTolerationKeys = []string{"dedicated"}
	limited := Default()
	limited.Namespaces = []string{"a", "b"}
	selected := Default()
	selected.NamespaceSelector = "netconform=on"
	selectedReq := own
	selectedReq.Selected = map[string]bool{"a": true, "netconform-system": true}

	cases := []struct {
		name   string
		bounds Bounds
		req    Request
		spec   v1alpha1.ReachabilityTestSpec
		want   []string // one phrase per problem, in order; nil: within bounds
	}{
		{"no probePod, any namespace", Default(), own, spec(nil, "a", "z"), nil},
		{"the manager's own image named", Default(), own, spec(&v1alpha1.ProbePodSpec{Image: "netconform:v1"}), nil},
		{"another image", Default(), own, spec(&v1alpha1.ProbePodSpec{Image: "evil:1"}),
			[]string{`spec.probePod.image "evil:1" is not one of the manager's probe images (netconform:v1): remove spec.probePod.image`}},
		{"an allowed image", configured, own, spec(&v1alpha1.ProbePodSpec{Image: "mirror.corp/netconform:v1"}), nil},
		{"an image only like an allowed one", configured, own, spec(&v1alpha1.ProbePodSpec{Image: "mirror.corp/netconform:v1x"}), []string{"--allowed-probe-images"}},
		{"a priority class by default", Default(), own, spec(&v1alpha1.ProbePodSpec{PriorityClassName: "system-node-critical"}),
			[]string{`spec.probePod.priorityClassName "system-node-critical" is not allowed (--allowed-priority-classes: none)`}},
		{"an allowed priority class", configured, own, spec(&v1alpha1.ProbePodSpec{PriorityClassName: "probes"}), nil},
		{"tolerations by default", Default(), own, spec(&v1alpha1.ProbePodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated"}, {Operator: corev1.TolerationOpExists}}}),
			[]string{`spec.probePod.tolerations[0].key "dedicated" is not allowed (--allowed-toleration-keys: none)`, "spec.probePod.tolerations[1] has no key and tolerates every taint"}},
		{"a node selector by default", Default(), own, spec(&v1alpha1.ProbePodSpec{NodeSelector: map[string]string{"x": "none", "kubernetes.io/os": "linux"}}),
			[]string{"spec.probePod.nodeSelector[kubernetes.io/os] is not allowed (--allowed-node-selector-keys: none): remove it, or have the manager's operator allow the key", "spec.probePod.nodeSelector[x] is not allowed"}},
		{"an allowed node selector key", withNodeSelectorKeys(configured, "kubernetes.io/os"), own, spec(&v1alpha1.ProbePodSpec{NodeSelector: map[string]string{"kubernetes.io/os": "linux"}}), nil},
		{"a node selector key beside the allowed one", withNodeSelectorKeys(configured, "kubernetes.io/os"), own, spec(&v1alpha1.ProbePodSpec{NodeSelector: map[string]string{"kubernetes.io/os": "linux", "x": "none"}}),
			[]string{"spec.probePod.nodeSelector[x] is not allowed (--allowed-node-selector-keys: kubernetes.io/os)"}},
		{"any node selector key", withNodeSelectorKeys(configured, "*"), own, spec(&v1alpha1.ProbePodSpec{NodeSelector: map[string]string{"x": "none"}}), nil},
		{"from.nodes all needs no key", Default(), own, fromNodes(spec(nil, "a"), v1alpha1.NodeSelection{All: true}), nil},
		{"a from.nodes selector key by default", Default(), own, fromNodes(spec(nil, "a", "b"), v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": "x"}}}),
			[]string{"spec.edges[0].from.nodes.selector.matchLabels[pool] is not allowed (--allowed-node-selector-keys: none): remove it, or have the manager's operator allow the key",
				"spec.edges[1].from.nodes.selector.matchLabels[pool] is not allowed"}},
		{"an allowed from.nodes selector key", withNodeSelectorKeys(configured, "pool"), own, fromNodes(spec(nil, "a"), v1alpha1.NodeSelection{Selector: &v1alpha1.NodeLabelSelector{MatchLabels: map[string]string{"pool": "x"}}}), nil},
		{"an allowed toleration key", configured, own, spec(&v1alpha1.ProbePodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Value: "x"}}}), nil},
		{"a keyless toleration with an allow-list", configured, own, spec(&v1alpha1.ProbePodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}), []string{"--allowed-toleration-keys=*"}},
		{"any toleration", Bounds{AllowedTolerationKeys: []string{"*"}}, own, spec(&v1alpha1.ProbePodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}), nil},
		{"resources within the bounds", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: resources("100m", "64Mi", "1", "256Mi")}), nil},
		{"limits above the bounds", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: resources("100m", "64Mi", "2", "1Gi")}),
			[]string{"spec.probePod.resources.limits.cpu 2 is more than the manager allows (--max-probe-cpu 1): give at most 1", "limits.memory 1Gi is more than the manager allows (--max-probe-memory 256Mi)"}},
		{"requests above the bounds", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: resources("1500m", "64Mi", "1", "256Mi")}),
			[]string{"resources.requests.cpu 1500m is more than the manager allows", "requests.cpu 1500m is more than limits.cpu 1"}},
		{"negative quantities", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: resources("-100m", "", "1", "-1Mi")}),
			[]string{"spec.probePod.resources.requests.cpu -100m is negative: give zero or more", "spec.probePod.resources.limits.memory -1Mi is negative"}},
		{"requests above limits", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: resources("500m", "128Mi", "100m", "64Mi")}),
			[]string{"spec.probePod.resources.requests.cpu 500m is more than limits.cpu 100m: a request may not exceed its limit; lower the request or raise the limit", "requests.memory 128Mi is more than limits.memory 64Mi"}},
		{"requests equal to limits", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: resources("100m", "64Mi", "100m", "64Mi")}), nil},
		{"no limits", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: &corev1.ResourceRequirements{Requests: resources("10m", "16Mi", "", "").Requests}}),
			[]string{"resources.limits.cpu is not set, which leaves the probe pod unbounded: give a limit of at most 1 (--max-probe-cpu)", "limits.memory is not set"}},
		{"an extended resource", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: withGPU(resources("10m", "16Mi", "1", "64Mi"))}),
			[]string{"spec.probePod.resources.limits[nvidia.com/gpu] is not allowed: probe pods take cpu and memory only"}},
		{"a resource claim", Default(), own, spec(&v1alpha1.ProbePodSpec{Resources: withClaim(resources("10m", "16Mi", "1", "64Mi"))}), []string{"resources.claims are not allowed"}},
		{"namespaces in the allow-list", limited, own, spec(nil, "a", "b", "a"), nil},
		{"a namespace outside the allow-list, named once", limited, own, spec(nil, "a", "c", "c"),
			[]string{`spec.edges[1].from.namespace "c" is not one of the namespaces the manager may put pods in (--namespaces: a, b)`}},
		{"a canary in the allow-list", limited, own, withCanary(spec(nil, "a"), "b"), nil},
		{"a canary outside the allow-list", limited, own, withCanary(spec(nil, "a"), "c"), []string{`spec.canary.namespace "c"`}},
		{"a canary in the manager's namespace, outside the allow-list", limited, own, withCanary(spec(nil, "a"), ""),
			[]string{`the manager's canary namespace (spec.canary.namespace is empty) "netconform-system" is not one of`}},
		{"selected namespaces", selected, selectedReq, withCanary(spec(nil, "a"), ""), nil},
		{"a namespace the selector does not select", selected, selectedReq, spec(nil, "a", "b"),
			[]string{`spec.edges[1].from.namespace "b" is not a namespace the manager's --namespace-selector "netconform=on" selects`}},
		{"a canary outside the selected namespaces", selected, selectedReq, withCanary(spec(nil, "a"), "b"), []string{`spec.canary.namespace "b" is not a namespace`}},
		{"every problem at once", limited, own, spec(&v1alpha1.ProbePodSpec{Image: "evil:1", PriorityClassName: "p", Tolerations: []corev1.Toleration{{Key: "k"}}, Resources: resources("", "", "4", "64Mi")}, "z"),
			[]string{"image", "priorityClassName", "tolerations[0]", "limits.cpu 4", "from.namespace \"z\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.bounds.Check(c.spec, c.req)
			if len(got) != len(c.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(c.want), c.want)
			}
			for i, phrase := range c.want {
				if !strings.Contains(got[i], phrase) {
					t.Errorf("problem %d is %q, want it to say %q", i, got[i], phrase)
				}
			}
		})
	}
}

func spec(pod *v1alpha1.ProbePodSpec, from ...string) v1alpha1.ReachabilityTestSpec {
	s := v1alpha1.ReachabilityTestSpec{ProbePod: pod}
	for _, ns := range from {
		s.Edges = append(s.Edges, v1alpha1.Edge{Name: "e", From: v1alpha1.Source{Namespace: ns}})
	}
	return s
}

func withCanary(s v1alpha1.ReachabilityTestSpec, ns string) v1alpha1.ReachabilityTestSpec {
	s.Canary = &v1alpha1.CanarySpec{Namespace: ns}
	return s
}

// resources makes requirements from CPU and memory requests and limits; "" leaves one out.
func resources(cpuReq, memReq, cpuLim, memLim string) *corev1.ResourceRequirements {
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	return &corev1.ResourceRequirements{Requests: list(cpuReq, memReq), Limits: list(cpuLim, memLim)}
}

func withGPU(r *corev1.ResourceRequirements) *corev1.ResourceRequirements {
	r.Limits["nvidia.com/gpu"] = resource.MustParse("1")
	return r
}

func withClaim(r *corev1.ResourceRequirements) *corev1.ResourceRequirements {
	r.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	return r
}

// fromNodes checks every edge of the spec from the nodes selected.
func fromNodes(s v1alpha1.ReachabilityTestSpec, sel v1alpha1.NodeSelection) v1alpha1.ReachabilityTestSpec {
	for i := range s.Edges {
		s.Edges[i].From.Nodes = &sel
	}
	return s
}

func withNodeSelectorKeys(b Bounds, keys ...string) Bounds {
	b.AllowedNodeSelectorKeys = keys
	return b
}
