//go:build bench

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/probes"
)

// benchLabel marks everything the benchmark creates, so that it can remove it all.
const benchLabel = "netconform.io/bench"

// poll is how often waits look again: fine enough for figures of a few seconds.
const poll = 100 * time.Millisecond

type bench struct {
	ctx    context.Context
	opts   options
	rest   *rest.Config
	k8s    client.WithWatch
	cs     kubernetes.Interface
	kinds  policykinds.Source
	log    io.Writer
	report figures.Report
	mgr    *manager
}

func newBench(ctx context.Context, opts options, log io.Writer) (*bench, error) {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("no kubeconfig: %w", err)
	}
	// The harness must never be the one waiting on its own rate limiter.
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := policykinds.AddToScheme(scheme); err != nil {
		return nil, err
	}
	kinds, err := policykinds.NewDiscoverer(cfg)
	if err != nil {
		return nil, err
	}
	k8s, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, opts: opts, rest: cfg, k8s: k8s, cs: cs, kinds: kinds, log: log}
	if b.mgr, err = findManager(ctx, cs); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// waitFor polls cond until it holds, for at most the --timeout; cond says what it saw.
func (b *bench) waitFor(what string, cond func(ctx context.Context) (bool, string, error)) error {
	return b.waitEvery(what, poll, cond)
}

func (b *bench) waitEvery(what string, every time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.timeout)
	defer cancel()
	last := ""
	tick := time.NewTicker(every)
	defer tick.Stop()
	nextProgress := time.Now().Add(15 * time.Second)
	for {
		done, state, err := cond(ctx)
		if err == nil && done {
			return nil
		}
		last = state
		if err != nil {
			last = err.Error()
		}
		if time.Now().After(nextProgress) {
			b.logf("still waiting for %s: %s", what, last)
			nextProgress = time.Now().Add(15 * time.Second)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %s)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// createNamespace creates a namespace that admits only restricted pods.
func (b *bench) createNamespace(name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		benchLabel:                           "true",
	}}}
	return b.k8s.Create(b.ctx, ns)
}

func (b *bench) create(objs ...client.Object) error {
	for _, o := range objs {
		if err := b.k8s.Create(b.ctx, o); err != nil {
			return fmt.Errorf("creating %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// removeLeftovers deletes every ReachabilityTest, ClusterRoleBinding and namespace the
// benchmark made, and waits until the tests and namespaces are gone.
func (b *bench) removeLeftovers() error {
	sel := client.MatchingLabels{benchLabel: "true"}
	if err := b.k8s.DeleteAllOf(b.ctx, &v1alpha1.ReachabilityTest{}, sel); err != nil {
		return fmt.Errorf("deleting ReachabilityTests: %w", err)
	}
	if err := b.k8s.DeleteAllOf(b.ctx, &rbacv1.ClusterRoleBinding{}, sel); err != nil {
		return fmt.Errorf("deleting ClusterRoleBindings: %w", err)
	}
	var nss corev1.NamespaceList
	if err := b.k8s.List(b.ctx, &nss, sel); err != nil {
		return err
	}
	for i := range nss.Items {
		if err := client.IgnoreNotFound(b.k8s.Delete(b.ctx, &nss.Items[i])); err != nil {
			return err
		}
	}
	return b.waitFor("the benchmark's namespaces and tests to be gone", func(ctx context.Context) (bool, string, error) {
		var rts v1alpha1.ReachabilityTestList
		var nss corev1.NamespaceList
		if err := errors.Join(b.k8s.List(ctx, &rts, sel), b.k8s.List(ctx, &nss, sel)); err != nil {
			return false, "", err
		}
		return len(rts.Items)+len(nss.Items) == 0, fmt.Sprintf("%d tests, %d namespaces left", len(rts.Items), len(nss.Items)), nil
	})
}

// server is an agnhost-style pod: every container serves TCP ports with `netconform
// serve`, and any of them can be a client through `netconform connect`.
type server struct {
	namespace, name string
	labels          map[string]string
	// ports per container, the container named after its first port (c80, c81, ...).
	ports [][]int32
}

func (s server) pod(image string) *corev1.Pod {
	security := probes.RestrictedPodSecurity()
	// Like agnhost on 80 and 81: a non-root server may bind low ports.
	security.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace, Labels: s.labels},
		Spec: corev1.PodSpec{
			SecurityContext:               security,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
		},
	}
	for _, ports := range s.ports {
		pod.Spec.Containers = append(pod.Spec.Containers, serveContainer(image, ports))
	}
	return pod
}

// exec is the container the upstream method execs its probes in.
func (s server) exec() string { return containerName(s.ports[0]) }

func containerName(ports []int32) string { return "c" + strconv.Itoa(int(ports[0])) }

func serveContainer(image string, ports []int32) corev1.Container {
	text := make([]string, len(ports))
	var declared []corev1.ContainerPort
	for i, p := range ports {
		text[i] = strconv.Itoa(int(p))
		declared = append(declared, corev1.ContainerPort{Name: "p" + text[i], ContainerPort: p, Protocol: corev1.ProtocolTCP})
	}
	return corev1.Container{
		Name:            containerName(ports),
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/netconform"},
		Args:            []string{"serve", "--tcp", strings.Join(text, ",")},
		Ports:           declared,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		SecurityContext: probes.RestrictedContainerSecurity(),
	}
}

// service puts every port of the servers behind one Service: its ready endpoints are
// the evidence netconform needs that a denying destination really listens.
func service(namespace, name string, selector map[string]string, ports []int32) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       corev1.ServiceSpec{Selector: selector},
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "p" + strconv.Itoa(int(p)), Port: p, Protocol: corev1.ProtocolTCP})
	}
	return svc
}

// startServers creates the pods and waits until all are Ready, returning them with
// their addresses.
func (b *bench) startServers(servers []server) (map[string]*corev1.Pod, error) {
	for _, s := range servers {
		if err := b.create(s.pod(b.opts.image)); err != nil {
			return nil, err
		}
	}
	pods := map[string]*corev1.Pod{}
	err := b.waitFor("the servers to be Ready", func(ctx context.Context) (bool, string, error) {
		var waiting []string
		for _, s := range servers {
			pod := &corev1.Pod{}
			if err := b.k8s.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.name}, pod); err != nil {
				return false, "", err
			}
			if !podReady(pod) {
				waiting = append(waiting, s.namespace+"/"+s.name)
			}
			pods[s.namespace+"/"+s.name] = pod
		}
		return len(waiting) == 0, "not ready: " + strings.Join(waiting, " "), nil
	})
	return pods, err
}

// stopServers deletes the pods and waits until they are gone.
func (b *bench) stopServers(servers []server) error {
	for _, s := range servers {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: s.name}}
		if err := client.IgnoreNotFound(b.k8s.Delete(b.ctx, pod, client.GracePeriodSeconds(0))); err != nil {
			return err
		}
	}
	return b.waitFor("the servers to be gone", func(ctx context.Context) (bool, string, error) {
		for _, s := range servers {
			err := b.k8s.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.name}, &corev1.Pod{})
			if !apierrors.IsNotFound(err) {
				return false, s.namespace + "/" + s.name + " still there", client.IgnoreNotFound(err)
			}
		}
		return true, "", nil
	})
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
