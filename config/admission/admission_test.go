// Package admission holds the admission policies shipped in config/admission, tested
// here against a real kube-apiserver with users that have and lack the rights.
package admission

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

const (
	managerSA = "system:serviceaccount:netconform-system:netconform-manager"
	gateSA    = "system:serviceaccount:netconform-gate:netconform-gate"
	// maxCheckedNamespaces is how many namespaces each author policy checks one by one.
	maxCheckedNamespaces = 16
)

var (
	apiServer   *rest.Config
	admin       client.Client
	scheme      = runtime.NewScheme()
	noAPIServer string
)

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		noAPIServer = "KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd and sets it"
		os.Exit(m.Run())
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	if apiServer, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting kube-apiserver and etcd: %v\n", err)
		os.Exit(1)
	}
	code := 1
	if admin, err = client.New(apiServer, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
	} else if err = setUp(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "installing the policies and the users' rights: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the API server: %v\n", err)
	}
	os.Exit(code)
}

// setUp installs the shipped policies and the rights of the users the tests play:
// alice may create pods and read pods, Services, EndpointSlices and NetworkPolicies in
// namespaces a, b and ns-0 to ns-15; in c, d, e, f and g she has only some of those rights
// (see aliceElsewhere); bob may do all of it anywhere; the manager's and the gate's service
// accounts create and update pods anywhere.
func setUp(ctx context.Context) error {
	namespaces := []string{"a", "b", "c", "d", "e", "f", "g", "netconform-system"}
	var hers []string
	for i := range maxCheckedNamespaces + 1 {
		namespaces = append(namespaces, fmt.Sprintf("ns-%d", i))
		hers = append(hers, fmt.Sprintf("ns-%d", i))
	}
	for _, ns := range namespaces {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	objs := []client.Object{
		clusterRole("test-author", rbacv1.PolicyRule{APIGroups: []string{"netconform.io"}, Resources: []string{"reachabilitytests"}, Verbs: []string{"get", "create", "update", "delete"}}),
		clusterRole("pod-creator", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "pods/status", "pods/ephemeralcontainers"}, Verbs: []string{"get", "create", "update", "patch", "delete"}}),
		clusterRole("pod-reader", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}),
		clusterRole("service-reader", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get"}}),
		clusterRole("slice-reader", rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list"}}),
		clusterRole("policy-reader", rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"list"}}),
		clusterRole("node-reader", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}}),
		clusterBinding("node-reader", "node-reader", user("bob"), group(nodeReaders)),
		clusterBinding("test-author", "test-author", user("alice"), user("bob"), user(managerSA)),
		clusterBinding("pod-creator", "pod-creator", user("bob"), user(managerSA), user(gateSA)),
	}
	for _, role := range readerRoles {
		objs = append(objs, clusterBinding(role, role, user("bob")))
	}
	for _, ns := range append([]string{"a", "b"}, hers[:maxCheckedNamespaces]...) {
		objs = append(objs, aliceMay(ns, append([]string{"pod-creator"}, readerRoles...)...)...)
	}
	for ns, roles := range aliceElsewhere {
		objs = append(objs, aliceMay(ns, roles...)...)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return err
		}
	}
	return installShippedPolicies(ctx)
}

// readerRoles read what a test makes the manager read and report.
var readerRoles = []string{"pod-reader", "service-reader", "slice-reader", "policy-reader"}

// aliceElsewhere: in each of these namespaces alice has only some of the rights a test
// may need of her.
var aliceElsewhere = map[string][]string{
	"c": {"policy-reader"},                                               // networkpolicies: list only
	"d": {"slice-reader", "policy-reader"},                               // no pods: list, no services: get
	"e": {"pod-reader", "service-reader", "policy-reader"},               // no endpointslices: list
	"f": {"pod-reader", "service-reader", "slice-reader"},                // no networkpolicies: list
	"g": {"pod-creator", "pod-reader", "service-reader", "slice-reader"}, // no networkpolicies: list
}

// aliceMay binds alice to the cluster roles in namespace ns.
func aliceMay(ns string, roles ...string) []client.Object {
	var objs []client.Object
	for _, role := range roles {
		objs = append(objs, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-" + role, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{user("alice")},
		})
	}
	return objs
}

// installShippedPolicies creates what config/admission's kustomization lists, and waits
// until the API server has type-checked the policies and enforces them.
func installShippedPolicies(ctx context.Context) error {
	var k struct{ Resources []string }
	if err := readYAML("kustomization.yaml", &k); err != nil {
		return err
	}
	for _, file := range k.Resources {
		docs, err := documents(file)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			u := &unstructured.Unstructured{}
			if err := sigsyaml.Unmarshal(doc, &u.Object); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if err := admin.Create(ctx, u); err != nil {
				return fmt.Errorf("%s: creating %s %s: %w", file, u.GetKind(), u.GetName(), err)
			}
		}
	}
	return waitForPolicies(ctx)
}

