package app

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestExplainBadInput covers the answers that need no cluster: every flag named with the
// form it expects, exit 2 and nothing on stdout.
func TestExplainBadInput(t *testing.T) {
	const svc = "--to=svc/shop/db:5432"
	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{"no flags", nil, []string{"--from is required", "NAMESPACE/key=value"}},
		{"no --to", []string{"--from", "shop"}, []string{"--to is required", "svc/NAMESPACE/NAME:PORT"}},
		{"bad namespace", []string{"--from", "Shop_1/app=web", svc}, []string{`--from "Shop_1/app=web"`, "not a namespace name"}},
		{"label without =", []string{"--from", "shop/app", svc}, []string{`"app" is not key=value`}},
		{"bad label value", []string{"--from", "shop/app=a b", svc}, []string{`label "app=a b"`}},
		{"repeated label", []string{"--from", "shop/app=a,app=b", svc}, []string{`"app" is given twice`}},
		{"unknown kind", []string{"--from", "shop", "--to", "deploy/shop/db:5432"}, []string{`unknown kind "deploy"`, "ip/ADDRESS:PORT"}},
		{"service without name", []string{"--from", "shop", "--to", "svc/shop"}, []string{"no NAMESPACE/NAME"}},
		{"no port", []string{"--from", "shop", "--to", "svc/shop/db"}, []string{"no :PORT"}},
		{"port zero", []string{"--from", "shop", "--to", "pod/shop/db-0:0"}, []string{`port "0" is not a number from 1 to 65535`}},
		{"port too big", []string{"--from", "shop", "--to", "pod/shop/db-0:70000"}, []string{`port "70000"`}},
		{"named port", []string{"--from", "shop", "--to", "pod/shop/db-0:pg"}, []string{`port "pg"`}},
		{"bad address", []string{"--from", "shop", "--to", "ip/example.com:443"}, []string{`"example.com" is not an IP address`}},
		{"IPv6 without brackets", []string{"--from", "shop", "--to", "ip/fd00::1"}, []string{"in brackets"}},
		{"bad protocol", []string{"--from", "shop", svc, "--protocol", "ICMP"}, []string{`--protocol "ICMP": use TCP or UDP`}},
		{"stray argument", []string{"--from", "shop", svc, "extra"}, []string{`unexpected argument "extra"`}},
		{"unknown flag", []string{"--bogus"}, []string{"bogus", "Usage: netconform explain"}},
		{"no cluster", []string{"--from", "shop/app=web", svc, "--kubeconfig", "/nonexistent/kubeconfig"}, []string{"no cluster", "--kubeconfig"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"explain"}, tt.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

func TestExplainParse(t *testing.T) {
	q, err := parseExplain("shop/app=web,tier=front", "ip/[fd00::1]:8443", "udp")
	if err != nil {
		t.Fatal(err)
	}
	if q.from.Namespace != "shop" || len(q.from.PodLabels) != 2 || q.from.PodLabels["tier"] != "front" ||
		q.kind != "ip" || q.ip != "fd00::1" || q.port != 8443 || q.protocol != corev1.ProtocolUDP {
		t.Errorf("parsed %+v", q)
	}
	q, err = parseExplain("shop", "svc/shop/db:5432", "TCP")
	if err != nil || q.from.PodLabels != nil || q.kind != "svc" || q.ns != "shop" || q.name != "db" || q.port != 5432 {
		t.Errorf("parsed %+v, %v", q, err)
	}
}

// shopCluster: web and db in shop behind Services, ingress denied by default, app=web
// admitted to app=db on 5432.
func shopCluster() client.Reader {
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	pod := func(name, ip, app string, port int32) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: port}}}}},
			Status:     corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning, Conditions: ready},
		}
	}
	svc := func(name string, port int32) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}}},
		}
	}
	port := intstr.FromInt32(5432)
	return fake.NewClientBuilder().WithScheme(newScheme()).WithObjects(
		shopNamespace(),
		pod("web-0", "10.0.0.1", "web", 8080), pod("db-0", "10.0.0.2", "db", 5432),
		svc("web", 8080), svc("db", 5432),
		&networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "default-deny"},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		},
		&networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "allow-web-to-db"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
				}},
			},
		},
	).Build()
}

func shopNamespace() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"kubernetes.io/metadata.name": "shop"}}}
}

// TestExplainVerdicts judges connections against a fake cluster's policies.
func TestExplainVerdicts(t *testing.T) {
	r := shopCluster()
	tests := []struct {
		from, to string
		allowed  bool
		want     []string
		wantErr  string
	}{
		{from: "shop/app=web", to: "svc/shop/db:5432", allowed: true,
			want: []string{"ALLOWED", "Service shop/db port 5432/TCP sends to shop/db-0 port 5432", "allowed by shop/allow-web-to-db ingress rule 1"}},
		{from: "shop/app=web", to: "pod/shop/db-0:5432", allowed: true, want: []string{"ALLOWED"}},
		{from: "shop/app=web", to: "ip/10.0.0.2:5432", allowed: true, want: []string{"ALLOWED", "10.0.0.2 is"}},
		{from: "shop", to: "svc/shop/db:5432", want: []string{"DENIED", "shop/[no labels] to shop/db-0 port 5432/TCP is denied"}},
		{from: "shop/app=web", to: "pod/shop/db-0:6379", want: []string{"DENIED"}},
		{from: "shop/app=db", to: "pod/shop/web-0:8080", want: []string{"DENIED", "shop/default-deny"}},
		{from: "shop/app=web", to: "ip/192.0.2.1:443", allowed: true, want: []string{"ALLOWED", "192.0.2.1 is not a pod"}},
		{from: "shop", to: "svc/shop/nope:80", wantErr: "--to: shop/nope: service not found"},
		{from: "shop", to: "svc/shop/db:80", wantErr: "service has no such port"},
		{from: "shop", to: "pod/shop/nope:80", wantErr: "--to: pod shop/nope not found"},
		{from: "elsewhere", to: "pod/shop/db-0:5432", wantErr: "--from: namespace elsewhere does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.from+" to "+tt.to, func(t *testing.T) {
			q, err := parseExplain(tt.from, tt.to, "TCP")
			if err != nil {
				t.Fatal(err)
			}
			allowed, lines, err := explain(context.Background(), r, q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Join(lines, "\n")
			if allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v:\n%s", allowed, tt.allowed, out)
			}
			if len(lines) < 2 {
				t.Errorf("no reasons:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
