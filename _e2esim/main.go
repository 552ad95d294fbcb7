// Throwaway: a simulated cluster (envtest API server + the real reconciler + a fake
// kubelet, endpoint-slice controller, namespace finalizer and NetworkPolicy dataplane)
// to dry-run the e2e suites. Not part of the project.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/probes"
)

var (
	enforce bool
	c       client.Client
	cs      *kubernetes.Clientset
	nextIP  = 10
)

const externalIP = "192.0.2.10"

func main() {
	profile := flag.String("profile", "noop", "")
	out := flag.String("out", "/tmp/e2esim/kubeconfig", "")
	flag.Parse()
	enforce = *profile == "enforcing"
	ctrl.SetLogger(zap.New(zap.Level(zapcore.Level(2))))
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	env := &envtest.Environment{CRDDirectoryPaths: []string{"/work/main/config/crd/bases"}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	must(err)
	defer env.Stop()
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	must(err)
	kc, err := user.KubeConfig()
	must(err)
	must(os.MkdirAll("/tmp/e2esim", 0o755))
	must(os.WriteFile(*out, kc, 0o600))
	c, err = client.New(cfg, client.Options{Scheme: scheme})
	must(err)
	cs = kubernetes.NewForConfigOrDie(cfg)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: controllers.CacheOptions(), Metrics: metricsserver.Options{BindAddress: "0"}})
	must(err)
	_, err = controllers.Setup(mgr, controllers.SetupOptions{Registry: prometheus.NewRegistry(), Options: controllers.Options{
		Pod: probes.PodSettings{Image: "netconform:e2e"}, Plan: probes.PlanOptions{ClusterDomain: "cluster.local"}}})
	must(err)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() { must(mgr.Start(ctx)) }()

	setup(ctx)
	fmt.Printf("simulated cluster (%s) ready: KUBECONFIG=%s\n", *profile, *out)
	for ctx.Err() == nil {
		tick(ctx)
		time.Sleep(150 * time.Millisecond)
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func setup(ctx context.Context) {
	must(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "netconform-system"}}))
	lbl := map[string]string{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "netconform-manager", Namespace: "netconform-system", Labels: lbl},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: lbl}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: lbl}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "m", Image: "x"}}}}}}
	must(c.Create(ctx, dep))
	dep.Status.Replicas, dep.Status.ReadyReplicas, dep.Status.AvailableReplicas = 1, 1, 1
	must(c.Status().Update(ctx, dep))
	dns := map[string]string{"k8s-app": "kube-dns"}
	must(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system", Labels: dns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Image: "coredns", Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}}}}}}))
	must(c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{Selector: dns, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns-tcp")}}}}))
}

type world struct {
	pods []corev1.Pod
	svcs []corev1.Service
	nss  map[string]map[string]string
	pols []networkingv1.NetworkPolicy
}

func snapshot(ctx context.Context) (*world, error) {
	w := &world{nss: map[string]map[string]string{}}
	var pods corev1.PodList
	var svcs corev1.ServiceList
	var nss corev1.NamespaceList
	var pols networkingv1.NetworkPolicyList
	for _, l := range []client.ObjectList{&pods, &svcs, &nss, &pols} {
		if err := c.List(ctx, l); err != nil {
			return nil, err
		}
	}
	w.pods, w.svcs, w.pols = pods.Items, svcs.Items, pols.Items
	for _, n := range nss.Items {
		w.nss[n.Name] = n.Labels
	}
	return w, nil
}

func tick(ctx context.Context) {
	w, err := snapshot(ctx)
	if err != nil {
		return
	}
	finalizeNamespaces(ctx)
	for i := range w.pods {
		p := &w.pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		_, probe := p.Labels[probes.LabelRun]
		switch {
		case probe && p.Status.Phase == "":
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: allocIP()}
			if err := c.Status().Update(ctx, p); err != nil {
				fmt.Println("probe ip:", err)
			}
		case probe && p.Status.Phase == corev1.PodRunning:
			finishProbe(ctx, w, p)
		case !probe && p.Status.PodIP == "":
			now := metav1.Now()
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: allocIP(), PodIPs: nil,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Ready: true, Image: p.Spec.Containers[0].Image,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
			if err := c.Status().Update(ctx, p); err != nil {
				fmt.Println("pod ready:", err)
			}
		}
	}
	syncSlices(ctx, w)
}

func allocIP() string {
	nextIP++
	return fmt.Sprintf("10.244.%d.%d", nextIP/250, nextIP%250+2)
}

func finalizeNamespaces(ctx context.Context) {
	var nss corev1.NamespaceList
	if c.List(ctx, &nss) != nil {
		return
	}
	for _, n := range nss.Items {
		if n.DeletionTimestamp == nil {
			continue
		}
		for _, o := range []client.Object{&corev1.Pod{}, &corev1.Service{}, &networkingv1.NetworkPolicy{}, &discoveryv1.EndpointSlice{}, &corev1.Event{}} {
			_ = c.DeleteAllOf(ctx, o, client.InNamespace(n.Name), client.GracePeriodSeconds(0))
		}
		var left corev1.PodList
		if c.List(ctx, &left, client.InNamespace(n.Name)); len(left.Items) > 0 {
			continue
		}
		n.Spec.Finalizers = nil
		if _, err := cs.CoreV1().Namespaces().Finalize(ctx, &n, metav1.UpdateOptions{}); err != nil {
			fmt.Println("finalize:", err)
		}
	}
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		panic(err)
	}
	return s.Matches(labels.Set(l))
}

