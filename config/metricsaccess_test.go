package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/metricsserving"
)

// metricsNamespaceLabel admits a namespace's pods to the manager's metrics port.
const metricsNamespaceLabel = "netconform.io/metrics"

// TestManagerPolicyAdmitsOnlyScrapers: the manager pods take ingress on the metrics port
// alone, and only from namespaces labelled for it; the policy ships with config/default.
func TestManagerPolicyAdmitsOnlyScrapers(t *testing.T) {
	np := managerPolicy(t)
	mgr := managerContainer(t)
	if !slices.Contains(mgr.Args, fmt.Sprintf("--metrics-bind-address=:%d", metricsserving.Port)) {
		t.Errorf("the manager's arguments %v do not serve metrics on %d", mgr.Args, metricsserving.Port)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes %v, want [Ingress]: the manager's egress (API server) stays open", np.Spec.PolicyTypes)
	}
	want := []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{metricsNamespaceLabel: "enabled"}}}},
		Ports: []networkingv1.NetworkPolicyPort{{
			Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(metricsserving.Port)),
		}},
	}}
	if got, _ := sigsyaml.Marshal(np.Spec.Ingress); string(got) != mustYAML(t, want) {
		t.Errorf("ingress rules:\n%s\nwant:\n%s", got, mustYAML(t, want))
	}
	kust, err := os.ReadFile("default/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kust), "- ../network-policy\n") {
		t.Error("config/default does not include ../network-policy")
	}
}

// TestManagerPolicyAndCanaryKeepApart: the manager's policy selects the manager's pods
// and not the canary's, which share its namespace, and the canary's policies do not
// select the manager.
func TestManagerPolicyAndCanaryKeepApart(t *testing.T) {
	np := managerPolicy(t)
	selects := func(s metav1.LabelSelector, podLabels map[string]string) bool {
		sel, err := metav1.LabelSelectorAsSelector(&s)
		if err != nil {
			t.Fatal(err)
		}
		return sel.Matches(labels.Set(podLabels))
	}
	managerLabels := podTemplates(t, "manager/manager.yaml")[0].Labels
	if len(np.Spec.PodSelector.MatchLabels) == 0 || !selects(np.Spec.PodSelector, managerLabels) {
		t.Fatalf("the policy's podSelector %v does not select the manager pods %v alone", np.Spec.PodSelector, managerLabels)
	}
	names := canary.Names{ID: "0123456789", Namespace: np.Namespace}
	settings := canary.PodSettings{RunID: "run", TestUID: "uid"}
	for _, pod := range []*corev1.Pod{canary.ServerPod(names, settings), canary.ClientPod(names, settings, "10.0.0.1")} {
		if selects(np.Spec.PodSelector, pod.Labels) {
			t.Errorf("the manager's policy selects canary pod %s", pod.Name)
		}
	}
	for _, p := range []*networkingv1.NetworkPolicy{canary.DenyAll(names), canary.AllowIngress(names), canary.AllowEgress(names)} {
		if selects(p.Spec.PodSelector, managerLabels) {
			t.Errorf("canary policy %s selects the manager", p.Name)
		}
	}
}

// TestMetricsRolesAreNarrow: the reader may get /metrics and nothing else; the manager's
// metrics role may only create the two reviews.
func TestMetricsRolesAreNarrow(t *testing.T) {
	for file, want := range map[string][]rbacv1.PolicyRule{
		"rbac/metrics_reader_role.yaml": {{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
		"rbac/metrics_auth_role.yaml": {
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		},
	} {
		var role rbacv1.ClusterRole
		readYAML(t, file, &role)
		if mustYAML(t, role.Rules) != mustYAML(t, want) {
			t.Errorf("%s rules:\n%s\nwant:\n%s", file, mustYAML(t, role.Rules), mustYAML(t, want))
		}
	}
}

// TestServiceMonitorScrapesWithAToken: Prometheus scrapes HTTPS and sends its token.
func TestServiceMonitorScrapesWithAToken(t *testing.T) {
	var sm struct {
		Spec struct {
			Endpoints []struct {
				Port, Scheme    string
				BearerTokenFile string `json:"bearerTokenFile"`
			}
		}
	}
	readYAML(t, "prometheus/servicemonitor.yaml", &sm)
	for _, e := range sm.Spec.Endpoints {
		if e.Scheme != "https" || e.BearerTokenFile == "" || e.Port != "https" {
			t.Errorf("endpoint %+v: want port https, scheme https and a bearerTokenFile", e)
		}
	}
}

func managerPolicy(t *testing.T) networkingv1.NetworkPolicy {
	t.Helper()
	var np networkingv1.NetworkPolicy
	mustUnmarshal(t, "network-policy/allow-metrics-traffic.yaml", documents(t, "network-policy/allow-metrics-traffic.yaml")[0], &np)
	return np
}

func managerContainer(t *testing.T) corev1.Container {
	t.Helper()
	return podTemplates(t, "manager/manager.yaml")[0].Spec.Containers[0]
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := sigsyaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
