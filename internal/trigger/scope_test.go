package trigger

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// The Bookstore in small: storefront calls catalog by its Service, must not reach
// postgres's pods, and an ingress controller in its own namespace must not reach redis.
var bookstore = []v1alpha1.Edge{
	{Name: "storefront-to-catalog", From: v1alpha1.Source{Namespace: "bookstore", PodLabels: map[string]string{"app": "storefront"}},
		To: v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Name: "catalog", Namespace: "bookstore", Port: intstr.FromInt32(8080)}}, Expect: v1alpha1.ExpectAllow},
	{Name: "storefront-to-postgres", From: v1alpha1.Source{Namespace: "bookstore", PodLabels: map[string]string{"app": "storefront"}},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "bookstore", PodLabels: map[string]string{"app": "postgres"}, Port: intstr.FromInt32(5432)}}, Expect: v1alpha1.ExpectDeny},
	{Name: "ingress-to-redis", From: v1alpha1.Source{Namespace: "ingress-nginx", PodLabels: map[string]string{"app": "ingress"}},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "data", PodLabels: map[string]string{"app": "redis"}, Port: intstr.FromInt32(6379)}}, Expect: v1alpha1.ExpectDeny},
}

// Only pods and an off-cluster address: no DNS, no Service.
var podsOnly = []v1alpha1.Edge{
	{Name: "web-to-db", From: v1alpha1.Source{Namespace: "web", PodLabels: map[string]string{"app": "web", "tier": "front"}},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "db", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}, Expect: v1alpha1.ExpectAllow},
}

var withHost = []v1alpha1.Edge{
	{Name: "web-to-partner", From: v1alpha1.Source{Namespace: "web", PodLabels: map[string]string{"app": "web"}},
		To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "192.0.2.10", Port: 443}}, Expect: v1alpha1.ExpectAllow},
	podsOnly[0],
}

func policy(ns, name string, sel metav1.LabelSelector) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.NetworkPolicySpec{PodSelector: sel}}
}

