package generate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/netpol"
)

const ns = "shop"

var edgeName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func namespace(name string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

// pod is a ready pod with labels and one named TCP container port.
func pod(namespace, name, ip string, labels map[string]string, portName string, port int32) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels}}
	p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: portName, ContainerPort: port}}}}
	p.Status.PodIP, p.Status.Phase = ip, corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return p
}

func service(namespace, name string, selector map[string]string, port int32, target intstr.IntOrString, protocol corev1.Protocol) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	s.Spec.ClusterIP, s.Spec.Selector = "10.96.0."+strconv.Itoa(int(port%250)), selector
	s.Spec.Ports = []corev1.ServicePort{{Port: port, TargetPort: target, Protocol: protocol}}
	return s
}

func denyAll(types ...networkingv1.PolicyType) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default-deny"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: types},
	}
}

// allowWebToDB admits app=web to app=db on 5432/TCP.
func allowWebToDB() networkingv1.NetworkPolicy {
	port := intstr.FromInt32(5432)
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "allow-web-to-db"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
			}},
		},
	}
}

func shopPods() []corev1.Pod {
	return []corev1.Pod{
		pod(ns, "web-7d9-abc", "10.0.0.1", map[string]string{"app": "web", "pod-template-hash": "7d9"}, "http", 8080),
		pod(ns, "web-7d9-def", "10.0.0.2", map[string]string{"app": "web", "pod-template-hash": "7d9"}, "http", 8080),
		pod(ns, "db-0", "10.0.0.3", map[string]string{"app": "db"}, "pg", 5432),
	}
}

func shopServices() []corev1.Service {
	return []corev1.Service{
		service(ns, "web", map[string]string{"app": "web"}, 80, intstr.FromString("http"), ""),
		service(ns, "db", map[string]string{"app": "db"}, 5432, intstr.FromInt32(5432), corev1.ProtocolTCP),
	}
}

// kubeDNS is a cluster DNS the source must reach before a Service edge.
func kubeDNS() (corev1.Pod, corev1.Service) {
	p := pod("kube-system", "coredns-1", "10.0.9.1", map[string]string{"k8s-app": "kube-dns"}, "dns", 53)
	p.Spec.Containers[0].Ports[0].Protocol = corev1.ProtocolUDP
	return p, service("kube-system", "kube-dns", map[string]string{"k8s-app": "kube-dns"}, 53, intstr.FromInt32(53), corev1.ProtocolUDP)
}

// edge is what a test asserts of one generated edge.
type edge struct {
	name   string
	labels string // the source's podLabels as k=v,k=v
	to     string // service/NAME:PORT or pods/k=v:PORT
	expect v1alpha1.Expectation
}

func describe(e v1alpha1.Edge) edge {
	out := edge{name: e.Name, labels: selector(e.From.PodLabels), expect: e.Expect}
	switch {
	case e.To.Service != nil:
		out.to = "service/" + e.To.Service.Name + ":" + e.To.Service.Port.String()
	case e.To.Pods != nil:
		out.to = "pods/" + selector(e.To.Pods.PodLabels) + ":" + e.To.Pods.Port.String()
	}
	if e.Protocol != "" {
		out.to += "/" + string(e.Protocol)
	}
	return out
}