func containerPort(p *corev1.Pod, name string) (int32, corev1.Protocol, bool) {
	for _, ct := range p.Spec.Containers {
		for _, cp := range ct.Ports {
			if cp.Name == name {
				return cp.ContainerPort, cp.Protocol, true
			}
		}
	}
	return 0, "", false
}

func targetPort(p *corev1.Pod, sp corev1.ServicePort) int32 {
	if sp.TargetPort.Type == intstr.String {
		n, _, _ := containerPort(p, sp.TargetPort.StrVal)
		return n
	}
	if sp.TargetPort.IntVal == 0 {
		return sp.Port
	}
	return sp.TargetPort.IntVal
}

func (w *world) backends(svc *corev1.Service) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range w.pods {
		p := &w.pods[i]
		if p.Namespace == svc.Namespace && len(svc.Spec.Selector) > 0 && selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, p.Labels) && ready(p) && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func syncSlices(ctx context.Context, w *world) {
	for i := range w.svcs {
		svc := &w.svcs[i]
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		pods := w.backends(svc)
		slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-sim", Namespace: svc.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: "e2esim"}},
			AddressType: discoveryv1.AddressTypeIPv4}
		for _, sp := range svc.Spec.Ports {
			var n int32
			if len(pods) > 0 {
				n = targetPort(pods[0], sp)
			}
			slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(n), Protocol: ptr.To(sp.Protocol)})
		}
		for _, p := range pods {
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
		}
		existing := &discoveryv1.EndpointSlice{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(slice), existing); err != nil {
			_ = c.Create(ctx, slice)
			continue
		}
		if !reflect.DeepEqual(existing.Ports, slice.Ports) || !reflect.DeepEqual(existing.Endpoints, slice.Endpoints) {
			existing.Ports, existing.Endpoints = slice.Ports, slice.Endpoints
			_ = c.Update(ctx, existing)
		}
	}
}

// endpoint is a connection's far end: a pod, or an address off the cluster.
type endpoint struct {
	pod *corev1.Pod
	ip  string
}

func finishProbe(ctx context.Context, w *world, p *corev1.Pod) {
	checks, err := probes.ChecksOf(p)
	must(err)
	results := make([]probes.Result, len(checks))
	for i, ch := range checks {
		results[i] = w.check(p, ch)
		results[i].Attempts = 1
		results[i].Latency = 3 * time.Millisecond
	}
	msg, err := probes.EncodeResults(results)
	must(err)
	p.Status.Phase = corev1.PodSucceeded
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: probes.ContainerName, Image: p.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", Message: msg}}}}
	if err := c.Status().Update(ctx, p); err != nil {
		fmt.Println("probe finish:", err)
	}
}

func (w *world) dnsPod() *corev1.Pod {
	for i := range w.pods {
		if w.pods[i].Namespace == "kube-system" && w.pods[i].Labels["k8s-app"] == "kube-dns" {
			return &w.pods[i]
		}
	}
	return nil
}

func (w *world) resolve(name string) string {
	name = strings.TrimSuffix(name, ".")
	if name == "api.partner.example" {
		return externalIP
	}
	if s, ok := strings.CutSuffix(name, ".svc.cluster.local"); ok {
		parts := strings.Split(s, ".")
		if len(parts) == 2 {
			for _, svc := range w.svcs {
				if svc.Name == parts[0] && svc.Namespace == parts[1] {
					return svc.Spec.ClusterIP
				}
			}
		}
	}
	return ""
}

