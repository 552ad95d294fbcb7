//go:build e2e

package e2e

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/probes"
)

// scenario is one test's share of the cluster: the namespaces and ReachabilityTests it
// created, whose state is saved when something goes wrong.
type scenario struct {
	t          *testing.T
	ctx        context.Context
	namespaces []string
	tests      []string
	dumps      int
	// spread is where its fixtures go on a cluster of several nodes.
	spread spread
}

// newScenario counts a scenario and creates its namespaces.
func newScenario(t *testing.T, namespaces ...string) *scenario {
	t.Helper()
	n := countScenario()
	s := &scenario{t: t, ctx: t.Context(), spread: spreadFor(n, cfg.nodes)}
	for _, ns := range namespaces {
		s.createNamespace(ns)
	}
	return s
}

// fatalf saves the state and stops the test, naming the folder.
func (s *scenario) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s\nstate saved in %s", fmt.Sprintf(format, args...), s.dump("fatal"))
}

// createNamespace creates a namespace that passes only restricted pods and carries the
// labels policies select namespaces by.
func (s *scenario) createNamespace(name string) {
	s.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"name":                               name,
		e2eLabel:                             "true",
	}}}
	err := k8s.Create(s.ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		s.t.Fatalf("namespace %s already exists and was not created by the suites: delete it, or set NETCONFORM_E2E_NAMESPACE_PREFIX (such as e2e-) to put the suites' namespaces beside it", name)
	}
	if err != nil {
		s.t.Fatalf("creating namespace %s: %v", name, err)
	}
	s.namespaces = append(s.namespaces, name)
}

// port is a TCP port a fixture serves, named so Services and policies can refer to it.
type port struct {
	name   string
	number int32
	// servicePort is the Service's port when it differs from number.
	servicePort int32
}

// workload is a `netconform serve` pod with the real workload's labels and ports,
// behind a Service of the same name (ready endpoints are the evidence that a denied
// destination really listens).
type workload struct {
	name   string
	labels map[string]string
	ports  []port
	// lowPorts lets the non-root server bind ports below 1024 (a sysctl the restricted
	// Pod Security Standard allows).
	lowPorts bool
	// noService leaves the pod without a Service: only the kubelet shows that it listens.
	noService bool
	// edit, when set, changes the pod before it is created.
	edit func(*corev1.Pod)
}

// deploy creates the workloads in ns, waits until each pod is ready and each Service
// has ready endpoints, and returns the pods by name.
func (s *scenario) deploy(ns string, ws ...workload) map[string]*corev1.Pod {
	s.t.Helper()
	for _, w := range ws {
		pod := fixturePod(ns, w)
		if w.edit != nil {
			w.edit(pod)
		}
		s.place(pod)
		s.create(pod)
		if !w.noService {
			s.create(fixtureService(ns, w))
		}
	}
	pods := map[string]*corev1.Pod{}
	s.waitUntil(fmt.Sprintf("the fixtures in %s to be ready", ns), func(ctx context.Context) (bool, string, error) {
		var notReady []string
		for _, w := range ws {
			pod := &corev1.Pod{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: w.name}, pod); err != nil {
				return false, "", err
			}
			if !podReady(pod) {
				notReady = append(notReady, fmt.Sprintf("pod %s: %s", w.name, podState(pod)))
			}
			pods[w.name] = pod
			if w.noService {
				continue
			}
			if ok, why := endpointsReady(ctx, ns, w); !ok {
				notReady = append(notReady, fmt.Sprintf("service %s: %s", w.name, why))
			}
		}
		return len(notReady) == 0, strings.Join(notReady, "; "), nil
	})
	if s.spread.probeNode != "" {
		var where []string
		for _, w := range ws {
			where = append(where, w.name+"@"+pods[w.name].Spec.NodeName)
		}
		s.t.Logf("fixtures in %s: %s; the scenario leaves %s to its probe pods", ns, strings.Join(where, " "), s.spread.probeNode)
	}
	return pods
}

// create creates objects, stopping the test on the first error.
func (s *scenario) create(objs ...client.Object) {
	s.t.Helper()
	for _, o := range objs {
		if err := k8s.Create(s.ctx, o); err != nil {
			s.fatalf("creating %T %s/%s: %v", o, o.GetNamespace(), o.GetName(), err)
		}
	}
}