func TestTests(t *testing.T) {
	dnsPod, dnsSvc := kubeDNS()
	noServices := shopPods()
	tests := []struct {
		name    string
		cluster netpol.Cluster
		want    []edge
	}{
		{
			name: "default-deny ingress and one allow, to Services",
			cluster: netpol.Cluster{
				Namespaces: []corev1.Namespace{namespace(ns)},
				Pods:       shopPods(),
				Services:   shopServices(),
				Policies:   []networkingv1.NetworkPolicy{denyAll(networkingv1.PolicyTypeIngress), allowWebToDB()},
			},
			want: []edge{
				{"db-to-db-5432", "app=db", "service/db:5432", v1alpha1.ExpectDeny},
				{"db-to-web-80", "app=db", "service/web:80", v1alpha1.ExpectDeny},
				{"web-to-db-5432", "app=web", "service/db:5432", v1alpha1.ExpectAllow},
				{"web-to-web-80", "app=web", "service/web:80", v1alpha1.ExpectDeny},
				{"intruder-to-db-5432", "", "service/db:5432", v1alpha1.ExpectDeny},
				{"intruder-to-web-80", "", "service/web:80", v1alpha1.ExpectDeny},
			},
		},
		{
			name: "no Services: the pods' named container ports",
			cluster: netpol.Cluster{
				Namespaces: []corev1.Namespace{namespace(ns)},
				Pods:       noServices,
				Policies:   []networkingv1.NetworkPolicy{denyAll(networkingv1.PolicyTypeIngress), allowWebToDB()},
			},
			want: []edge{
				{"db-to-db-pg", "app=db", "pods/app=db:pg", v1alpha1.ExpectDeny},
				{"db-to-web-http", "app=db", "pods/app=web:http", v1alpha1.ExpectDeny},
				{"web-to-db-pg", "app=web", "pods/app=db:pg", v1alpha1.ExpectAllow},
				{"web-to-web-http", "app=web", "pods/app=web:http", v1alpha1.ExpectDeny},
				{"intruder-to-db-pg", "", "pods/app=db:pg", v1alpha1.ExpectDeny},
				{"intruder-to-web-http", "", "pods/app=web:http", v1alpha1.ExpectDeny},
			},
		},
		{
			name: "no policies: everything is allowed",
			cluster: netpol.Cluster{
				Namespaces: []corev1.Namespace{namespace(ns)},
				Pods:       shopPods()[2:],
				Services:   shopServices()[1:],
			},
			want: []edge{
				{"db-to-db-5432", "app=db", "service/db:5432", v1alpha1.ExpectAllow},
				{"intruder-to-db-5432", "", "service/db:5432", v1alpha1.ExpectAllow},
			},
		},
		{
			name: "default-deny egress too: the Service's name does not resolve, so allowed ingress is not enough",
			cluster: netpol.Cluster{
				Namespaces: []corev1.Namespace{namespace(ns), namespace("kube-system")},
				Pods:       append(shopPods(), dnsPod),
				Services:   append(shopServices()[1:], dnsSvc),
				Policies:   []networkingv1.NetworkPolicy{denyAll(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress), allowWebToDB()},
			},
			want: []edge{
				{"db-to-db-5432", "app=db", "service/db:5432", v1alpha1.ExpectDeny},
				{"web-to-db-5432", "app=web", "service/db:5432", v1alpha1.ExpectDeny},
				{"intruder-to-db-5432", "", "service/db:5432", v1alpha1.ExpectDeny},
			},
		},
		{
			name: "UDP Service port",
			cluster: netpol.Cluster{
				Namespaces: []corev1.Namespace{namespace("kube-system")},
				Pods:       []corev1.Pod{dnsPod},
				Services:   []corev1.Service{dnsSvc},
			},
			want: []edge{
				{"kube-dns-to-kube-dns-53-udp", "k8s-app=kube-dns", "service/kube-dns:53/UDP", v1alpha1.ExpectAllow},
				{"intruder-to-kube-dns-53-udp", "", "service/kube-dns:53/UDP", v1alpha1.ExpectAllow},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			namespace := ns
			if tt.cluster.Namespaces[0].Name != ns {
				namespace = tt.cluster.Namespaces[0].Name
			}
			got := Tests(&tt.cluster, namespace)
			if got.Name != "generated-"+namespace || got.Kind != "ReachabilityTest" || got.APIVersion != "netconform.io/v1alpha1" {
				t.Errorf("object = %s %s %q", got.APIVersion, got.Kind, got.Name)
			}
			if len(got.Spec.Edges) != len(tt.want) {
				t.Errorf("%d edges, want %d", len(got.Spec.Edges), len(tt.want))
			}
			for i, e := range got.Spec.Edges {
				d := describe(e)
				if i >= len(tt.want) || d != tt.want[i] {
					t.Errorf("edge %d = %+v", i, d)
					continue
				}
				if e.From.Namespace != namespace {
					t.Errorf("edge %s from namespace %q", e.Name, e.From.Namespace)
				}
			}
			assertNames(t, got)
			assertValid(t, got, namespace)
		})
	}
}

