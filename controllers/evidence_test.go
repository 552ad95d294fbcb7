package controllers

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/report"
	"github.com/netconform/netconform/probes"
)

func denyToPods(name, fromNS string, labels map[string]string, toNS string, toLabels map[string]string, port int32) v1alpha1.Edge {
	return v1alpha1.Edge{
		Name:   name,
		From:   v1alpha1.Source{Namespace: fromNS, PodLabels: labels},
		To:     v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: toNS, PodLabels: toLabels, Port: intstr.FromInt32(port)}},
		Expect: v1alpha1.ExpectDeny,
	}
}

// servingPod is a restricted pod serving 80 ("http") and 81 ("alt"), with probe as its
// readiness probe when there is one.
func servingPod(ns, name string, probe *corev1.Probe) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"pod": name}},
		Spec: corev1.PodSpec{
			SecurityContext: probes.RestrictedPodSecurity(),
			Containers: []corev1.Container{{
				Name:            "serve",
				Image:           "netconform:test",
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "alt", ContainerPort: 81}},
				ReadinessProbe:  probe,
				SecurityContext: probes.RestrictedContainerSecurity(),
			}},
		},
	}
}

// runningStatus is what the kubelet reports of a Ready pod whose container started at
// startedAt.
func runningStatus(ip string, startedAt time.Time) corev1.PodStatus {
	return corev1.PodStatus{
		Phase:      corev1.PodRunning,
		PodIP:      ip,
		PodIPs:     []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "serve", Image: "netconform:test", Ready: true, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(startedAt)}},
		}},
	}
}

var readinessOnHTTP = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}

// The evidence that a denied destination listens: a connection over the same protocol,
// or a kubelet probe of the pod at the address, its namespace's pods read once.
func TestListensEvidence(t *testing.T) {
	runStart := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	steady := servingPod("z", "a", readinessOnHTTP)
	steady.Status = runningStatus("10.244.2.5", runStart.Add(-time.Hour))
	restarted := servingPod("y", "a", readinessOnHTTP)
	restarted.Status = runningStatus("10.244.1.5", runStart.Add(3*time.Second))
	podLists := map[string]int{}
	reader := fake.NewClientBuilder().WithScheme(testScheme).WithObjects(steady, restarted).WithInterceptorFuncs(interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*corev1.PodList); ok {
				o := (&client.ListOptions{}).ApplyOptions(opts)
				podLists[o.Namespace]++
			}
			return c.List(ctx, list, opts...)
		},
	}).Build()
	r := &ReachabilityTestReconciler{APIReader: reader, Now: func() time.Time { return runStart.Add(time.Minute) }}

	host := func(name, addr string, port int32, udp bool) (v1alpha1.Edge, probes.Check) {
		e := hostEdge(name, "x", nil, addr, port, v1alpha1.ExpectDeny)
		c := probes.Check{Edge: name, Kind: probes.KindTCP, Host: addr, Port: port, Deny: true}
		if udp {
			e.Protocol, c.Kind = v1alpha1.ProtocolUDP, probes.KindUDP
		}
		return e, c
	}
	pods := func(name, ns, ip string, port int32) (v1alpha1.Edge, probes.Check) {
		return denyToPods(name, "x", nil, ns, map[string]string{"pod": "a"}, port),
			probes.Check{Edge: name, Kind: probes.KindTCP, Host: ip, Port: port, Deny: true}
	}
	allowTCP, allowTCPCheck := host("tcp-53", "10.0.0.1", 53, false)
	lookup := v1alpha1.Edge{Name: "lookup", From: v1alpha1.Source{Namespace: "x"}, To: v1alpha1.Destination{DNS: &v1alpha1.DNSDestination{Name: "example.com"}}, Expect: v1alpha1.ExpectAllow}
	lookupCheck := probes.Check{Edge: "lookup", Kind: probes.KindDNS, Host: "example.com"}

	type ask struct {
		edge  v1alpha1.Edge
		check probes.Check
		want  string // the evidence; empty for none
	}
	var asks []ask
	add := func(e v1alpha1.Edge, c probes.Check, want string) { asks = append(asks, ask{e, c, want}) }
	e, c := host("udp-53", "10.0.0.1", 53, true)
	add(e, c, "") // a TCP connection says nothing of UDP
	e, c = host("tcp-53-denied", "10.0.0.1", 53, false)
	add(e, c, "another check of this run connected to 10.0.0.1:53")
	e, c = host("udp-dns", "10.96.0.10", 53, true)
	add(e, c, "another check of this run connected to 10.96.0.10:53") // an answered look-up is a UDP reply
	e, c = pods("z-80", "z", "10.244.2.5", 80)
	add(e, c, `pod z/a is Ready and its tcpSocket readiness probe connects to port 80 ("http")`)
	e, c = pods("z-81", "z", "10.244.2.5", 81)
	add(e, c, "")
	e, c = pods("y-80", "y", "10.244.1.5", 80)
	add(e, c, "") // restarted during the run

	test := &v1alpha1.ReachabilityTest{Spec: v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{allowTCP, lookup}}}
	for _, a := range asks {
		test.Spec.Edges = append(test.Spec.Edges, a.edge)
	}
	progress := unitProgress()
	progress.add([]probes.Check{allowTCPCheck, lookupCheck}, podOutcome{Done: true, Results: []probes.Result{
		unitObserved(v1alpha1.ObservedConnected, "10.0.0.1:53"),
		unitObserved(v1alpha1.ObservedConnected, "10.96.0.10:53"),
	}})
	listens := r.listens(context.Background(), test, v1alpha1.Run{StartTime: metav1.NewTime(runStart)}, progress)
	for _, a := range asks {
		got, ok := listens(a.check, unitObserved(v1alpha1.ObservedRefused, a.check.Address()))
		if got != a.want || ok != (a.want != "") {
			t.Errorf("%s: evidence %q, %v; want %q", a.edge.Name, got, ok, a.want)
		}
	}
	if podLists["z"] != 1 || podLists["y"] != 1 || len(podLists) != 2 {
		t.Errorf("pods listed %v, want once in each of z and y", podLists)
	}
}