func matching(kv ...string) metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return metav1.LabelSelector{MatchLabels: m}
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func TestAffects(t *testing.T) {
	everyPod := metav1.LabelSelector{}
	cases := []struct {
		name   string
		edges  []v1alpha1.Edge
		change Change
		want   bool
	}{
		// Cluster-wide policies select namespaces by labels: any test may be affected.
		{"a ClusterNetworkPolicy is created", bookstore,
			Change{Cause: CausePolicy, Name: "deny-all", ClusterKind: "ClusterNetworkPolicy", ClusterEvent: ClusterCreated}, true},
		{"a BaselineAdminNetworkPolicy is deleted", bookstore,
			Change{Cause: CausePolicy, Name: "default", ClusterKind: "BaselineAdminNetworkPolicy", ClusterEvent: ClusterDeleted}, true},
		{"a ClusterNetworkPolicy changes, for a test without edges", nil,
			Change{Cause: CausePolicy, Name: "deny-all", ClusterKind: "ClusterNetworkPolicy", ClusterEvent: ClusterChanged}, false},
		// Policies.
		{"a default deny of the source's namespace is deleted", bookstore,
			Change{Cause: CausePolicy, Namespace: "bookstore", Name: "default-deny", OldPolicy: policy("bookstore", "default-deny", everyPod)}, true},
		{"a policy of a destination's namespace selecting the destination is created", bookstore,
			Change{Cause: CausePolicy, Namespace: "data", Name: "redis", NewPolicy: policy("data", "redis", matching("app", "redis"))}, true},
		{"a policy of a destination's namespace selecting other pods only", bookstore,
			Change{Cause: CausePolicy, Namespace: "data", Name: "mongo", NewPolicy: policy("data", "mongo", matching("app", "mongo"))}, false},
		{"a policy of the source's namespace that selects only other pods", bookstore,
			Change{Cause: CausePolicy, Namespace: "ingress-nginx", Name: "admin", NewPolicy: policy("ingress-nginx", "admin", matching("app", "admin"))}, false},
		{"a policy that stops selecting the source still counts (the old version did)", bookstore,
			Change{Cause: CausePolicy, Namespace: "ingress-nginx", Name: "p",
				OldPolicy: policy("ingress-nginx", "p", matching("app", "ingress")), NewPolicy: policy("ingress-nginx", "p", matching("app", "admin"))}, true},
		{"a probe pod has exactly the source's labels: a selector on another key does not select it", podsOnly,
			Change{Cause: CausePolicy, Namespace: "web", Name: "p", NewPolicy: policy("web", "p", matching("app", "web", "version", "v2"))}, false},
		{"but it may select on the labels netconform adds", podsOnly,
			Change{Cause: CausePolicy, Namespace: "web", Name: "p", NewPolicy: policy("web", "p", expr("netconform.io/run", metav1.LabelSelectorOpExists))}, true},
		{"a probe pod never carries the canary's label: a policy that needs it does not select it", podsOnly,
			Change{Cause: CausePolicy, Namespace: "web", Name: "p", NewPolicy: policy("web", "p", matching("netconform.io/canary", "c1"))}, false},
		{"a selector DoesNotExist on a key the source lacks selects the probe pod", podsOnly,
			Change{Cause: CausePolicy, Namespace: "web", Name: "p", NewPolicy: policy("web", "p", expr("legacy", metav1.LabelSelectorOpDoesNotExist))}, true},
		{"a destination pod may carry more labels than the edge names", podsOnly,
			Change{Cause: CausePolicy, Namespace: "db", Name: "p", NewPolicy: policy("db", "p", matching("app", "db", "role", "primary"))}, true},
		{"a destination's known label rules a selector out", podsOnly,
			Change{Cause: CausePolicy, Namespace: "db", Name: "p", NewPolicy: policy("db", "p", expr("app", metav1.LabelSelectorOpNotIn, "db"))}, false},
		{"a Service's backends are unknown: any policy of its namespace counts", bookstore,
			Change{Cause: CausePolicy, Namespace: "bookstore", Name: "p", NewPolicy: policy("bookstore", "p", matching("app", "anything"))}, true},
		{"the cluster DNS's policies count for edges that look names up", bookstore,
			Change{Cause: CausePolicy, Namespace: "kube-system", Name: "dns", NewPolicy: policy("kube-system", "dns", matching("k8s-app", "kube-dns"))}, true},
		{"other kube-system policies do not", bookstore,
			Change{Cause: CausePolicy, Namespace: "kube-system", Name: "metrics", NewPolicy: policy("kube-system", "metrics", matching("k8s-app", "metrics-server"))}, false},
		{"edges that look no name up ignore kube-system", podsOnly,
			Change{Cause: CausePolicy, Namespace: "kube-system", Name: "dns", NewPolicy: policy("kube-system", "dns", everyPod)}, false},
		{"a policy in a namespace no edge touches", bookstore,
			Change{Cause: CausePolicy, Namespace: "elsewhere", Name: "deny", OldPolicy: policy("elsewhere", "deny", everyPod)}, false},
		{"an address may be a pod of the test's namespaces", withHost,
			Change{Cause: CausePolicy, Namespace: "db", Name: "p", NewPolicy: policy("db", "p", matching("app", "other"))}, true},

		{"kube-system is no namespace of a test that looks no name up", podsOnly,
			Change{Cause: CauseNamespaceLabels, Name: "kube-system", OldLabels: map[string]string{"a": "1"}, NewLabels: map[string]string{"a": "2"}}, false},

		// Namespace labels.
		{"the source's namespace is relabelled", bookstore,
			Change{Cause: CauseNamespaceLabels, Name: "ingress-nginx", OldLabels: map[string]string{"team": "edge"}, NewLabels: map[string]string{"team": "core"}}, true},
		{"a destination's namespace is created", podsOnly,
			Change{Cause: CauseNamespaceLabels, Name: "db", NewLabels: map[string]string{"kubernetes.io/metadata.name": "db"}}, true},
		{"a namespace no edge has an end in is relabelled, even if a policy's namespaceSelector names it", bookstore,
			Change{Cause: CauseNamespaceLabels, Name: "monitoring", OldLabels: map[string]string{"a": "1"}, NewLabels: map[string]string{"a": "2"}}, false},
		{"an edge's namespace updated without a label change", bookstore,
			Change{Cause: CauseNamespaceLabels, Name: "bookstore", OldLabels: map[string]string{"a": "1"}, NewLabels: map[string]string{"a": "1"}}, false},

		// Pod labels.
		{"a destination pod is relabelled out of the edge", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "db", Name: "db-0", OldLabels: map[string]string{"app": "db"}, NewLabels: map[string]string{"app": "db-old"}}, true},
		{"a pod is relabelled into the edge's destination", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "db", Name: "db-9", OldLabels: map[string]string{"app": "x"}, NewLabels: map[string]string{"app": "db"}}, true},
		{"a destination pod comes (a rollout)", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "db", Name: "db-1", NewLabels: map[string]string{"app": "db", "pod-template-hash": "abc"}}, true},
		{"a destination pod goes", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "db", Name: "db-1", OldLabels: map[string]string{"app": "db"}}, true},
		{"a bystander pod of a destination's namespace", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "db", Name: "cache-0", OldLabels: map[string]string{"app": "cache"}, NewLabels: map[string]string{"app": "cache", "v": "2"}}, false},
		{"pods of the source's namespace are not the source: the probe pod is", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "web", Name: "web-0", OldLabels: map[string]string{"app": "web"}, NewLabels: map[string]string{"app": "web2"}}, false},
		{"a destination pod updated without a label change (its status)", podsOnly,
			Change{Cause: CausePodLabels, Namespace: "db", Name: "db-0", OldLabels: map[string]string{"app": "db"}, NewLabels: map[string]string{"app": "db"}}, false},
		{"any pod of a Service's namespace may be a backend", bookstore,
			Change{Cause: CausePodLabels, Namespace: "bookstore", Name: "catalog-1", NewLabels: map[string]string{"app": "catalog"}}, true},
		{"the cluster DNS's pods", bookstore,
			Change{Cause: CausePodLabels, Namespace: "kube-system", Name: "coredns-1", NewLabels: map[string]string{"k8s-app": "kube-dns"}}, true},
		{"a pod in a namespace no edge touches", bookstore,
			Change{Cause: CausePodLabels, Namespace: "elsewhere", Name: "x", NewLabels: map[string]string{"app": "redis"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := ScopeOf(c.edges).Affects(c.change)
			if got != c.want {
				t.Errorf("Affects(%s) = %v (%q), want %v", c.change, got, why, c.want)
			}
			if got && why == "" {
				t.Errorf("Affects(%s) gives no reason", c.change)
			}
		})
	}
}