// TestTestsDeterministic: the same cluster in another order gives the same test.
func TestTestsDeterministic(t *testing.T) {
	c := netpol.Cluster{Pods: shopPods(), Services: shopServices(), Policies: []networkingv1.NetworkPolicy{allowWebToDB(), denyAll(networkingv1.PolicyTypeIngress)}}
	first, _ := YAML(Tests(&c, ns), ns)
	c.Pods[0], c.Pods[2] = c.Pods[2], c.Pods[0]
	c.Services[0], c.Services[1] = c.Services[1], c.Services[0]
	c.Policies[0], c.Policies[1] = c.Policies[1], c.Policies[0]
	second, _ := YAML(Tests(&c, ns), ns)
	if string(first) != string(second) {
		t.Errorf("order changed the output:\n%s\n---\n%s", first, second)
	}
}

// TestTestsLimitsAndNames: long, upper-case and colliding names stay valid and unique,
// and a large namespace stops at MaxEdges.
func TestTestsLimitsAndNames(t *testing.T) {
	c := netpol.Cluster{Namespaces: []corev1.Namespace{namespace(ns)}}
	long := strings.Repeat("Very_Long.Label-Value", 3)[:63]
	for i := range 50 {
		app := "app" + strconv.Itoa(i)
		if i < 3 {
			app = long[:60] + strconv.Itoa(i) // differs only past the name's 63 characters
		}
		c.Pods = append(c.Pods, pod(ns, "p"+strconv.Itoa(i), "10.0.1."+strconv.Itoa(i+1), map[string]string{"app": app}, "", 8080))
		c.Services = append(c.Services, service(ns, "svc"+strconv.Itoa(i), map[string]string{"app": app}, 8080, intstr.FromInt32(8080), ""))
	}
	got := Tests(&c, ns)
	if len(got.Spec.Edges) != MaxEdges {
		t.Fatalf("%d edges, want MaxEdges %d (51 sources x 50 Services)", len(got.Spec.Edges), MaxEdges)
	}
	assertNames(t, got)
	assertValid(t, got, ns)
}

