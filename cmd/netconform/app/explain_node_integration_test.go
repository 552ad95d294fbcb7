package app

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// explain --from node/NAME against the API server: a pod behind a deny-all is reachable
// from its own node, not from another.
func TestExplainFromANode(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	create := func(obj client.Object) {
		t.Helper()
		if err := envClient.Create(ctx, obj); err != nil {
			t.Fatalf("creating %s: %v", obj.GetName(), err)
		}
		t.Cleanup(func() { _ = envClient.Delete(context.Background(), obj) })
	}
	for name, ip := range map[string]string{"explain-node-1": "192.168.50.1", "explain-node-2": "192.168.50.2"} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		create(node)
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
		if err := envClient.Status().Update(ctx, node); err != nil {
			t.Fatal(err)
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "node-local"}})
	create(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "node-local", Name: "deny-all"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "node-local", Name: "web-0", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "explain-node-1", Containers: []corev1.Container{{Name: "web", Image: "web", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	create(pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.50.10", PodIPs: []corev1.PodIP{{IP: "10.244.50.10"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := envClient.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI("explain", "--from", "node/explain-node-1", "--to", "pod/node-local/web-0:8080", "--kubeconfig", envKubeconf)
	t.Logf("explain --from node/explain-node-1:\n%s", out)
	if code != ExitOK || !strings.Contains(out, "ALLOWED") || !strings.Contains(out, "traffic from the pod's own node is always allowed in (NetworkPolicy does not apply to it)") {
		t.Errorf("explain from the pod's own node: exit %d, want 0 and the reason\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI("explain", "--from", "node/explain-node-2", "--to", "pod/node-local/web-0:8080", "--kubeconfig", envKubeconf)
	if code != ExitFail || !strings.Contains(out, "DENIED") || !strings.Contains(out, "node-local/deny-all") {
		t.Errorf("explain from another node: exit %d, want 1, denied by node-local/deny-all\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI("explain", "--from", "node/no-such-node", "--to", "pod/node-local/web-0:8080", "--kubeconfig", envKubeconf)
	if code != ExitUsage || !strings.Contains(errOut, "node no-such-node not found") {
		t.Errorf("explain from a missing node: exit %d, want 2 naming the node\nstderr:\n%s", code, errOut)
	}
}