// update writes a changed object, stopping the test on an error.
func (s *scenario) update(o client.Object) {
	s.t.Helper()
	if err := k8s.Update(s.ctx, o); err != nil {
		s.fatalf("updating %T %s/%s: %v", o, o.GetNamespace(), o.GetName(), err)
	}
}

// remove deletes objects and waits until they are gone.
func (s *scenario) remove(objs ...client.Object) {
	s.t.Helper()
	for _, o := range objs {
		if err := client.IgnoreNotFound(k8s.Delete(s.ctx, o)); err != nil {
			s.fatalf("deleting %T %s/%s: %v", o, o.GetNamespace(), o.GetName(), err)
		}
		s.waitUntil(fmt.Sprintf("%s/%s to be deleted", o.GetNamespace(), o.GetName()), func(ctx context.Context) (bool, string, error) {
			err := k8s.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object))
			if apierrors.IsNotFound(err) {
				return true, "", nil
			}
			return false, "still exists", err
		})
	}
}

// waitUntil polls cond until it is done, for at most waitTimeout; cond describes what it
// saw, for the failure message. API errors are retried.
func (s *scenario) waitUntil(what string, cond func(ctx context.Context) (done bool, state string, err error)) {
	s.t.Helper()
	last := ""
	err := pollUntil(s.ctx, func(ctx context.Context) (bool, error) {
		done, state, err := cond(ctx)
		last = state
		if err != nil {
			last = err.Error()
		}
		return done && err == nil, nil
	})
	if err != nil {
		s.fatalf("timed out after %s waiting for %s: %s", waitTimeout, what, last)
	}
}

func fixturePod(ns string, w workload) *corev1.Pod {
	var tcp []string
	var ports []corev1.ContainerPort
	for _, p := range w.ports {
		tcp = append(tcp, strconv.Itoa(int(p.number)))
		ports = append(ports, corev1.ContainerPort{Name: p.name, ContainerPort: p.number, Protocol: corev1.ProtocolTCP})
	}
	security := probes.RestrictedPodSecurity()
	if w.lowPorts {
		security.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: ns, Labels: w.labels},
		Spec: corev1.PodSpec{
			SecurityContext:               security,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name:            "serve",
				Image:           cfg.image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"/netconform"},
				Args:            []string{"serve", "--tcp", strings.Join(tcp, ",")},
				Ports:           ports,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(w.ports[0].number)}},
					PeriodSeconds: 2,
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				SecurityContext: probes.RestrictedContainerSecurity(),
			}},
		},
	}
}

func fixtureService(ns string, w workload) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: ns, Labels: w.labels},
		Spec:       corev1.ServiceSpec{Selector: w.labels},
	}
	for _, p := range w.ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.name, Port: cmp.Or(p.servicePort, p.number), TargetPort: intstr.FromString(p.name), Protocol: corev1.ProtocolTCP,
		})
	}
	return svc
}

// endpointsReady tells whether every port of w's Service has a ready endpoint.
func endpointsReady(ctx context.Context, ns string, w workload) (bool, string) {
	var slices discoveryv1.EndpointSliceList
	if err := k8s.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: w.name}); err != nil {
		return false, err.Error()
	}
	for _, p := range w.ports {
		if !slicesServe(slices.Items, p.name) {
			return false, fmt.Sprintf("no ready endpoint for port %s yet", p.name)
		}
	}
	return true, ""
}

func slicesServe(slices []discoveryv1.EndpointSlice, portName string) bool {
	for _, s := range slices {
		named := false
		for _, p := range s.Ports {
			named = named || (p.Name != nil && *p.Name == portName)
		}
		for _, ep := range s.Endpoints {
			if named && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				return true
			}
		}
	}
	return false
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState is a pod's phase and the reasons its containers are not running.
func podState(pod *corev1.Pod) string {
	parts := []string{string(pod.Status.Phase)}
	for _, c := range pod.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			parts = append(parts, fmt.Sprintf("%s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message))
		case c.State.Terminated != nil:
			parts = append(parts, fmt.Sprintf("%s terminated: %s (exit %d) %s", c.Name, c.State.Terminated.Reason, c.State.Terminated.ExitCode, c.State.Terminated.Message))
		case !c.Ready:
			parts = append(parts, c.Name+" running, not ready")
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", c.Type, c.Message))
		}
	}
	return strings.Join(parts, ", ")
}

// labels builds a label map from key, value pairs.
func labels(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// labelString renders labels sorted, as key=value,key=value.
func labelString(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