func TestTestsNoDestination(t *testing.T) {
	c := netpol.Cluster{Pods: []corev1.Pod{pod(ns, "lonely", "10.0.0.1", nil, "", 80)}}
	if got := Tests(&c, ns); len(got.Spec.Edges) != 0 {
		t.Errorf("edges = %v, want none: an unlabelled pod is no pods destination", got.Spec.Edges)
	}
	if got := Tests(nil, ns); len(got.Spec.Edges) != 0 {
		t.Errorf("nil cluster: edges = %v", got.Spec.Edges)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"Web_Frontend-to-db-5432":      "web-frontend-to-db-5432",
		"--a..b--":                     "a..b",
		"___":                          "edge",
		strings.Repeat("x", 70):        strings.Repeat("x", 63),
		strings.Repeat("x", 62) + "-y": strings.Repeat("x", 62),
	} {
		if got := sanitize(in, 63); got != want || !edgeName.MatchString(got) {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	used := map[string]bool{}
	a, b, c := unique(used, strings.Repeat("a", 70)), unique(used, strings.Repeat("a", 70)), unique(used, strings.Repeat("a", 70))
	if a == b || b == c || len(b) > 63 || !strings.HasSuffix(b, "-2") || !strings.HasSuffix(c, "-3") {
		t.Errorf("unique: %q %q %q", a, b, c)
	}
}

func assertNames(t *testing.T, rt v1alpha1.ReachabilityTest) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range rt.Spec.Edges {
		if len(e.Name) > 63 || !edgeName.MatchString(e.Name) {
			t.Errorf("edge name %q is not valid", e.Name)
		}
		if seen[e.Name] {
			t.Errorf("edge name %q is used twice", e.Name)
		}
		seen[e.Name] = true
	}
}

// assertValid writes the YAML netconform generate prints and loads it as netconform run
// would: the CRD's schema and CEL rules accept it, and it comes back the same.
func assertValid(t *testing.T, rt v1alpha1.ReachabilityTest, namespace string) {
	t.Helper()
	out, err := YAML(rt, namespace)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "# Generated by netconform generate from the NetworkPolicies of namespace "+namespace) {
		t.Errorf("no leading comment:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "generated.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := manifest.Load([]string{path}, nil)
	if err != nil {
		t.Fatalf("manifest.Load rejects the generated test: %v\n%s", err, out)
	}
	if len(loaded) != 1 || len(loaded[0].Spec.Edges) != len(rt.Spec.Edges) || loaded[0].Name != rt.Name {
		t.Fatalf("loaded %d tests, want 1 with %d edges", len(loaded), len(rt.Spec.Edges))
	}
	for i, e := range loaded[0].Spec.Edges {
		if describe(e) != describe(rt.Spec.Edges[i]) {
			t.Errorf("edge %d loaded as %+v, generated %+v", i, describe(e), describe(rt.Spec.Edges[i]))
		}
	}
}

// TestTestsWithTheAdminTier: an Admin tier Deny decides the edges it covers, and the
// notes say so, naming the NetworkPolicy rule it makes pointless; edges the model cannot
// decide are left out.
func TestTestsWithTheAdminTier(t *testing.T) {
	lockdown := v1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "no-db"}}
	lockdown.Spec.Tier, lockdown.Spec.Priority = v1beta1.AdminTier, 10
	lockdown.Spec.Subject.Pods = &v1beta1.NamespacedPod{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}
	lockdown.Spec.Ingress = []v1beta1.ClusterNetworkPolicyIngressRule{{Name: "deny-all", Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
		From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}}}
	c := netpol.Cluster{
		Namespaces:             []corev1.Namespace{namespace(ns)},
		Pods:                   shopPods(),
		Services:               shopServices(),
		Policies:               []networkingv1.NetworkPolicy{denyAll(networkingv1.PolicyTypeIngress), allowWebToDB()},
		ClusterNetworkPolicies: []v1beta1.ClusterNetworkPolicy{lockdown},
	}
	got, notes := TestsWithNotes(&c, ns)
	var webToDB *v1alpha1.Edge
	for i := range got.Spec.Edges {
		if got.Spec.Edges[i].Name == "web-to-db-5432" {
			webToDB = &got.Spec.Edges[i]
		}
	}
	if webToDB == nil || webToDB.Expect != v1alpha1.ExpectDeny {
		t.Fatalf("web-to-db-5432 = %+v, want Deny", webToDB)
	}
	want := `edge web-to-db-5432: ClusterNetworkPolicy no-db (tier Admin, priority 10) ingress rule 1 "deny-all" (from all pods in namespaces (all), any port) decides ingress to shop/db-0 whatever the NetworkPolicies say; it denies what shop/allow-web-to-db ingress rule 1`
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Errorf("notes lack %q:\n%s", want, strings.Join(notes, "\n"))
	}
	if len(notes) != 3 { // web, db and the intruder to the database
		t.Errorf("%d notes, want one per edge to the database:\n%s", len(notes), strings.Join(notes, "\n"))
	}

	c.Unreadable = []netpol.UnreadableKind{{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy", Namespaced: true, Namespaces: []string{ns}, Count: 1}}
	if got := Tests(&c, ns); len(got.Spec.Edges) != 0 {
		t.Errorf("%d edges generated where the model cannot decide, want none", len(got.Spec.Edges))
	}
}
