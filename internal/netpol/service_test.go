package netpol

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// shopWorld: Service shop/web sends port 80 to the named port "http", which is 8080 on
// web-1, 9090 on web-2 (a sidecar's port) and 8080 on web-3, which is not ready; web-4
// has no such port and web-5 is terminating. shop/client calls it.
func shopWorld(policies ...networkingv1.NetworkPolicy) *Cluster {
	web := map[string]string{"app": "web"}
	http := func(n int32) corev1.ContainerPort { return corev1.ContainerPort{Name: "http", ContainerPort: n} }
	web2 := pod("shop", "web-2", web, "10.244.0.3")
	always := corev1.ContainerRestartPolicyAlways
	web2.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always, Ports: []corev1.ContainerPort{http(9090)}}}
	web3 := pod("shop", "web-3", web, "10.244.0.4", http(8080))
	web3.Status.Conditions[0].Status = corev1.ConditionFalse
	web5 := pod("shop", "web-5", web, "10.244.0.6", http(8080))
	web5.DeletionTimestamp = &metav1.Time{}
	svc := service("shop", "web", web, corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("http")})
	return &Cluster{
		Namespaces: []corev1.Namespace{namespace("shop", nil)},
		Pods: []corev1.Pod{
			pod("shop", "client", map[string]string{"app": "client"}, "10.244.0.1"),
			pod("shop", "web-1", web, "10.244.0.2", http(8080)),
			web2, web3,
			pod("shop", "web-4", web, "10.244.0.5", corev1.ContainerPort{Name: "metrics", ContainerPort: 8080}),
			web5,
		},
		Services: []corev1.Service{svc},
		Policies: policies,
	}
}

func TestEvaluateService(t *testing.T) {
	webOn8080 := policy("shop", "web-8080", map[string]string{"app": "web"}, ingress(from(nil, port(8080, tcp))))
	clientToHTTP := policy("shop", "client-egress", map[string]string{"app": "client"}, egress(to(nil, namedPort("http"))))
	cases := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		edit     func(*corev1.Service)
		port     int32
		protocol corev1.Protocol
		want     map[string]bool // backend → allowed
		words    map[string][]string
		err      error
	}{
		{name: "targetPort by name, resolved per backend", policies: []networkingv1.NetworkPolicy{webOn8080}, port: 80,
			want: map[string]bool{"shop/web-1": true, "shop/web-2": false},
			words: map[string][]string{
				"shop/web-1": {`Service shop/web port 80/TCP sends to shop/web-1 port 8080 (targetPort "http")`, "shop/client to shop/web-1 port 8080/TCP is allowed"},
				"shop/web-2": {`sends to shop/web-2 port 9090 (targetPort "http")`, "admits shop/client but not port 9090/TCP"},
			}},
		{name: "egress named port resolved on each backend", policies: []networkingv1.NetworkPolicy{clientToHTTP}, port: 80,
			want: map[string]bool{"shop/web-1": true, "shop/web-2": true}},
		{name: "not-ready addresses published", policies: []networkingv1.NetworkPolicy{webOn8080}, port: 80,
			edit: func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true },
			want: map[string]bool{"shop/web-1": true, "shop/web-2": false, "shop/web-3": true}},
		{name: "numeric targetPort", policies: []networkingv1.NetworkPolicy{webOn8080}, port: 80,
			edit:  func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(8080) },
			want:  map[string]bool{"shop/web-1": true, "shop/web-2": true, "shop/web-4": true},
			words: map[string][]string{"shop/web-4": {"sends to shop/web-4 port 8080 (targetPort 8080)"}}},
		{name: "targetPort omitted is the port", policies: []networkingv1.NetworkPolicy{webOn8080}, port: 8080,
			edit: func(s *corev1.Service) { s.Spec.Ports[0] = corev1.ServicePort{Port: 8080} },
			want: map[string]bool{"shop/web-1": true, "shop/web-2": true, "shop/web-4": true}},
		{name: "headless: the pods are dialled on the port as given", policies: []networkingv1.NetworkPolicy{webOn8080}, port: 8080,
			edit:  func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone },
			want:  map[string]bool{"shop/web-1": true, "shop/web-2": true, "shop/web-4": true},
			words: map[string][]string{"shop/web-1": {"a headless Service, dialled directly"}}},
		{name: "unknown Service", port: 80, edit: func(s *corev1.Service) { s.Name = "other" }, err: ErrServiceNotFound},
		{name: "unknown port", port: 81, err: ErrServicePortNotFound},
		{name: "port of another protocol", port: 80, protocol: udp, err: ErrServicePortNotFound},
		{name: "no selector", port: 80, edit: func(s *corev1.Service) { s.Spec.Selector = nil }, err: ErrServiceUnsupported},
		{name: "ExternalName", port: 80, edit: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }, err: ErrServiceUnsupported},
		{name: "no ready backend", port: 80, edit: func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "gone"} }, err: ErrNoReadyBackends},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := shopWorld(tc.policies...)
			if tc.edit != nil {
				tc.edit(&c.Services[0])
			}
			ds, err := c.EvaluateService(PodPeer(&c.Pods[0]), "shop", "web", tc.port, tc.protocol)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			got := map[string]bool{}
			for _, d := range ds {
				got[d.Connection.To.String()] = d.Allowed
				assertReasons(t, d, tc.words[d.Connection.To.String()]...)
			}
			if len(got) != len(tc.want) {
				t.Errorf("backends = %v, want %v", got, tc.want)
			}
			for backend, allowed := range tc.want {
				if a, ok := got[backend]; !ok || a != allowed {
					t.Errorf("%s: allowed = %t (judged: %t), want %t", backend, a, ok, allowed)
				}
			}
		})
	}
}
