package policykinds

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/netpol"
)

// moduleCRDs is the folder of the ClusterNetworkPolicy CRDs that the network-policy-api
// module ships (config/crd/standard).
func moduleCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/network-policy-api").Output()
	if err != nil {
		t.Fatalf("finding the network-policy-api module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
}

// startAPIServer starts a kube-apiserver and etcd of its own, with no CRDs.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd and sets it")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return cfg
}

// TestDiscoverAndRead runs discovery and the reads against a real API server: first
// without the policy CRDs (nothing served, nothing read), then with the module's
// ClusterNetworkPolicy CRD and a Calico-like CRD installed; and as a user that may not
// list the Calico-like kind.
func TestDiscoverAndRead(t *testing.T) {
	cfg := startAPIServer(t)
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	served := discover(t, cfg)
	if len(served.Watched()) != 0 || len(served.Unreadable) != 0 {
		t.Fatalf("a cluster without policy CRDs serves %+v", served)
	}
	var empty netpol.Cluster
	if err := Read(ctx, c, served, &empty); err != nil || len(empty.ClusterNetworkPolicies) != 0 || len(empty.Unreadable) != 0 {
		t.Fatalf("reading a cluster without policy CRDs: %+v, %v", empty, err)
	}

	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths: []string{moduleCRDs(t), filepath.Join("testdata", "calico-networkpolicy-crd.yaml")}, ErrorIfPathMissing: true,
	}); err != nil {
		t.Fatalf("installing the CRDs: %v", err)
	}
	served = discover(t, cfg)
	if r := served.ClusterNetworkPolicy; r == nil || r.Version != "v1beta1" || r.Namespaced {
		t.Fatalf("ClusterNetworkPolicy served as %+v, want cluster-scoped v1beta1", r)
	}
	if got := names(served.Unreadable); len(got) != 1 || got[0] != "NetworkPolicy.crd.projectcalico.org/v1" {
		t.Fatalf("unreadable kinds %q, want Calico's NetworkPolicy alone", got)
	}
	var none netpol.Cluster
	if err := Read(ctx, c, served, &none); err != nil || len(none.Unreadable) != 0 {
		t.Fatalf("a Calico kind without objects is unreadable: %+v, %v", none.Unreadable, err)
	}

	createPolicies(t, c)
	var got netpol.Cluster
	if err := Read(ctx, c, served, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ClusterNetworkPolicies) != 2 {
		t.Fatalf("read %d ClusterNetworkPolicies, want 2 (one created as v1beta1, one as v1alpha2)", len(got.ClusterNetworkPolicies))
	}
	for _, p := range got.ClusterNetworkPolicies {
		if p.Spec.Tier != v1beta1.AdminTier || len(p.Spec.Ingress) != 1 || p.Spec.Ingress[0].Action != v1beta1.ClusterNetworkPolicyRuleActionDeny {
			t.Errorf("ClusterNetworkPolicy %s read as %+v", p.Name, p.Spec)
		}
	}
	want := netpol.UnreadableKind{Group: "crd.projectcalico.org", Version: "v1", Resource: "networkpolicies", Kind: "NetworkPolicy", Namespaced: true, Namespaces: []string{"db", "shop"}, Count: 3}
	if len(got.Unreadable) != 1 || !equalKinds(got.Unreadable[0], want) {
		t.Fatalf("unreadable %+v, want %+v", got.Unreadable, want)
	}

	// As a user that may list ClusterNetworkPolicies but not the Calico kind.
	limited := rest.CopyConfig(cfg)
	limited.Impersonate = rest.ImpersonationConfig{UserName: "reader"}
	grantClusterNetworkPolicies(t, c, "reader")
	lc, err := client.New(limited, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	var partial netpol.Cluster
	if err := Read(ctx, lc, served, &partial); err != nil {
		t.Fatal(err)
	}
	if len(partial.ClusterNetworkPolicies) != 2 || len(partial.Unreadable) != 1 || Listed(partial.Unreadable[0]) || partial.Unreadable[0].Namespaced {
		t.Fatalf("with no right to list the Calico kind: %d policies, unreadable %+v; want 2 and the kind as not listed, for any connection",
			len(partial.ClusterNetworkPolicies), partial.Unreadable)
	}
	if d := Describe(partial.Unreadable[0]); d != "could not list networkpolicies.crd.projectcalico.org: forbidden" {
		t.Errorf("described as %q", d)
	}
}