func TestChangeInWords(t *testing.T) {
	p := policy("bookstore", "default-deny", metav1.LabelSelector{})
	cases := map[string]Change{
		"NetworkPolicy bookstore/default-deny deleted": {Cause: CausePolicy, Namespace: "bookstore", Name: "default-deny", OldPolicy: p},
		"NetworkPolicy bookstore/default-deny created": {Cause: CausePolicy, Namespace: "bookstore", Name: "default-deny", NewPolicy: p},
		"NetworkPolicy bookstore/default-deny changed": {Cause: CausePolicy, Namespace: "bookstore", Name: "default-deny", OldPolicy: p, NewPolicy: p},
		"ClusterNetworkPolicy deny-all changed":        {Cause: CausePolicy, Name: "deny-all", ClusterKind: "ClusterNetworkPolicy", ClusterEvent: ClusterChanged},
		"namespace data relabelled":                    {Cause: CauseNamespaceLabels, Name: "data", OldLabels: map[string]string{}, NewLabels: map[string]string{"a": "b"}},
		"pod data/redis-0 relabelled":                  {Cause: CausePodLabels, Namespace: "data", Name: "redis-0", OldLabels: map[string]string{}, NewLabels: map[string]string{"a": "b"}},
		"pod data/redis-0 deleted":                     {Cause: CausePodLabels, Namespace: "data", Name: "redis-0", OldLabels: map[string]string{}},
	}
	for want, c := range cases {
		if got := c.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestFollows(t *testing.T) {
	both := []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange, v1alpha1.RerunOnLabelChange}
	policies := []v1alpha1.RerunTrigger{v1alpha1.RerunOnPolicyChange}
	for _, c := range []struct {
		cause Cause
		on    []v1alpha1.RerunTrigger
		want  bool
	}{
		{CausePolicy, both, true}, {CausePodLabels, both, true}, {CauseNamespaceLabels, both, true},
		{CausePolicy, policies, true}, {CausePodLabels, policies, false}, {CauseNamespaceLabels, policies, false},
		{CausePolicy, nil, false}, {CausePodLabels, nil, false},
	} {
		if got := c.cause.Follows(c.on); got != c.want {
			t.Errorf("%s.Follows(%v) = %v, want %v", c.cause, c.on, got, c.want)
		}
	}
}