// A pods destination without a Service: the Deny passes where a readiness probe covers
// the port, and stays Inconclusive, saying how to make it conclusive, where none does.
// The gate's failure lines carry that hint.
func TestDenyEvidenceFromKubeletProbes(t *testing.T) {
	x, z := newNamespace(t, "x"), newNamespace(t, "z")
	probed, unprobed, restarted := servingPod(z, "probed", readinessOnHTTP), servingPod(z, "unprobed", nil), servingPod(z, "restarted", readinessOnHTTP)
	ips := map[*corev1.Pod]string{probed: "10.244.7.5", unprobed: "10.244.7.6", restarted: "10.244.7.7"}
	for pod, ip := range ips {
		if err := k8s.Create(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
		setPodStatus(t, pod, runningStatus(ip, time.Now().Add(-time.Hour)))
	}
	startManager(t, SetupOptions{})
	a := map[string]string{"pod": "a"}
	rt := createTest(t, "kubelet-evidence", v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
		denyToPods("to-probed-80", x, a, z, probed.Labels, 80),
		denyToPods("to-probed-81", x, a, z, probed.Labels, 81),
		denyToPods("to-unprobed-80", x, a, z, unprobed.Labels, 80),
		denyToPods("to-restarted-80", x, a, z, restarted.Labels, 80),
	}})
	pods := waitForPods(t, rt, 1)
	// The kubelet restarts a container after the run was planned: Ready again by the
	// time the run is judged, but it may have been down when the check was made.
	started := getTest(t, rt.Name).Status.ActiveRun.StartTime.Add(2 * time.Second)
	setPodStatus(t, restarted, runningStatus(ips[restarted], started))
	finishPod(t, &pods[0], asExpected)
	rt = waitForCompleted(t, rt.Name)

	want := map[string]struct {
		verdict v1alpha1.Verdict
		message string
	}{
		"to-probed-80":    {v1alpha1.VerdictPass, `Refused 10.244.7.5:80; the destination listens: pod ` + z + `/probed is Ready and its tcpSocket readiness probe connects to port 80 ("http")`},
		"to-probed-81":    {v1alpha1.VerdictInconclusive, "give the pod a readiness probe (tcpSocket, httpGet or grpc) on port 81, put a Service with ready endpoints in front of it, or add an Allow edge to 10.244.7.5:81 in this test"},
		"to-unprobed-80":  {v1alpha1.VerdictInconclusive, "give the pod a readiness probe (tcpSocket, httpGet or grpc) on port 80"},
		"to-restarted-80": {v1alpha1.VerdictInconclusive, "no kubelet probe shows the pod serving port 80"},
	}
	for _, r := range rt.Status.Results {
		w := want[r.Edge]
		if r.Verdict != w.verdict || !strings.Contains(r.Message, w.message) {
			t.Errorf("%s: %s %q, want %s with %q", r.Edge, r.Verdict, r.Message, w.verdict, w.message)
		}
	}
	if s := rt.Status.Summary; s == nil || s.Passed != 1 || s.Inconclusive != 3 {
		t.Errorf("summary %+v, want 1 passed and 3 inconclusive", s)
	}

	var table bytes.Buffer
	if err := report.Table(&table, []v1alpha1.ReachabilityTest{*rt}); err != nil {
		t.Fatal(err)
	}
	line := ""
	for l := range strings.Lines(table.String()) {
		if strings.HasPrefix(l, "INCONCLUSIVE to-probed-81:") {
			line = l
		}
	}
	if !strings.Contains(line, "To make it conclusive, give the pod a readiness probe") {
		t.Errorf("the gate's line for to-probed-81 does not say how to make it conclusive:\n%s", table.String())
	}
}
