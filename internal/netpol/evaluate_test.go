package netpol

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// docsWorld holds the pods the examples of the Kubernetes documentation talk about
// (concepts/services-networking/network-policies), plus a bookstore.
func docsWorld(policies ...networkingv1.NetworkPolicy) *Cluster {
	web := corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: tcp}
	dns := corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: udp}
	return &Cluster{
		Namespaces: []corev1.Namespace{
			namespace("default", nil),
			namespace("myproject", map[string]string{"project": "myproject"}),
			namespace("alice", map[string]string{"user": "alice"}),
			namespace("bob", map[string]string{"user": "bob"}),
			namespace("bookstore", map[string]string{"team": "books", "env": "prod"}),
			// kube-system is left out of the snapshot on purpose: its name label is implied.
		},
		Pods: []corev1.Pod{
			pod("default", "db", map[string]string{"role": "db"}, "10.244.0.10", corev1.ContainerPort{Name: "redis", ContainerPort: 6379}),
			pod("default", "frontend", map[string]string{"role": "frontend"}, "10.244.0.11"),
			pod("myproject", "app", map[string]string{"app": "tool"}, "10.244.1.10"),
			pod("alice", "client", map[string]string{"role": "client"}, "10.244.2.10"),
			pod("alice", "server", map[string]string{"role": "server"}, "10.244.2.11", web),
			pod("bob", "client", map[string]string{"role": "client"}, "10.244.3.10"),
			pod("bookstore", "storefront-x", map[string]string{"app": "storefront", "tier": "web"}, "10.244.4.10", web),
			pod("bookstore", "catalog-0", map[string]string{"app": "catalog", "tier": "api"}, "10.244.4.11", web),
			pod("bookstore", "postgres-0", map[string]string{"app": "postgres"}, "10.244.4.12", corev1.ContainerPort{Name: "pg", ContainerPort: 5432}),
			pod("bookstore", "batch", map[string]string{"app": "batch", "legacy": "true"}, "fd00:4::13"),
			pod("kube-system", "coredns", map[string]string{"k8s-app": "kube-dns"}, "10.244.9.2", dns),
		},
		Services: []corev1.Service{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"},
			Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.10", Selector: map[string]string{"k8s-app": "kube-dns"}, Ports: []corev1.ServicePort{{Port: 53, Protocol: udp}}},
		}},
		Policies: policies,
	}
}

// peer is "namespace/name" for a pod of the cluster, or an address.
func (c *Cluster) peer(t testing.TB, s string) Peer {
	if strings.Contains(s, "/") {
		return PodPeer(c.mustPod(t, s))
	}
	return AddressPeer(s)
}

// The docs' "test-network-policy": ingress from an ipBlock with an exception, from a
// namespace, or from pods, on 6379/TCP; egress to 10.0.0.0/24 on 5978/TCP.
func testNetworkPolicy() networkingv1.NetworkPolicy {
	return policy("default", "test-network-policy", map[string]string{"role": "db"},
		ingress(from(peers(cidr("172.17.0.0/16", "172.17.1.0/24"), namespacesWhere(sel(map[string]string{"project": "myproject"})), podsWhere(sel(map[string]string{"role": "frontend"}))), port(6379, tcp))),
		egress(to(peers(cidr("10.0.0.0/24")), port(5978, tcp))))
}

