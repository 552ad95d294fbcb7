package netpol

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodesWorld is the conformance world with x/a on node-1 and x/b on node-2, each node
// with an InternalIP and, for node-1, an ExternalIP too.
func nodesWorld(policies ...networkingv1.NetworkPolicy) *Cluster {
	c := world(policies...)
	for _, n := range []struct{ name, ip string }{{"node-1", "192.168.0.1"}, {"node-2", "192.168.0.2"}} {
		node := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: n.name}, {Type: corev1.NodeInternalIP, Address: n.ip}}
		c.Nodes = append(c.Nodes, node)
	}
	c.Nodes[0].Status.Addresses = append(c.Nodes[0].Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.1"})
	for i := range c.Pods {
		switch podKey(&c.Pods[i]) {
		case "x/a":
			c.Pods[i].Spec.NodeName = "node-1"
		case "x/b":
			c.Pods[i].Spec.NodeName = "node-2"
		}
	}
	return c
}

func TestTrafficFromThePodsOwnNodeIsAlwaysAllowedIn(t *testing.T) {
	denyAll := policy("x", "deny-all", nil, ingress())
	onlyNode2 := policy("x", "allow-node-2", map[string]string{"pod": "a"}, ingress(from(peers(cidr("192.168.0.2/32")))))
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		from     string
		to       string
		allowed  bool
		ownNode  string
		reasons  []string
	}{
		{"own node behind a deny-all", []networkingv1.NetworkPolicy{denyAll}, "192.168.0.1", "x/a", true, "node-1",
			[]string{"allowed: traffic from the pod's own node is always allowed in (NetworkPolicy does not apply to it)", "node node-1"}},
		{"own node by another of its addresses", []networkingv1.NetworkPolicy{denyAll}, "203.0.113.1", "x/a", true, "node-1", nil},
		{"another node is an ordinary address", []networkingv1.NetworkPolicy{denyAll}, "192.168.0.2", "x/a", false, "",
			[]string{"is denied", "x/deny-all"}},
		{"another node allowed by an ipBlock", []networkingv1.NetworkPolicy{onlyNode2}, "192.168.0.2", "x/a", true, "",
			[]string{"x/allow-node-2 ingress rule 1"}},
		{"own node of the other pod", []networkingv1.NetworkPolicy{denyAll}, "192.168.0.2", "x/b", true, "node-2", nil},
		{"a pod's own node, to a pod of no known node", []networkingv1.NetworkPolicy{denyAll}, "192.168.0.1", "x/c", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := nodesWorld(tt.policies...)
			d := c.Evaluate(Connection{From: AddressPeer(tt.from), To: PodPeer(c.mustPod(t, tt.to)), Port: 80})
			if d.Allowed != tt.allowed || d.Undecided || d.Ingress.OwnNode != tt.ownNode {
				t.Fatalf("allowed %v (undecided %v, own node %q), want %v (own node %q):\n%v", d.Allowed, d.Undecided, d.Ingress.OwnNode, tt.allowed, tt.ownNode, d.Reasons)
			}
			assertReasons(t, d, tt.reasons...)
		})
	}
}

func TestNodeAddressIsTheInternalIP(t *testing.T) {
	c := nodesWorld()
	if got := NodeAddress(&c.Nodes[0]); got != "192.168.0.1" {
		t.Errorf("NodeAddress = %q, want the InternalIP 192.168.0.1", got)
	}
	if got := NodeAddress(&corev1.Node{}); got != "" {
		t.Errorf("NodeAddress of a node without addresses = %q", got)
	}
}
