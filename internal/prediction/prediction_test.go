package prediction

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/probes"
)

func TestPredict(t *testing.T) {
	web := map[string]string{"app": "web"}
	db := pod("shop", "db-0", "10.244.0.7", map[string]string{"app": "db"})
	denyAll := policy("shop", "default-deny", metav1.LabelSelector{}, nil)
	webToDB := policy("shop", "db-from-web", metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		[]networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: web}}})
	toDB := v1alpha1.Edge{Name: "web-to-db", From: v1alpha1.Source{Namespace: "shop", PodLabels: web},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}}
	check := probes.Check{Edge: "web-to-db", Kind: probes.KindTCP, Host: "10.244.0.7", Port: 5432}
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		from     map[string]string
		want     v1alpha1.Expectation
		words    string
	}{
		{"no policy isolates the database", nil, web, v1alpha1.ExpectAllow, ""},
		{"default deny", []networkingv1.NetworkPolicy{denyAll}, web, v1alpha1.ExpectDeny, "shop/default-deny"},
		{"default deny with an allow from web", []networkingv1.NetworkPolicy{denyAll, webToDB}, web, v1alpha1.ExpectAllow, "shop/db-from-web"},
		{"the allow admits web only", []networkingv1.NetworkPolicy{denyAll, webToDB}, map[string]string{"app": "other"}, v1alpha1.ExpectDeny, "shop/db-from-web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &netpol.Cluster{Namespaces: []corev1.Namespace{namespace("shop")}, Pods: []corev1.Pod{*db}, Policies: tt.policies}
			edge := toDB
			edge.From.PodLabels = tt.from
			got, why := Predict(c, edge, Source(edge.From, "probe", "10.244.0.9"), []probes.Check{check}, []probes.Result{{Target: "10.244.0.7:5432"}})
			if got != tt.want || !strings.Contains(why, tt.words) {
				t.Errorf("Predict = %s (%q), want %s mentioning %q", got, why, tt.want, tt.words)
			}
		})
	}
}

func TestPredictUnresolvedNameIsUnknown(t *testing.T) {
	c := &netpol.Cluster{Namespaces: []corev1.Namespace{namespace("shop")}}
	edge := v1alpha1.Edge{Name: "e", From: v1alpha1.Source{Namespace: "shop"}, To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "api.example", Port: 443}}}
	check := probes.Check{Edge: "e", Kind: probes.KindTCP, Host: "api.example", Port: 443}
	if got, _ := Predict(c, edge, Source(edge.From, "probe", "10.244.0.9"), []probes.Check{check}, []probes.Result{{Observation: v1alpha1.ObservedDNSFailure}}); got != "" {
		t.Errorf("a name the probe never resolved predicted %s, want unknown", got)
	}
}

