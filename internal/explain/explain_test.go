package explain

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

	"github.com/netconform/netconform/api/v1alpha1"
)

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
	return fake.NewClientBuilder().WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"kubernetes.io/metadata.name": "shop"}}},
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

// TestConnection judges connections against a fake cluster's policies.
func TestConnection(t *testing.T) {
	r := shopCluster()
	shop := v1alpha1.Source{Namespace: "shop"}
	web := v1alpha1.Source{Namespace: "shop", PodLabels: map[string]string{"app": "web"}}
	db := v1alpha1.Source{Namespace: "shop", PodLabels: map[string]string{"app": "db"}}
	tests := []struct {
		name    string // the connection as `netconform explain --from --to` gives it
		q       Query
		allowed bool
		want    []string
		wantErr string
	}{
		{name: "shop/app=web to svc/shop/db:5432", q: Query{From: web, Kind: Service, Namespace: "shop", Name: "db", Port: 5432}, allowed: true,
			want: []string{"ALLOWED", "Service shop/db port 5432/TCP sends to shop/db-0 port 5432", "allowed by shop/allow-web-to-db ingress rule 1"}},
		{name: "shop/app=web to pod/shop/db-0:5432", q: Query{From: web, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 5432}, allowed: true, want: []string{"ALLOWED"}},
		{name: "shop/app=web to ip/10.0.0.2:5432", q: Query{From: web, Kind: Address, IP: "10.0.0.2", Port: 5432}, allowed: true, want: []string{"ALLOWED", "10.0.0.2 is"}},
		{name: "shop to svc/shop/db:5432", q: Query{From: shop, Kind: Service, Namespace: "shop", Name: "db", Port: 5432}, want: []string{"DENIED", "shop/[no labels] to shop/db-0 port 5432/TCP is denied"}},
		{name: "shop/app=web to pod/shop/db-0:6379", q: Query{From: web, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 6379}, want: []string{"DENIED"}},
		{name: "shop/app=db to pod/shop/web-0:8080", q: Query{From: db, Kind: Pod, Namespace: "shop", Name: "web-0", Port: 8080}, want: []string{"DENIED", "shop/default-deny"}},
		{name: "shop/app=web to ip/192.0.2.1:443", q: Query{From: web, Kind: Address, IP: "192.0.2.1", Port: 443}, allowed: true, want: []string{"ALLOWED", "192.0.2.1 is not a pod"}},
		{name: "shop to svc/shop/nope:80", q: Query{From: shop, Kind: Service, Namespace: "shop", Name: "nope", Port: 80}, wantErr: "--to: shop/nope: service not found"},
		{name: "shop to svc/shop/db:80", q: Query{From: shop, Kind: Service, Namespace: "shop", Name: "db", Port: 80}, wantErr: "service has no such port"},
		{name: "shop to pod/shop/nope:80", q: Query{From: shop, Kind: Pod, Namespace: "shop", Name: "nope", Port: 80}, wantErr: "--to: pod shop/nope not found"},
		{name: "elsewhere to pod/shop/db-0:5432", q: Query{From: v1alpha1.Source{Namespace: "elsewhere"}, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 5432}, wantErr: "--from: namespace elsewhere does not exist"},
		{name: "shop to no kind of destination", q: Query{From: shop, Namespace: "shop", Name: "db", Port: 5432}, wantErr: `unknown kind of destination ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Protocol = corev1.ProtocolTCP
			a, err := Connection(context.Background(), r, q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := a.Lines()
			out := strings.Join(lines, "\n")
			if a.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v:\n%s", a.Allowed, tt.allowed, out)
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

// TestAnswerLines: the verdict, the reasons, then the caveats.
func TestAnswerLines(t *testing.T) {
	a := Answer{Allowed: true, Reasons: []string{"r1", "r2"}, Caveats: []string{"c1"}}
	want := "ALLOWED\nr1\nr2\ncaveat: c1"
	if got := strings.Join(a.Lines(), "\n"); got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got := (Answer{}).Lines(); len(got) != 1 || got[0] != "DENIED" {
		t.Errorf("Lines of a denial without reasons = %q, want [DENIED]", got)
	}
}