func discover(t *testing.T, cfg *rest.Config) Served {
	t.Helper()
	d, err := NewDiscoverer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Served(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalKinds(a, b netpol.UnreadableKind) bool {
	return a.Group == b.Group && a.Version == b.Version && a.Resource == b.Resource && a.Kind == b.Kind &&
		a.Namespaced == b.Namespaced && strings.Join(a.Namespaces, ",") == strings.Join(b.Namespaces, ",") && a.Count == b.Count
}

// createPolicies creates two ClusterNetworkPolicies (one through each served version)
// and three Calico-like policies in two namespaces.
func createPolicies(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	beta := &v1beta1.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-db"},
		Spec: v1beta1.ClusterNetworkPolicySpec{
			Tier: v1beta1.AdminTier, Priority: 10,
			Subject: v1beta1.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "db"}}},
			Ingress: []v1beta1.ClusterNetworkPolicyIngressRule{{Name: "deny-all", Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
				From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}}},
		},
	}
	alpha := &v1alpha2.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-shop"},
		Spec: v1alpha2.ClusterNetworkPolicySpec{
			Tier: v1alpha2.AdminTier, Priority: 20,
			Subject: v1alpha2.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "shop"}}},
			Ingress: []v1alpha2.ClusterNetworkPolicyIngressRule{{Name: "deny-all", Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
				From: []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}}},
		},
	}
	objs := []client.Object{beta, alpha}
	for _, ns := range []string{"shop", "db"} {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	for i, ns := range []string{"shop", "shop", "db"} {
		objs = append(objs, calicoPolicy(ns, "p"+string(rune('0'+i))))
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// calicoPolicy is an object of the Calico-like CRD in testdata.
func calicoPolicy(namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("crd.projectcalico.org/v1")
	u.SetKind("NetworkPolicy")
	u.SetNamespace(namespace)
	u.SetName(name)
	u.Object["spec"] = map[string]any{"selector": "all()", "types": []any{"Ingress"}}
	return u
}

// grantClusterNetworkPolicies lets user list ClusterNetworkPolicies, and nothing else.
func grantClusterNetworkPolicies(t *testing.T, c client.Client, user string) {
	t.Helper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{PolicyGroup}, Resources: []string{"clusternetworkpolicies"}, Verbs: []string{"list"}},
	}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// The enforcement canary's ClusterNetworkPolicies select its own pods only: the model
// leaves them out, and reads every other.
func TestReadLeavesOutTheCanarysPolicies(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	names := canary.Names{ID: "c1", Namespace: "netconform-system"}
	workload := &v1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-db"}, Spec: v1beta1.ClusterNetworkPolicySpec{Tier: v1beta1.AdminTier}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(canary.AdminDeny(names), canary.BaselineDeny(names), workload).Build()
	served := Served{ClusterNetworkPolicy: &Resource{Group: v1beta1.GroupName, Version: "v1beta1", Resource: "clusternetworkpolicies", Kind: KindClusterNetworkPolicy}}
	var got netpol.Cluster
	if err := Read(context.Background(), c, served, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ClusterNetworkPolicies) != 1 || got.ClusterNetworkPolicies[0].Name != "deny-db" {
		t.Fatalf("read %d ClusterNetworkPolicies (%+v), want deny-db alone", len(got.ClusterNetworkPolicies), got.ClusterNetworkPolicies)
	}
}