// Before judges a check before its probe pod has an address: only where the address
// cannot change the verdict.
func TestBefore(t *testing.T) {
	web := map[string]string{"app": "web"}
	db := pod("shop", "db-0", "10.244.0.7", map[string]string{"app": "db"})
	dbLabels := metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	denyAll := policy("shop", "default-deny", metav1.LabelSelector{}, nil)
	webToDB := policy("shop", "db-from-web", dbLabels, []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: web}}})
	nodes := []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/16"}}}
	byAddress := policy("shop", "db-from-nodes", dbLabels, nodes)
	elsewhereByAddress := policy("ops", "from-nodes", metav1.LabelSelector{}, nodes)
	toDB := v1alpha1.Edge{Name: "web-to-db", From: v1alpha1.Source{Namespace: "shop", PodLabels: web},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}}
	toName := v1alpha1.Edge{Name: "web-to-api", From: toDB.From, To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "api.example", Port: 443}}}
	toDBCheck := probes.Check{Edge: "web-to-db", Kind: probes.KindTCP, Host: "10.244.0.7", Port: 5432}
	toDBService := v1alpha1.Edge{Name: "web-to-db", From: toDB.From, To: v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: "shop", Name: "db", Port: intstr.FromInt32(5432)}}}
	toDBServiceCheck := probes.Check{Edge: "web-to-db", Kind: probes.KindTCP, Host: "db.shop.svc.cluster.local.", Port: 5432}
	coreDNS := pod("kube-system", "coredns-0", "10.244.0.2", map[string]string{"k8s-app": "kube-dns"})
	denyEgress := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "deny-egress"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}},
	}
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		edge     v1alpha1.Edge
		check    probes.Check
		want     probes.PolicyVerdict
	}{
		{"no policy", nil, toDB, toDBCheck, probes.PolicyAllows},
		{"default deny", []networkingv1.NetworkPolicy{denyAll}, toDB, toDBCheck, probes.PolicyDenies},
		{"an allow by labels", []networkingv1.NetworkPolicy{denyAll, webToDB}, toDB, toDBCheck, probes.PolicyAllows},
		{"an allow by address depends on the probe's address", []networkingv1.NetworkPolicy{denyAll, byAddress}, toDB, toDBCheck, ""},
		{"an allow by address for other pods does not", []networkingv1.NetworkPolicy{denyAll, webToDB, elsewhereByAddress}, toDB, toDBCheck, probes.PolicyAllows},
		{"a name the probe has yet to resolve", nil, toName, probes.Check{Edge: "web-to-api", Kind: probes.KindTCP, Host: "api.example", Port: 443}, ""},
		{"a Service whose name the policies let resolve", nil, toDBService, toDBServiceCheck, probes.PolicyAllows},
		// Only a failed look-up agrees: a half-programmed pod may resolve the name and
		// then be refused, which is a denial for another reason.
		{"a Service whose name the policies do not let resolve", []networkingv1.NetworkPolicy{denyEgress}, toDBService, toDBServiceCheck, probes.PolicyDeniesLookup},
		{"the look-up itself", []networkingv1.NetworkPolicy{denyEgress}, toDBService, probes.Check{Edge: "web-to-db", Kind: probes.KindDNS, Host: "db.shop.svc.cluster.local."}, probes.PolicyDenies},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &netpol.Cluster{
				Namespaces: []corev1.Namespace{namespace("shop"), namespace("kube-system")},
				Pods:       []corev1.Pod{*db, *coreDNS},
				Services:   []corev1.Service{service("kube-system", "kube-dns", "k8s-app", "kube-dns", 53, corev1.ProtocolUDP), service("shop", "db", "app", "db", 5432, corev1.ProtocolTCP)},
				Policies:   tt.policies,
			}
			if got := Before(c, tt.edge, tt.check); got != tt.want {
				t.Errorf("Before = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDiagnose(t *testing.T) {
	const allow, deny = v1alpha1.ExpectAllow, v1alpha1.ExpectDeny
	tests := []struct {
		expected, predicted v1alpha1.Expectation
		observed            v1alpha1.Observation
		want                v1alpha1.Diagnosis
	}{
		{deny, deny, v1alpha1.ObservedRefused, ""},                                    // all agree
		{deny, deny, v1alpha1.ObservedConnected, v1alpha1.DiagnosisDataplaneMismatch}, // a CNI that enforces nothing
		{deny, allow, v1alpha1.ObservedConnected, v1alpha1.DiagnosisPolicyMismatch},   // a policy wider than the intent
		{allow, deny, v1alpha1.ObservedTimeout, v1alpha1.DiagnosisPolicyMismatch},     // a forgotten allow
		{allow, allow, v1alpha1.ObservedRefused, v1alpha1.DiagnosisDataplaneMismatch}, // the dataplane blocks an allowed flow
		{allow, deny, v1alpha1.ObservedDNSFailure, v1alpha1.DiagnosisPolicyMismatch},  // DNS egress forgotten
		{allow, "", v1alpha1.ObservedRefused, ""},                                     // no prediction
		{deny, deny, v1alpha1.ObservedError, ""},                                      // no observation
	}
	for _, tt := range tests {
		if got := Diagnose(tt.expected, tt.predicted, tt.observed); got != tt.want {
			t.Errorf("Diagnose(expected %s, predicted %s, observed %s) = %q, want %q", tt.expected, tt.predicted, tt.observed, got, tt.want)
		}
	}
}

func namespace(name string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

func pod(ns, name, ip string, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	p.Status.PodIP, p.Status.Phase = ip, corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return p
}

func policy(ns, name string, selector metav1.LabelSelector, from []networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicy {
	p := networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: selector, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}
	if from != nil {
		p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from}}
	}
	return p
}

func service(ns, name, key, value string, port int32, protocol corev1.Protocol) corev1.Service {
	return corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{key: value},
			ClusterIP: "10.96.0.10",
			Ports:     []corev1.ServicePort{{Port: port, Protocol: protocol, TargetPort: intstr.FromInt32(port)}},
		},
	}
}

