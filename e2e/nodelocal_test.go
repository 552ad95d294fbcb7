//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/internal/explain"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/probes/dialer"
)

// TestNodeLocalTraffic: behind a deny-all, a pod is reachable from its own node and not
// from another, on an enforcing dataplane, and the policy model says the same. This
// machine's host network is a node of the cluster (node 1); a second node's pod is the
// contrast.
func TestNodeLocalTraffic(t *testing.T) {
	if cfg.profile != enforcing || len(cfg.nodes) < 2 {
		t.Skipf("needs an enforcing cluster of two nodes or more (profile %s, %d nodes)", cfg.profile, len(cfg.nodes))
	}
	host, other := hostNode(t)
	ns := namespace("node-local")
	s := newScenario(t, ns)
	s.create(&networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deny-all"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	})
	pods := map[string]*corev1.Pod{}
	for name, node := range map[string]string{"on-host": host.Name, "elsewhere": other} {
		pod := fixturePod(ns, workload{name: name, labels: labels("app", name), ports: []port{{name: "http", number: 8080}}})
		pod.Spec.NodeName = node
		s.create(pod)
		pods[name] = pod
	}
	s.waitUntil("the node-local pods to be ready", func(ctx context.Context) (bool, string, error) {
		for name, pod := range pods {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				return false, "", err
			}
			if !podReady(pod) {
				return false, name + ": " + podState(pod), nil
			}
		}
		return true, "", nil
	})

	for name, wantConnected := range map[string]bool{"on-host": true, "elsewhere": false} {
		pod := pods[name]
		target := net.JoinHostPort(pod.Status.PodIP, "8080")
		observed := dialFromHost(t, target)
		if (observed == "Connected") != wantConnected {
			t.Errorf("from this node (%s) to %s on %s behind a deny-all: %s, want connected %v", host.Name, name, pod.Spec.NodeName, observed, wantConnected)
		}
		q := explain.Query{FromNode: host.Name, Kind: explain.Pod, Namespace: ns, Name: name, Port: 8080, Protocol: corev1.ProtocolTCP}
		answer, err := explain.Connection(t.Context(), k8s, policyKinds, q)
		if err != nil {
			t.Fatal(err)
		}
		if answer.Allowed != wantConnected {
			t.Errorf("the model says allowed=%v from node %s to %s, the dataplane %s: %v", answer.Allowed, host.Name, name, observed, answer.Lines())
		}
		t.Logf("from node %s to %s (on %s): dataplane %s; model: %v", host.Name, name, pod.Spec.NodeName, observed, answer.Lines())
	}
	report("node-local=from %s to its own pod connected, to %s's denied, as the model says", host.Name, other)
}

// hostNode is the node whose InternalIP is an address of this machine's host network,
// and another schedulable node.
func hostNode(t *testing.T) (corev1.Node, string) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	local := map[netip.Addr]bool{}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			local[p.Addr()] = true
		}
	}
	var nodes corev1.NodeList
	if err := k8s.List(t.Context(), &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if ip, err := netip.ParseAddr(netpol.NodeAddress(&n)); err == nil && local[ip] {
			for _, other := range cfg.nodes {
				if other != n.Name {
					return n, other
				}
			}
		}
	}
	t.Fatalf("no node's InternalIP is an address of this machine: the test needs to run on node 1's host network")
	return corev1.Node{}, ""
}

// dialFromHost connects from this machine's host network, as the node itself would, and
// says what it saw.
func dialFromHost(t *testing.T, target string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		o, _ := dialer.Classify(err)
		return fmt.Sprintf("%s (%v)", o, err)
	}
	_ = conn.Close()
	return "Connected"
}