func (w *world) check(src *corev1.Pod, ch probes.Check) probes.Result {
	srcEP := endpoint{pod: src, ip: src.Status.PodIP}
	ip := ch.Host
	if ch.Kind == probes.KindDNS || net.ParseIP(ch.Host) == nil {
		dns := w.dnsPod()
		if enforce && !w.allowed(srcEP, endpoint{pod: dns, ip: dns.Status.PodIP}, 53, corev1.ProtocolUDP) {
			return probes.Result{Observation: v1alpha1.ObservedDNSFailure, Target: "10.0.0.10:53", Message: "timeout"}
		}
		if ip = w.resolve(ch.Host); ip == "" {
			return probes.Result{Observation: v1alpha1.ObservedDNSFailure, Target: "10.0.0.10:53", Message: "NXDOMAIN"}
		}
		if ch.Kind == probes.KindDNS {
			return probes.Result{Observation: v1alpha1.ObservedConnected, Target: "10.0.0.10:53"}
		}
	}
	proto := corev1.ProtocolTCP
	if ch.Kind == probes.KindUDP {
		proto = corev1.ProtocolUDP
	}
	target := fmt.Sprintf("%s/%s", net.JoinHostPort(ip, fmt.Sprint(ch.Port)), proto)
	res := func(o v1alpha1.Observation) probes.Result { return probes.Result{Observation: o, Target: target} }
	dst, port := w.destination(ip, ch.Port, proto)
	if dst == nil {
		return res(v1alpha1.ObservedRefused)
	}
	if dst.pod == nil && (dst.ip != externalIP || port != 443) {
		return res(v1alpha1.ObservedTimeout)
	}
	if dst.pod != nil && !listens(dst.pod, port, proto) {
		return res(v1alpha1.ObservedRefused)
	}
	if enforce && !w.allowed(srcEP, *dst, port, proto) {
		return res(v1alpha1.ObservedTimeout)
	}
	return res(v1alpha1.ObservedConnected)
}

// destination follows a Service's ClusterIP to a backend (kube-proxy's DNAT).
func (w *world) destination(ip string, port int32, proto corev1.Protocol) (*endpoint, int32) {
	for i := range w.svcs {
		svc := &w.svcs[i]
		if svc.Spec.ClusterIP != ip {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if sp.Port == port && sp.Protocol == proto {
				if b := w.backends(svc); len(b) > 0 {
					return &endpoint{pod: b[0], ip: b[0].Status.PodIP}, targetPort(b[0], sp)
				}
			}
		}
		return nil, 0
	}
	for i := range w.pods {
		if w.pods[i].Status.PodIP == ip {
			return &endpoint{pod: &w.pods[i], ip: ip}, port
		}
	}
	return &endpoint{ip: ip}, port
}

func listens(p *corev1.Pod, port int32, proto corev1.Protocol) bool {
	for _, ct := range p.Spec.Containers {
		for _, cp := range ct.Ports {
			if cp.ContainerPort == port && cp.Protocol == proto {
				return true
			}
		}
	}
	return false
}

func (w *world) allowed(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	return w.direction(src, dst, dst, port, proto, networkingv1.PolicyTypeEgress) &&
		(dst.pod == nil || w.direction(dst, src, dst, port, proto, networkingv1.PolicyTypeIngress))
}

// direction: do the policies selecting self (in dir) admit other? dst owns the ports.
func (w *world) direction(self, other, dst endpoint, port int32, proto corev1.Protocol, dir networkingv1.PolicyType) bool {
	isolated := false
	for _, pol := range w.pols {
		if pol.Namespace != self.pod.Namespace || !selects(&pol.Spec.PodSelector, self.pod.Labels) || !hasType(pol, dir) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range pol.Spec.Ingress {
				if w.ruleMatches(r.From, r.Ports, pol.Namespace, other, dst, port, proto) {
					return true
				}
			}
		} else {
			for _, r := range pol.Spec.Egress {
				if w.ruleMatches(r.To, r.Ports, pol.Namespace, other, dst, port, proto) {
					return true
				}
			}
		}
	}
	return !isolated
}

func hasType(p networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, x := range p.Spec.PolicyTypes {
		if x == t {
			return true
		}
	}
	return false
}

func (w *world) ruleMatches(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, ns string, other, dst endpoint, port int32, proto corev1.Protocol) bool {
	if !portMatches(ports, dst, port, proto) {
		return false
	}
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if w.peerMatches(peer, ns, other) {
			return true
		}
	}
	return false
}

func portMatches(ports []networkingv1.NetworkPolicyPort, dst endpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.Int:
			end := p.Port.IntVal
			if p.EndPort != nil {
				end = *p.EndPort
			}
			if port >= p.Port.IntVal && port <= end {
				return true
			}
		case dst.pod != nil:
			if n, cp, ok := containerPort(dst.pod, p.Port.StrVal); ok && n == port && cp == proto {
				return true
			}
		}
	}
	return false
}

func (w *world) peerMatches(peer networkingv1.NetworkPolicyPeer, ns string, other endpoint) bool {
	if peer.IPBlock != nil {
		if !inCIDR(other.ip, peer.IPBlock.CIDR) {
			return false
		}
		for _, e := range peer.IPBlock.Except {
			if inCIDR(other.ip, e) {
				return false
			}
		}
		return true
	}
	if other.pod == nil {
		return false
	}
	if peer.NamespaceSelector != nil {
		if !selects(peer.NamespaceSelector, w.nss[other.pod.Namespace]) {
			return false
		}
	} else if other.pod.Namespace != ns {
		return false
	}
	return peer.PodSelector == nil || selects(peer.PodSelector, other.pod.Labels)
}

func inCIDR(ip, cidr string) bool {
	_, n, err := net.ParseCIDR(cidr)
	return err == nil && n.Contains(net.ParseIP(ip))
}