// Current predicts before any probe pod exists: deleting the default deny flips a Deny
// edge to Allow; a destination that admits by address, or a name only the probe
// resolves, is left unknown rather than guessed.
func TestCurrent(t *testing.T) {
	web := map[string]string{"app": "web"}
	db := pod("shop", "db-0", "10.244.0.7", map[string]string{"app": "db"})
	denyAll := policy("shop", "default-deny", metav1.LabelSelector{}, nil)
	byAddress := policy("shop", "db-from-range", metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		[]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/24"}}})
	toDB := v1alpha1.Edge{Name: "web-to-db", From: v1alpha1.Source{Namespace: "shop", PodLabels: web},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}}
	toDBCheck := probes.Check{Edge: "web-to-db", Kind: probes.KindTCP, Host: "10.244.0.7", Port: 5432}
	toName := v1alpha1.Edge{Name: "e", From: v1alpha1.Source{Namespace: "shop"}, To: v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "api.example", Port: 443}}}
	toNameCheck := probes.Check{Edge: "e", Kind: probes.KindTCP, Host: "api.example", Port: 443}
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		edge     v1alpha1.Edge
		checks   []probes.Check
		want     v1alpha1.Expectation
		words    string
	}{
		{"default deny", []networkingv1.NetworkPolicy{denyAll}, toDB, []probes.Check{toDBCheck}, v1alpha1.ExpectDeny, "shop/default-deny"},
		{"the default deny deleted", nil, toDB, []probes.Check{toDBCheck}, v1alpha1.ExpectAllow, "allowed"},
		{"admits by address: unknown before the probe pod has one", []networkingv1.NetworkPolicy{denyAll, byAddress}, toDB, []probes.Check{toDBCheck}, "", ""},
		{"a name only the probe resolves", nil, toName, []probes.Check{toNameCheck}, "", ""},
		{"no checks (no ready destination)", nil, toDB, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &netpol.Cluster{Namespaces: []corev1.Namespace{namespace("shop")}, Pods: []corev1.Pod{*db}, Policies: tt.policies}
			got, why := Current(c, tt.edge, tt.checks)
			if got != tt.want || !strings.Contains(why, tt.words) {
				t.Errorf("Current = %q (%q), want %q mentioning %q", got, why, tt.want, tt.words)
			}
		})
	}
}

// An edge whose verdict depends on what the model cannot read gets no prediction, with
// the reason in the explanation, so no observation is diagnosed against it; an edge the
// admin tier decides is predicted, naming the tier.
func TestPredictWithTheAdminTier(t *testing.T) {
	web := map[string]string{"app": "web"}
	db := pod("shop", "db-0", "10.244.0.7", map[string]string{"app": "db"})
	toDB := v1alpha1.Edge{Name: "web-to-db", From: v1alpha1.Source{Namespace: "shop", PodLabels: web},
		To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromInt32(5432)}}}
	check := probes.Check{Edge: "web-to-db", Kind: probes.KindTCP, Host: "10.244.0.7", Port: 5432}
	denyShop := v1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "lockdown"}}
	denyShop.Spec.Tier, denyShop.Spec.Priority = v1beta1.AdminTier, 10
	denyShop.Spec.Subject.Namespaces = &metav1.LabelSelector{}
	denyShop.Spec.Ingress = []v1beta1.ClusterNetworkPolicyIngressRule{{Name: "deny-all", Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
		From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}}}
	cilium := netpol.UnreadableKind{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies", Kind: "CiliumNetworkPolicy", Namespaced: true, Namespaces: []string{"shop"}, Count: 1}
	tests := []struct {
		name       string
		cnps       []v1beta1.ClusterNetworkPolicy
		unreadable []netpol.UnreadableKind
		want       v1alpha1.Expectation
		words      string
	}{
		{"an admin-tier Deny", []v1beta1.ClusterNetworkPolicy{denyShop}, nil, v1alpha1.ExpectDeny, `decided in tier Admin: ClusterNetworkPolicy lockdown (tier Admin, priority 10) ingress rule 1 "deny-all"`},
		{"an unreadable kind in the namespace", nil, []netpol.UnreadableKind{cilium}, "", "the model cannot decide this edge: the cluster holds 1 CiliumNetworkPolicy (cilium.io/v2) in shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &netpol.Cluster{Namespaces: []corev1.Namespace{namespace("shop")}, Pods: []corev1.Pod{*db}, ClusterNetworkPolicies: tt.cnps, Unreadable: tt.unreadable}
			got, why := Predict(c, toDB, Source(toDB.From, "probe", "10.244.0.9"), []probes.Check{check}, []probes.Result{{Target: "10.244.0.7:5432"}})
			if got != tt.want || !strings.Contains(why, tt.words) {
				t.Errorf("Predict = %q (%q), want %q mentioning %q", got, why, tt.want, tt.words)
			}
			if now, _ := Current(c, toDB, []probes.Check{check}); now != tt.want {
				t.Errorf("Current = %q, want %q", now, tt.want)
			}
			if got == "" && Before(c, toDB, check) != "" {
				t.Errorf("Before gave a verdict on an undecided edge")
			}
			if d := Diagnose(v1alpha1.ExpectDeny, got, v1alpha1.ObservedConnected); got == "" && d != "" {
				t.Errorf("Diagnose = %s on an undecided edge", d)
			}
		})
	}
}