// waitForPolicies waits until the policies are enforced. Nothing here type-checks them
// (the controller that reports on it runs in kube-controller-manager), so an expression
// that does not compile shows as a rejection of what the tests expect to be admitted.
func waitForPolicies(ctx context.Context) error {
	// Enforced once a forged pod and a test lacking each right are refused; dry runs leave
	// nothing behind.
	alice := as("alice")
	refusedBy := map[string]*v1alpha1.ReachabilityTest{
		"netconform-reachabilitytest-author":                testWith("enforced", edgesFrom("c")),
		"netconform-reachabilitytest-reads-pods":            testWith("enforced", edgesTo([]string{"a"}, []string{"d"}, podsIn)),
		"netconform-reachabilitytest-reads-services":        testWith("enforced", edgesTo([]string{"a"}, []string{"d"}, serviceIn)),
		"netconform-reachabilitytest-reads-endpointslices":  testWith("enforced", edgesTo([]string{"a"}, []string{"e"}, serviceIn)),
		"netconform-reachabilitytest-reads-networkpolicies": testWith("enforced", edgesTo([]string{"a"}, []string{"f"}, podsIn)),
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		forged := pod("a", "forged", map[string]string{probes.LabelRun: "w"}, nil)
		if !byPolicy(alice.Create(ctx, forged, client.DryRunAll), "netconform-probe-pods") {
			return false, nil
		}
		for policy, rt := range refusedBy {
			if !byPolicy(alice.Create(ctx, rt.DeepCopy(), client.DryRunAll), policy) {
				return false, nil
			}
		}
		return true, nil
	})
}

// byPolicy says whether err is a denial by the named policy.
func byPolicy(err error, policy string) bool {
	return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policy+"'")
}

// as is a client that impersonates a user.
func as(name string, groups ...string) client.Client {
	cfg := rest.CopyConfig(apiServer)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: append(groups, "system:authenticated")}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		panic(err) // the same config made the admin's client
	}
	return c
}

func requireAPIServer(t *testing.T) {
	t.Helper()
	if admin == nil {
		t.Fatal(noAPIServer)
	}
}

// nodeReaders is a group that may list nodes, which a canary needs of its author: alice
// in it may add a canary wherever she may create pods.
const nodeReaders = "node-readers"

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func clusterBinding(name, role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

// edgesFrom makes one edge from each namespace given, in order.
func edgesFrom(namespaces ...string) []v1alpha1.Edge {
	edges := make([]v1alpha1.Edge, len(namespaces))
	for i, ns := range namespaces {
		edges[i] = v1alpha1.Edge{
			Name:   fmt.Sprintf("e%d", i),
			From:   v1alpha1.Source{Namespace: ns, PodLabels: map[string]string{"app": "client"}},
			To:     v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "db.example", Port: 5432}},
			Expect: v1alpha1.ExpectAllow,
		}
	}
	return edges
}

// edgesTo makes one edge from each namespace in from to the destination dest makes in
// the namespace of to at the same index.
func edgesTo(from, to []string, dest func(ns string) v1alpha1.Destination) []v1alpha1.Edge {
	edges := edgesFrom(from...)
	for i := range edges {
		edges[i].To = dest(to[i])
	}
	return edges
}

func podsIn(ns string) v1alpha1.Destination {
	return v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: ns, PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}
}

func serviceIn(ns string) v1alpha1.Destination {
	return v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Name: "db", Namespace: ns, Port: intstr.FromInt32(5432)}}
}

func testWith(name string, edges []v1alpha1.Edge) *v1alpha1.ReachabilityTest {
	return &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.ReachabilityTestSpec{Edges: edges}}
}

func pod(ns, name string, labels, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: probes.ContainerName, Image: "netconform:test"}},
		},
	}
}

// wantAdmitted fails unless err is nil.
func wantAdmitted(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: rejected, want admitted: %v", what, err)
	}
}

// wantRejected fails unless err is a rejection that says each of the phrases.
func wantRejected(t *testing.T, what string, err error, phrases ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: admitted, want rejected", what)
		return
	}
	for _, p := range phrases {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: rejected with %q, want a message saying %q", what, err, p)
		}
	}
}

func readYAML(file string, into any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return sigsyaml.UnmarshalStrict(data, into)
}

func documents(file string) ([][]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		docs = append(docs, doc)
	}
}