func TestEvaluate(t *testing.T) {
	all := map[string]string{}
	aliceClients := podsInNamespacesWhere(sel(map[string]string{"role": "client"}), sel(map[string]string{"user": "alice"}))
	anyAlice, anyClient := namespacesWhere(sel(map[string]string{"user": "alice"})), podsWhere(sel(map[string]string{"role": "client"}))
	defaultDeny := policy("bookstore", "default-deny", all, func(p *networkingv1.NetworkPolicy) {
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	})
	postgresFromCatalog := policy("bookstore", "postgres-from-catalog", map[string]string{"app": "postgres"},
		ingress(from(peers(podsWhere(sel(map[string]string{"app": "storefront"}))), port(5432, tcp)), from(peers(podsWhere(sel(map[string]string{"app": "catalog"}))), port(5432, tcp))))
	catalogEgress := policy("bookstore", "catalog-egress", map[string]string{"app": "catalog"}, egress(to(peers(podsWhere(sel(map[string]string{"app": "postgres"}))))))

	cases := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		from, to string
		port     int32
		protocol corev1.Protocol
		allowed  bool
		words    []string
		check    func(t *testing.T, d Decision)
	}{
		// The documentation's test-network-policy.
		{name: "docs example: frontend pod to db on 6379", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "default/frontend", to: "default/db", port: 6379, allowed: true,
			words: []string{"default/frontend to default/db port 6379/TCP is allowed", "ingress to default/db is isolated by default/test-network-policy; allowed by default/test-network-policy ingress rule 1 (from addresses in 172.17.0.0/16 except 172.17.1.0/24 or all pods in namespaces project=myproject or pods role=frontend in default, port 6379/TCP)", "egress from default/frontend is not isolated"},
			check: func(t *testing.T, d Decision) {
				want := RuleRef{Policy: "default/test-network-policy", Direction: networkingv1.PolicyTypeIngress, Index: 0}
				if len(d.Ingress.AllowedBy) != 1 || d.Ingress.AllowedBy[0].Policy != want.Policy || d.Ingress.AllowedBy[0].Index != 0 || d.Ingress.AllowedBy[0].Direction != want.Direction {
					t.Errorf("AllowedBy = %+v, want %+v", d.Ingress.AllowedBy, want)
				}
				if !d.Ingress.Isolated || d.Egress.Isolated || d.Egress.Pod != "default/frontend" {
					t.Errorf("Ingress %+v, Egress %+v", d.Ingress, d.Egress)
				}
			}},
		{name: "docs example: frontend pod to db on another port", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "default/frontend", to: "default/db", port: 6380, allowed: false,
			words: []string{"is denied: ingress to default/db does not allow it", "no rule allows ingress from default/frontend on port 6380/TCP", "admits default/frontend but not port 6380/TCP"}},
		{name: "docs example: frontend-labelled pod of another namespace", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "alice/client", to: "default/db", port: 6379, allowed: false,
			words: []string{"does not admit alice/client"}},
		{name: "docs example: any pod of the selected namespace", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "myproject/app", to: "default/db", port: 6379, allowed: true},
		{name: "docs example: external address in the ipBlock", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "172.17.0.5", to: "default/db", port: 6379, allowed: true,
			words: []string{"egress from 172.17.0.5 is not judged: 172.17.0.5 is not a pod"},
			check: func(t *testing.T, d Decision) {
				if d.Egress.Pod != "" || !d.Egress.Allowed || d.Egress.Isolated {
					t.Errorf("Egress = %+v, want an unjudged side", d.Egress)
				}
			}},
		{name: "docs example: external address in the exception", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "172.17.1.5", to: "default/db", port: 6379, allowed: false,
			words: []string{"does not admit 172.17.1.5"}},
		{name: "docs example: db egress to the allowed block and port", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "default/db", to: "10.0.0.5", port: 5978, allowed: true,
			words: []string{"allowed by default/test-network-policy egress rule 1 (to addresses in 10.0.0.0/24, port 5978/TCP)", "ingress to 10.0.0.5 is not judged"}},
		{name: "docs example: db egress elsewhere", policies: []networkingv1.NetworkPolicy{testNetworkPolicy()},
			from: "default/db", to: "8.8.8.8", port: 5978, allowed: false,
			words: []string{"egress from default/db is isolated by default/test-network-policy and no rule allows egress to 8.8.8.8 on port 5978/TCP"}},

		// namespaceSelector and podSelector: one peer (AND) or two peers (OR).
		{name: "AND: alice's client", policies: []networkingv1.NetworkPolicy{policy("alice", "and", map[string]string{"role": "server"}, ingress(from(peers(aliceClients))))},
			from: "alice/client", to: "alice/server", port: 8080, allowed: true,
			words: []string{"from pods role=client in namespaces user=alice, any port"}},
		{name: "AND: bob's client is not alice's", policies: []networkingv1.NetworkPolicy{policy("alice", "and", map[string]string{"role": "server"}, ingress(from(peers(aliceClients))))},
			from: "bob/client", to: "alice/server", port: 8080, allowed: false, words: []string{"does not admit bob/client"}},
		{name: "OR: bob's client is a client", policies: []networkingv1.NetworkPolicy{policy("alice", "or", map[string]string{"role": "server"}, ingress(from(peers(anyAlice, anyClient))))},
			from: "bob/client", to: "alice/server", port: 8080, allowed: false,
			words: []string{"from all pods in namespaces user=alice or pods role=client in alice"}},
		{name: "OR: any pod of alice's namespace", policies: []networkingv1.NetworkPolicy{policy("alice", "or", map[string]string{"role": "server"}, ingress(from(peers(anyAlice, anyClient))))},
			from: "alice/client", to: "alice/server", port: 8080, allowed: true},

		// Default policies of the documentation.
		{name: "default deny ingress", policies: []networkingv1.NetworkPolicy{policy("bookstore", "default-deny-ingress", all, func(p *networkingv1.NetworkPolicy) {
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		})},
			from: "bookstore/storefront-x", to: "bookstore/catalog-0", port: 8080, allowed: false,
			words: []string{"bookstore/default-deny-ingress has no ingress rules: it allows no ingress"}},
		{name: "default deny ingress leaves egress alone", policies: []networkingv1.NetworkPolicy{policy("bookstore", "default-deny-ingress", all, ingress())},
			from: "bookstore/storefront-x", to: "10.0.0.1", port: 443, allowed: true, words: []string{"egress from bookstore/storefront-x is not isolated"}},
		{name: "allow all ingress beside a default deny", policies: []networkingv1.NetworkPolicy{defaultDeny, policy("bookstore", "allow-all-ingress", all, ingress(from(nil)))},
			from: "203.0.113.9", to: "bookstore/postgres-0", port: 1, allowed: true,
			words: []string{"allowed by bookstore/allow-all-ingress ingress rule 1 (from anywhere, any port)"}},
		{name: "default deny egress", policies: []networkingv1.NetworkPolicy{policy("bookstore", "default-deny-egress", all, egress())},
			from: "bookstore/storefront-x", to: "10.96.0.10", port: 53, protocol: udp, allowed: false,
			words: []string{"egress from bookstore/storefront-x is isolated by bookstore/default-deny-egress and no rule allows egress to 10.96.0.10 on port 53/UDP", "10.96.0.10 is the cluster IP of Service kube-system/kube-dns"}},
		{name: "allow all egress", policies: []networkingv1.NetworkPolicy{defaultDeny, policy("bookstore", "allow-all-egress", all, egress(to(nil)))},
			from: "bookstore/storefront-x", to: "8.8.8.8", port: 443, allowed: true},
		{name: "default deny all: ingress side", policies: []networkingv1.NetworkPolicy{defaultDeny},
			from: "default/frontend", to: "bookstore/catalog-0", port: 8080, allowed: false, words: []string{"ingress to bookstore/catalog-0 is isolated by bookstore/default-deny"}},
		{name: "the bookstore: postgres from the catalog", policies: []networkingv1.NetworkPolicy{defaultDeny, postgresFromCatalog, catalogEgress},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: true,
			words: []string{"ingress to bookstore/postgres-0 is isolated by bookstore/default-deny, bookstore/postgres-from-catalog; allowed by bookstore/postgres-from-catalog ingress rule 2 (from pods app=catalog in bookstore, port 5432/TCP)",
				"egress from bookstore/catalog-0 is isolated by bookstore/catalog-egress, bookstore/default-deny; allowed by bookstore/catalog-egress egress rule 1"},
			check: func(t *testing.T, d Decision) {
				if want := []string{"bookstore/default-deny", "bookstore/postgres-from-catalog"}; !slices.Equal(d.Ingress.Policies, want) {
					t.Errorf("Ingress.Policies = %v, want %v", d.Ingress.Policies, want)
				}
				if d.Ingress.AllowedBy[0].Index != 1 {
					t.Errorf("AllowedBy = %+v, want index 1", d.Ingress.AllowedBy)
				}
			}},
		{name: "both ends: ingress allows, egress does not", policies: []networkingv1.NetworkPolicy{defaultDeny, postgresFromCatalog},
			from: "bookstore/storefront-x", to: "bookstore/postgres-0", port: 5432, allowed: false,
			words: []string{"denied: egress from bookstore/storefront-x does not allow it", "ingress to bookstore/postgres-0 is isolated by bookstore/default-deny, bookstore/postgres-from-catalog; allowed by"},
			check: func(t *testing.T, d Decision) {
				if !d.Ingress.Allowed || d.Egress.Allowed {
					t.Errorf("Ingress.Allowed=%t Egress.Allowed=%t, want true false", d.Ingress.Allowed, d.Egress.Allowed)
				}
			}},
		{name: "both ends: egress allows, ingress does not", policies: []networkingv1.NetworkPolicy{defaultDeny, catalogEgress},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: false,
			words: []string{"denied: ingress to bookstore/postgres-0 does not allow it"}},
		{name: "both ends deny", policies: []networkingv1.NetworkPolicy{defaultDeny},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: false,
			words: []string{"neither egress from bookstore/catalog-0 nor ingress to bookstore/postgres-0 allows it"}},

		// policyTypes defaulting.
		{name: "policyTypes omitted with egress rules: egress isolated", policies: []networkingv1.NetworkPolicy{policy("bookstore", "egress-rules", all, func(p *networkingv1.NetworkPolicy) {
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{to(peers(cidr("10.0.0.0/8")))}
		})},
			from: "bookstore/storefront-x", to: "8.8.8.8", port: 443, allowed: false, words: []string{"isolated by bookstore/egress-rules"}},
		{name: "policyTypes omitted with egress rules: ingress isolated too", policies: []networkingv1.NetworkPolicy{policy("bookstore", "egress-rules", all, func(p *networkingv1.NetworkPolicy) {
			p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{to(peers(cidr("10.0.0.0/8")))}
		})},
			from: "203.0.113.9", to: "bookstore/storefront-x", port: 8080, allowed: false, words: []string{"bookstore/egress-rules has no ingress rules"}},
		{name: "policyTypes omitted with only ingress rules: egress not isolated", policies: []networkingv1.NetworkPolicy{policy("bookstore", "ingress-rules", all, func(p *networkingv1.NetworkPolicy) {
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{from(nil)}
		})},
			from: "bookstore/storefront-x", to: "8.8.8.8", port: 443, allowed: true, words: []string{"egress from bookstore/storefront-x is not isolated"}},
		{name: "policyTypes Egress only: ingress rules are ignored", policies: []networkingv1.NetworkPolicy{policy("bookstore", "egress-only", all, func(p *networkingv1.NetworkPolicy) {
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{from(peers(cidr("192.0.2.0/24")))}
		})},
			from: "203.0.113.9", to: "bookstore/storefront-x", port: 8080, allowed: true, words: []string{"ingress to bookstore/storefront-x is not isolated"}},
		{name: "ingress: [] with policyType Ingress denies all", policies: []networkingv1.NetworkPolicy{policy("bookstore", "empty", all, func(p *networkingv1.NetworkPolicy) {
			p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{}
			p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		})},
			from: "bookstore/catalog-0", to: "bookstore/storefront-x", port: 8080, allowed: false},
		{name: "from: [] admits every source", policies: []networkingv1.NetworkPolicy{policy("bookstore", "empty-from", all, ingress(from([]networkingv1.NetworkPolicyPeer{}, port(8080, tcp))))},
			from: "203.0.113.9", to: "bookstore/storefront-x", port: 8080, allowed: true, words: []string{"from anywhere, port 8080/TCP"}},
		{name: "a policy of another namespace does not select", policies: []networkingv1.NetworkPolicy{policy("default", "deny", all, ingress())},
			from: "default/frontend", to: "bookstore/storefront-x", port: 8080, allowed: true, words: []string{"no NetworkPolicy in bookstore selects it for ingress"}},

		// Selectors.
		{name: "matchLabels AND matchExpressions", policies: []networkingv1.NetworkPolicy{policy("bookstore", "api", map[string]string{"app": "postgres"},
			ingress(from(peers(podsWhere(sel(map[string]string{"tier": "api"}, expr("app", metav1.LabelSelectorOpNotIn, "storefront")))))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: true, words: []string{"pods app notin (storefront),tier=api in bookstore"}},
		{name: "matchExpressions Exists", policies: []networkingv1.NetworkPolicy{policy("bookstore", "tiered", map[string]string{"app": "postgres"},
			ingress(from(peers(podsWhere(sel(nil, expr("tier", metav1.LabelSelectorOpExists)))))))},
			from: "bookstore/batch", to: "bookstore/postgres-0", port: 5432, allowed: false, words: []string{"does not admit bookstore/batch"}},
		{name: "matchExpressions DoesNotExist", policies: []networkingv1.NetworkPolicy{policy("bookstore", "not-legacy", map[string]string{"app": "postgres"},
			ingress(from(peers(podsWhere(sel(nil, expr("legacy", metav1.LabelSelectorOpDoesNotExist)))))))},
			from: "bookstore/batch", to: "bookstore/postgres-0", port: 5432, allowed: false, words: []string{"pods !legacy in bookstore"}},
		{name: "policy selected by matchExpressions In", policies: []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bookstore", Name: "web-tier"},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: *sel(nil, expr("tier", metav1.LabelSelectorOpIn, "web", "edge"))},
		}}, from: "default/frontend", to: "bookstore/storefront-x", port: 8080, allowed: false, words: []string{"isolated by bookstore/web-tier"}},
		{name: "namespace by its implied name label, absent from the snapshot", policies: []networkingv1.NetworkPolicy{
			policy("bookstore", "dns-only", all, egress(to(peers(podsInNamespacesWhere(sel(map[string]string{"k8s-app": "kube-dns"}), sel(map[string]string{corev1.LabelMetadataName: "kube-system"}))), port(53, udp))))},
			from: "bookstore/storefront-x", to: "kube-system/coredns", port: 53, protocol: udp, allowed: true,
			words: []string{"to pods k8s-app=kube-dns in namespace kube-system, port 53/UDP"}},
		{name: "an invalid selector matches nothing", policies: []networkingv1.NetworkPolicy{policy("bookstore", "bad", map[string]string{"app": "postgres"},
			ingress(from(peers(podsWhere(sel(nil, expr("tier", "Bogus")))))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: false, words: []string{"invalid selector, matching nothing"}},
		{name: "an empty peer admits nothing", policies: []networkingv1.NetworkPolicy{policy("bookstore", "empty-peer", all, ingress(from(peers(networkingv1.NetworkPolicyPeer{}))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: false, words: []string{"nothing (an empty peer)"}},
		{name: "selectors admit only pods", policies: []networkingv1.NetworkPolicy{policy("bookstore", "everyone", all, ingress(from(peers(namespacesWhere(sel(nil))))))},
			from: "203.0.113.9", to: "bookstore/postgres-0", port: 5432, allowed: false,
			words: []string{"from all pods in all namespaces", "pod and namespace selectors admit only pods; an address needs an ipBlock"}},

		// ipBlock.
		{name: "ipBlock matches a pod's address", policies: []networkingv1.NetworkPolicy{policy("bookstore", "from-cidr", map[string]string{"app": "postgres"}, ingress(from(peers(cidr("10.244.4.0/24", "10.244.4.10/32")))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: true},
		{name: "ipBlock except excludes a pod's address", policies: []networkingv1.NetworkPolicy{policy("bookstore", "from-cidr", map[string]string{"app": "postgres"}, ingress(from(peers(cidr("10.244.4.0/24", "10.244.4.10/32")))))},
			from: "bookstore/storefront-x", to: "bookstore/postgres-0", port: 5432, allowed: false, words: []string{"addresses in 10.244.4.0/24 except 10.244.4.10/32"}},
		{name: "IPv6 ipBlock with except", policies: []networkingv1.NetworkPolicy{policy("bookstore", "v6", map[string]string{"app": "batch"}, egress(to(peers(cidr("2001:db8::/32", "2001:db8:bad::/48")))))},
			from: "bookstore/batch", to: "2001:db8:1::1", port: 443, allowed: true},
		{name: "IPv6 ipBlock except", policies: []networkingv1.NetworkPolicy{policy("bookstore", "v6", map[string]string{"app": "batch"}, egress(to(peers(cidr("2001:db8::/32", "2001:db8:bad::/48")))))},
			from: "bookstore/batch", to: "2001:db8:bad::1", port: 443, allowed: false},
		{name: "an IPv4 address is not in an IPv6 block", policies: []networkingv1.NetworkPolicy{policy("bookstore", "v6", map[string]string{"app": "batch"}, egress(to(peers(cidr("::/0")))))},
			from: "bookstore/batch", to: "192.0.2.1", port: 443, allowed: false},
		{name: "an IPv4-mapped IPv6 address is IPv4", policies: []networkingv1.NetworkPolicy{policy("bookstore", "v4", map[string]string{"app": "batch"}, egress(to(peers(cidr("192.0.2.0/24")))))},
			from: "bookstore/batch", to: "::ffff:192.0.2.1", port: 443, allowed: true},
		{name: "a malformed CIDR matches nothing", policies: []networkingv1.NetworkPolicy{policy("bookstore", "bad-cidr", map[string]string{"app": "batch"}, egress(to(peers(cidr("10.0.0.0/33")))))},
			from: "bookstore/batch", to: "10.0.0.1", port: 443, allowed: false},

		// Ports.
		{name: "named port on the destination, ingress", policies: []networkingv1.NetworkPolicy{policy("bookstore", "pg", map[string]string{"app": "postgres"}, ingress(from(nil, namedPort("pg"))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: true, words: []string{"named port pg/TCP"}},
		{name: "named port of the wrong protocol", policies: []networkingv1.NetworkPolicy{policy("bookstore", "pg", map[string]string{"app": "postgres"}, ingress(from(nil, namedPort("pg", udp))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, allowed: false},
		{name: "named port on the destination, egress", policies: []networkingv1.NetworkPolicy{policy("bookstore", "to-http", map[string]string{"app": "storefront"}, egress(to(nil, namedPort("http"))))},
			from: "bookstore/storefront-x", to: "bookstore/catalog-0", port: 8080, allowed: true},
		{name: "egress named port is the destination's, not the source's", policies: []networkingv1.NetworkPolicy{policy("bookstore", "to-http", map[string]string{"app": "storefront"}, egress(to(nil, namedPort("http"))))},
			from: "bookstore/storefront-x", to: "bookstore/postgres-0", port: 8080, allowed: false,
			words: []string{`bookstore/postgres-0 has no TCP container port named "http"`}},
		{name: "named port to an address never matches", policies: []networkingv1.NetworkPolicy{policy("bookstore", "to-http", map[string]string{"app": "storefront"}, egress(to(nil, namedPort("http"))))},
			from: "bookstore/storefront-x", to: "192.0.2.1", port: 8080, allowed: false,
			words: []string{`named port "http" is looked up on the destination pod, and 192.0.2.1 is not a pod`}},
		{name: "named port resolving to another number", policies: []networkingv1.NetworkPolicy{policy("bookstore", "pg", map[string]string{"app": "postgres"}, ingress(from(nil, namedPort("pg"))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5433, allowed: false, words: []string{`named port "pg" is 5432 on bookstore/postgres-0`}},
		{name: "endPort range ending on the port", policies: []networkingv1.NetworkPolicy{policy("default", "web-egress", map[string]string{"role": "db"}, egress(to(peers(cidr("10.0.0.0/24")), portRange(8000, 8080))))},
			from: "default/db", to: "10.0.0.5", port: 8080, allowed: true, words: []string{"ports 8000-8080/TCP"}},
		{name: "docs endPort example: start of the range", policies: []networkingv1.NetworkPolicy{policy("default", "multi-port-egress", map[string]string{"role": "db"}, egress(to(peers(cidr("10.0.0.0/24")), portRange(32000, 32768))))},
			from: "default/db", to: "10.0.0.5", port: 32000, allowed: true, words: []string{"ports 32000-32768/TCP"}},
		{name: "docs endPort example: end of the range", policies: []networkingv1.NetworkPolicy{policy("default", "multi-port-egress", map[string]string{"role": "db"}, egress(to(peers(cidr("10.0.0.0/24")), portRange(32000, 32768))))},
			from: "default/db", to: "10.0.0.5", port: 32768, allowed: true},
		{name: "docs endPort example: past the range", policies: []networkingv1.NetworkPolicy{policy("default", "multi-port-egress", map[string]string{"role": "db"}, egress(to(peers(cidr("10.0.0.0/24")), portRange(32000, 32768))))},
			from: "default/db", to: "10.0.0.5", port: 32769, allowed: false},
		{name: "docs endPort example: before the range", policies: []networkingv1.NetworkPolicy{policy("default", "multi-port-egress", map[string]string{"role": "db"}, egress(to(peers(cidr("10.0.0.0/24")), portRange(32000, 32768))))},
			from: "default/db", to: "10.0.0.5", port: 31999, allowed: false},
		{name: "endPort range of another protocol", policies: []networkingv1.NetworkPolicy{policy("default", "multi-port-egress", map[string]string{"role": "db"}, egress(to(peers(cidr("10.0.0.0/24")), portRange(32000, 32768))))},
			from: "default/db", to: "10.0.0.5", port: 32000, protocol: udp, allowed: false},
		{name: "protocol defaults to TCP in rules", policies: []networkingv1.NetworkPolicy{policy("bookstore", "p", map[string]string{"app": "postgres"}, ingress(from(nil, portNoProtocol(5432))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, protocol: udp, allowed: false, words: []string{"admits bookstore/catalog-0 but not port 5432/UDP"}},
		{name: "SCTP", policies: []networkingv1.NetworkPolicy{policy("bookstore", "p", map[string]string{"app": "postgres"}, ingress(from(nil, port(5432, sctp))))},
			from: "bookstore/catalog-0", to: "bookstore/postgres-0", port: 5432, protocol: sctp, allowed: true, words: []string{"port 5432/SCTP is allowed"}},

		// Addresses and caveats.
		{name: "a pod's address is judged as the pod", policies: []networkingv1.NetworkPolicy{defaultDeny},
			from: "10.244.4.11", to: "bookstore/postgres-0", port: 5432, allowed: false,
			words: []string{"10.244.4.11 is the address of pod bookstore/catalog-0", "egress from bookstore/catalog-0 is isolated"}},
		{name: "a pod reaching itself carries a caveat", policies: []networkingv1.NetworkPolicy{defaultDeny},
			from: "bookstore/postgres-0", to: "bookstore/postgres-0", port: 5432, allowed: false,
			words: []string{"connects to itself: NetworkPolicy leaves traffic from a pod to itself undefined"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := docsWorld(tc.policies...)
			d := c.Evaluate(Connection{From: c.peer(t, tc.from), To: c.peer(t, tc.to), Port: tc.port, Protocol: tc.protocol})
			if d.Allowed != tc.allowed {
				t.Errorf("Allowed = %t, want %t:\n%s", d.Allowed, tc.allowed, strings.Join(d.Reasons, "\n"))
			}
			if d.Allowed != (d.Egress.Allowed && d.Ingress.Allowed) {
				t.Errorf("Allowed = %t, but Egress.Allowed = %t and Ingress.Allowed = %t", d.Allowed, d.Egress.Allowed, d.Ingress.Allowed)
			}
			assertReasons(t, d, tc.words...)
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestEvaluateHostNetworkCaveat(t *testing.T) {
	c := docsWorld()
	c.Pods[0].Spec.HostNetwork = true
	d := c.Evaluate(Connection{From: PodPeer(&c.Pods[1]), To: PodPeer(&c.Pods[0]), Port: 6379})
	if !d.Allowed || len(d.Caveats) != 1 {
		t.Fatalf("Allowed = %t, Caveats = %q", d.Allowed, d.Caveats)
	}
	assertReasons(t, d, "default/db uses the host network")
	if d := c.Evaluate(Connection{From: PodPeer(&c.Pods[1]), To: PodPeer(&c.Pods[2]), Port: 80}); len(d.Caveats) != 0 {
		t.Errorf("Caveats = %q, want none", d.Caveats)
	}
}

func TestEvaluateNilCluster(t *testing.T) {
	var c *Cluster
	d := c.Evaluate(Connection{From: AddressPeer("192.0.2.1"), To: AddressPeer("192.0.2.2"), Port: 80})
	if !d.Allowed || d.Connection.Protocol != tcp {
		t.Errorf("Decision = %+v, want allowed over TCP", d)
	}
}

func TestHasNamespace(t *testing.T) {
	c := world()
	if !c.HasNamespace("x") || c.HasNamespace("w") {
		t.Errorf("HasNamespace(x), HasNamespace(w) = %v, %v; want true, false", c.HasNamespace("x"), c.HasNamespace("w"))
	}
	var none *Cluster
	if none.HasNamespace("x") {
		t.Error("a nil Cluster has namespace x")
	}
}
