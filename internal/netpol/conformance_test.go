package netpol

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// edge overrides the expected reachability of every pair that matches: "*" is every
// pod, "x/*" every pod of x, "x/a" one pod (upstream Reachability.ExpectPeer).
type edge struct {
	from, to string
	allowed  bool
}

func deny(from, to string) edge  { return edge{from, to, false} }
func allow(from, to string) edge { return edge{from, to, true} }

func matches(pattern, pod string) bool {
	ns, _, _ := strings.Cut(pod, "/")
	return pattern == "*" || pattern == pod || pattern == ns+"/*"
}

func expected(edges []edge, from, to string) bool {
	want := true
	for _, e := range edges {
		if matches(e.from, from) && matches(e.to, to) {
			want = e.allowed
		}
	}
	return want
}

// TestConformance replays the upstream NetworkPolicy conformance cases
// (k8s.io/kubernetes test/e2e/network/netpol/network_policy.go, v1.37) on the full 9-pod
// world: every ordered pair of distinct pods, pod to pod and, as upstream probes, through
// the destination pod's Service. Loopback is ignored, as upstream ignores it. Where an
// upstream case uses fewer pods, its expectations are extended to all nine.
func TestConformance(t *testing.T) {
	nsIs := func(name string) *metav1.LabelSelector { return sel(map[string]string{corev1.LabelMetadataName: name}) }
	notInX := sel(nil, expr(corev1.LabelMetadataName, metav1.LabelSelectorOpNotIn, "x"))
	all := map[string]string{}
	podA := map[string]string{"pod": "a"}
	denyIngressX := policy("x", "deny-ingress", all, ingress())
	allowYOn81 := policy("x", "allow-client-a-via-ns-selector", podA, ingress(from(peers(namespacesWhere(nsIs("y"))), port(81, tcp))))
	onlyYToXA := []edge{deny("x/*", "x/a"), deny("z/*", "x/a")}

	cases := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		edit     func(*Cluster)
		port     int32
		protocol corev1.Protocol
		edges    []edge
	}{
		{name: "default-deny-ingress", policies: []networkingv1.NetworkPolicy{denyIngressX},
			port: 80, protocol: tcp, edges: []edge{deny("*", "x/*")}},
		{name: "default-deny-ingress UDP", policies: []networkingv1.NetworkPolicy{denyIngressX},
			port: 80, protocol: udp, edges: []edge{deny("*", "x/*")}},
		{name: "default-deny-ingress SCTP", policies: []networkingv1.NetworkPolicy{denyIngressX},
			port: 80, protocol: sctp, edges: []edge{deny("*", "x/*")}},
		{name: "default-deny-all", policies: []networkingv1.NetworkPolicy{policy("x", "deny-all", all, ingress(), egress())},
			port: 80, protocol: tcp, edges: []edge{deny("*", "x/*"), deny("x/*", "*")}},
		{name: "allow from pods within server namespace by podSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "x-a-allows-x-b", podA, ingress(from(peers(podsWhere(sel(map[string]string{"pod": "b"}))))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("x/b", "x/a")}},
		{name: "allow ingress for a target over a namespace default deny",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-all", all, ingress()),
				policy("x", "allow-all-to-a", podA, ingress(from(peers(podsInNamespacesWhere(sel(nil), sel(nil)))))),
			},
			port: 80, protocol: tcp, edges: []edge{deny("*", "x/*"), allow("*", "x/a")}},
		{name: "allow from pods in all namespaces (empty namespaceSelector)",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-from-another-ns", podA, ingress(from(peers(namespacesWhere(sel(map[string]string{}))))))},
			port:     80, protocol: tcp},
		{name: "allow only from a different namespace by namespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", podA, ingress(from(peers(namespacesWhere(nsIs("y"))))))},
			port:     80, protocol: tcp, edges: onlyYToXA},
		{name: "podSelector with matchExpressions",
			policies: []networkingv1.NetworkPolicy{policy("x", "x-a-allows-x-b", podA, ingress(from(peers(podsWhere(sel(nil, expr("pod", metav1.LabelSelectorOpIn, "b")))))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("x/b", "x/a")}},
		{name: "namespaceSelector with matchExpressions",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-match-selector", podA, ingress(from(peers(namespacesWhere(sel(nil, expr(corev1.LabelMetadataName, metav1.LabelSelectorOpIn, "y")))))))},
			port:     80, protocol: tcp, edges: onlyYToXA},
		{name: "podSelector OR namespaceSelector (two peers)",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-match-selector", podA, ingress(from(peers(namespacesWhere(notInX), podsWhere(sel(map[string]string{"pod": "b"}))))))},
			port:     80, protocol: tcp, edges: []edge{deny("x/c", "x/a")}},
		{name: "podSelector AND namespaceSelector (one peer)",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-podselector-and-nsselector", podA, ingress(from(peers(podsInNamespacesWhere(sel(map[string]string{"pod": "b"}), notInX)))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("y/b", "x/a"), allow("z/b", "x/a")}},
		{name: "multiple podSelectors and namespaceSelectors",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-z-pod-b-c", podA, ingress(from(peers(podsInNamespacesWhere(sel(nil, expr("pod", metav1.LabelSelectorOpIn, "b", "c")), notInX)))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("y/b", "x/a"), allow("y/c", "x/a"), allow("z/b", "x/a"), allow("z/c", "x/a")}},
		{name: "any podSelectors",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-x-pod-b-c", podA, ingress(from(peers(podsWhere(sel(map[string]string{"pod": "b"})), podsWhere(sel(map[string]string{"pod": "c"}))))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("x/b", "x/a"), allow("x/c", "x/a")}},
		{name: "only a pod in a different namespace by podSelector and namespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", podA, ingress(from(peers(podsInNamespacesWhere(sel(podA), nsIs("y"))))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("y/a", "x/a")}},
		{name: "only a pod in a different namespace UDP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", podA, ingress(from(peers(podsInNamespacesWhere(sel(podA), nsIs("y"))))))},
			port:     80, protocol: udp, edges: []edge{deny("*", "x/a"), allow("y/a", "x/a")}},
		{name: "ports: the allowed port", policies: []networkingv1.NetworkPolicy{allowYOn81},
			port: 81, protocol: tcp, edges: onlyYToXA},
		{name: "ports: another port", policies: []networkingv1.NetworkPolicy{allowYOn81},
			port: 80, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "ports UDP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-on-port-81-ns-x", podA, ingress(from(peers(namespacesWhere(nsIs("y"))), port(81, udp))))},
			port:     81, protocol: udp, edges: onlyYToXA},
		{name: "ports SCTP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-on-port-81-ns-x", podA, ingress(from(peers(namespacesWhere(nsIs("y"))), port(81, sctp))))},
			port:     81, protocol: sctp, edges: onlyYToXA},
		{name: "stacked policies with overlapping podSelectors",
			policies: []networkingv1.NetworkPolicy{allowYOn81,
				policy("x", "allow-client-a-via-ns-selector-80", podA, ingress(from(peers(namespacesWhere(nsIs("y"))), port(80, tcp)))),
			},
			port: 80, protocol: tcp, edges: onlyYToXA},
		{name: "allow-all", policies: []networkingv1.NetworkPolicy{policy("x", "allow-all", all, ingress(from(nil)))},
			port: 81, protocol: tcp},
		{name: "ingress on one named port: that port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all", all, ingress(from(nil, namedPort("serve-81-tcp"))))},
			port:     81, protocol: tcp},
		{name: "ingress on one named port: another port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all", all, ingress(from(nil, namedPort("serve-81-tcp"))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/*")}},
		{name: "ingress from namespace on one named port: that port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector-80", podA, ingress(from(peers(namespacesWhere(nsIs("y"))), namedPort("serve-80-tcp", tcp))))},
			port:     80, protocol: tcp, edges: onlyYToXA},
		{name: "ingress from namespace on one named port: another port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector-80", podA, ingress(from(peers(namespacesWhere(nsIs("y"))), namedPort("serve-80-tcp", tcp))))},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "egress on one named port: that port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress", all, egress(to(nil, namedPort("serve-80-tcp"))))},
			port:     80, protocol: tcp},
		{name: "egress on one named port: another port",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress", all, egress(to(nil, namedPort("serve-80-tcp"))))},
			port:     81, protocol: tcp, edges: []edge{deny("x/*", "*")}},
		{name: "not all ports when the named port does not exist",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-on-nonexistent-port", podA, ingress(from(nil, namedPort("no-such-port", tcp))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "updated policy: allow all, then deny all",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-all-mutate-to-deny-all", all, ingress())},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/*")}},
		{name: "ingress from updated namespace: before",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", podA, ingress(from(peers(namespacesWhere(sel(map[string]string{"ns2": "updated"}))))))},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "ingress from updated namespace: after",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-ns-selector", podA, ingress(from(peers(namespacesWhere(sel(map[string]string{"ns2": "updated"}))))))},
			edit:     func(c *Cluster) { c.Namespaces[1].Labels["ns2"] = "updated" },
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("y/*", "*")}},
		{name: "ingress from updated pod: after",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-pod-selector", podA, ingress(from(peers(podsWhere(sel(map[string]string{"pod": "b", "pod2": "updated"}))))))},
			edit:     func(c *Cluster) { c.mustPod(t, "x/b").Labels["pod2"] = "updated" },
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("x/b", "x/a")}},
		{name: "deny ingress from pods of other namespaces",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-empty-policy", all, ingress(from(peers(podsWhere(sel(map[string]string{}))))))},
			port:     80, protocol: tcp, edges: []edge{deny("y/*", "x/*"), deny("z/*", "x/*")}},
		{name: "deny ingress to updated pod",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-ingress-via-label-selector", map[string]string{"target": "isolated"}, ingress())},
			edit:     func(c *Cluster) { c.mustPod(t, "x/a").Labels["target"] = "isolated" },
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "deny egress by podSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-egress-pod-a", podA, egress())},
			port:     80, protocol: tcp, edges: []edge{deny("x/a", "*")}},
		{name: "deny egress from all pods of a namespace",
			policies: []networkingv1.NetworkPolicy{policy("x", "deny-egress-ns-x", all, egress())},
			port:     80, protocol: tcp, edges: []edge{deny("x/*", "*")}},
		{name: "ingress and egress together: port 80",
			policies: []networkingv1.NetworkPolicy{ingressAndEgressTogether()},
			port:     80, protocol: tcp, edges: []edge{deny("*", "x/a"), allow("x/b", "x/a")}},
		{name: "ingress and egress together: port 81",
			policies: []networkingv1.NetworkPolicy{ingressAndEgressTogether()},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/a"), deny("x/a", "*"), allow("x/b", "x/a")}},
		{name: "egress denied on the client side although the server allows it",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-to-ns-y-pod-a", podA, egress(to(peers(podsInNamespacesWhere(sel(podA), nsIs("y")))))),
				policy("y", "allow-from-xa-on-ya-match-selector", podA, ingress(from(peers(podsInNamespacesWhere(sel(podA), nsIs("x")))))),
				policy("y", "allow-from-xa-on-yb-match-selector", map[string]string{"pod": "b"}, ingress(from(peers(podsInNamespacesWhere(sel(podA), nsIs("x")))))),
			},
			port: 80, protocol: tcp, edges: []edge{deny("x/a", "*"), deny("*", "y/a"), allow("x/a", "y/a"), deny("*", "y/b")}},
		{name: "egress to a server in another namespace by podSelector and namespaceSelector",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-to-ns-y-pod-a", podA, egress(to(peers(podsInNamespacesWhere(sel(podA), nsIs("y"))))))},
			port:     80, protocol: tcp, edges: []edge{deny("x/a", "*"), allow("x/a", "y/a")}},
		{name: "any port of one protocol: TCP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-by-proto", podA, ingress(from(nil, anyPortOf(tcp))))},
			port:     80, protocol: tcp},
		{name: "any port of one protocol: UDP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-by-proto", podA, ingress(from(nil, anyPortOf(tcp))))},
			port:     80, protocol: udp, edges: []edge{deny("*", "x/a")}},
		{name: "ingress allow-all takes precedence: before",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-port-80", all, ingress(from(nil, portNoProtocol(80))))},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/*")}},
		{name: "ingress allow-all takes precedence: after",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ingress-port-80", all, ingress(from(nil, portNoProtocol(80)))),
				policy("x", "allow-ingress", all, ingress(from(nil)))},
			port: 81, protocol: tcp},
		{name: "egress allow-all takes precedence: before",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress-port-80", all, egress(to(nil, portNoProtocol(80))))},
			port:     81, protocol: tcp, edges: []edge{deny("x/*", "*")}},
		{name: "egress allow-all takes precedence: after",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-egress-port-80", all, egress(to(nil, portNoProtocol(80)))),
				policy("x", "allow-egress", all, egress(to(nil)))},
			port: 81, protocol: tcp},
		{name: "no policies (deleted)", port: 80, protocol: tcp},
		{name: "egress to a server in a CIDR block",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-cidr-egress-rule", podA, egress(to(peers(cidr("10.244.2.2/32")))))},
			port:     80, protocol: tcp, edges: []edge{deny("x/a", "*"), allow("x/a", "y/b")}},
		{name: "egress to a server in an IPv6 CIDR block",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-cidr-egress-rule", podA, egress(to(peers(cidr("fd00::2:2/128")))))},
			edit:     func(c *Cluster) { useIPv6(c) },
			port:     80, protocol: tcp, edges: []edge{deny("x/a", "*"), allow("x/a", "y/b")}},
		{name: "except clause of an egress CIDR block",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-client-a-via-cidr-egress-rule", podA, egress(to(peers(cidr("0.0.0.0/4", "10.244.1.2/32")))))},
			port:     80, protocol: tcp, edges: []edge{deny("x/a", "x/b")}},
		{name: "an IP in both CIDR and except of one policy and in another policy's CIDR is allowed",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-client-a-via-cidr-egress-rule", podA, egress(to(peers(cidr("0.0.0.0/4", "10.244.1.2/32"))))),
				policy("x", "allow-client-a-to-b", podA, egress(to(peers(cidr("10.244.1.2/32"))))),
			},
			port: 80, protocol: tcp},
		{name: "ingress and egress controlled independently",
			policies: []networkingv1.NetworkPolicy{
				policy("x", "allow-egress-for-target", podA, egress(to(nil))),
				policy("x", "deny-ingress-via-label-selector", podA, ingress()),
			},
			port: 80, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "protocol SCTP is not TCP",
			policies: []networkingv1.NetworkPolicy{denyIngressX, policy("x", "allow-only-sctp-ingress-on-port-81", podA, ingress(from(nil, port(81, sctp))))},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/*")}},
		{name: "a policy allowing only SCTP still isolates",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-only-sctp-ingress-on-port-80", podA, ingress(from(nil, port(80, sctp))))},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "a policy allowing only UDP denies TCP",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-only-udp-ingress-on-port-81", podA, ingress(from(nil, port(81, udp))))},
			port:     81, protocol: tcp, edges: []edge{deny("*", "x/a")}},
		{name: "namespaceSelector on the default name label, egress NotIn",
			policies: []networkingv1.NetworkPolicy{policy("x", "allow-ns-y-match-selector-for-immutable-ns-label", podA, egress(to(peers(namespacesWhere(sel(nil, expr(corev1.LabelMetadataName, metav1.LabelSelectorOpNotIn, "y")))))))},
			port:     80, protocol: tcp, edges: []edge{deny("x/a", "y/*")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := world(tc.policies...)
			if tc.edit != nil {
				tc.edit(c)
			}
			var wrong []string
			for i := range c.Pods {
				for j := range c.Pods {
					src, dst := &c.Pods[i], &c.Pods[j]
					if i == j {
						continue
					}
					want := expected(tc.edges, podKey(src), podKey(dst))
					d := c.Evaluate(Connection{From: PodPeer(src), To: PodPeer(dst), Port: tc.port, Protocol: tc.protocol})
					if d.Allowed != want {
						wrong = append(wrong, fmt.Sprintf("%s: got allowed=%t, want %t; %s", d.Connection, d.Allowed, want, strings.Join(d.Reasons, "; ")))
					}
					ds, err := c.EvaluateService(PodPeer(src), dst.Namespace, "s-"+dst.Namespace+"-"+dst.Name, tc.port, tc.protocol)
					if err != nil || len(ds) != 1 || ds[0].Allowed != want {
						wrong = append(wrong, fmt.Sprintf("%s through its Service: got %d decisions (%v), want one with allowed=%t", d.Connection, len(ds), err, want))
					}
				}
			}
			if len(wrong) > 0 {
				t.Errorf("%d of %d pairs disagree:\n%s", len(wrong), 2*72, strings.Join(wrong, "\n"))
			}
		})
	}
}

func ingressAndEgressTogether() networkingv1.NetworkPolicy {
	p := policy("x", "allow-client-a-via-pod-selector", map[string]string{"pod": "a"},
		ingress(from(peers(podsWhere(sel(map[string]string{"pod": "b"}))))))
	p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{to(nil, portNoProtocol(80))}
	p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress, networkingv1.PolicyTypeIngress}
	return p
}

// useIPv6 makes every pod of the world single-stack IPv6.
func useIPv6(c *Cluster) {
	for i := range c.Pods {
		c.Pods[i].Status.PodIP = c.Pods[i].Status.PodIPs[1].IP
		c.Pods[i].Status.PodIPs = c.Pods[i].Status.PodIPs[1:]
	}
}
