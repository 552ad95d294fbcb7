package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/testkubelet"
	"github.com/netconform/netconform/probes"
)

// The API-server tests share one kube-apiserver and etcd, started once. Without them
// (KUBEBUILDER_ASSETS unset) only the plain unit tests can run.
var (
	apiServer   *rest.Config
	k8s         client.Client
	testScheme  = runtime.NewScheme()
	noAPIServer string
)

func TestMain(m *testing.M) {
	_ = clientgoscheme.AddToScheme(testScheme)
	_ = v1alpha1.AddToScheme(testScheme)
	_ = policykinds.AddToScheme(testScheme)
	_ = orv1.Install(testScheme)
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		noAPIServer = "KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd and sets it"
		os.Exit(m.Run())
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	if apiServer, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting kube-apiserver and etcd: %v\n", err)
		os.Exit(1)
	}
	if k8s, err = client.New(apiServer, client.Options{Scheme: testScheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the API server: %v\n", err)
	}
	os.Exit(code)
}

func zapLevel() zapcore.Level {
	if os.Getenv("NETCONFORM_TEST_LOGS") != "" {
		return -4
	}
	return 2 // errors only: reconciler conflicts are expected and retried
}

// requireAPIServer fails a test that needs the API server when there is none.
func requireAPIServer(t *testing.T) {
	t.Helper()
	if k8s == nil {
		t.Fatal(noAPIServer)
	}
}

// harness is a running manager with the reconciler under test.
type harness struct {
	rec      *ReachabilityTestReconciler
	registry *prometheus.Registry
	stop     func()
}

// startManager runs a manager like `netconform manager` does; stop it to simulate a crash.
func startManager(t *testing.T, opts SetupOptions) *harness {
	t.Helper()
	requireAPIServer(t)
	return startManagerWith(t, apiServer, opts)
}

// startManagerWith runs a manager that reaches the API server through cfg.
func startManagerWith(t *testing.T, cfg *rest.Config, opts SetupOptions) *harness {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Cache:                  CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	reg := prometheus.NewRegistry()
	opts.Registry = reg
	if opts.Pod.Image == "" {
		opts.Pod.Image = "netconform:test"
	}
	if opts.Plan.ClusterDomain == "" {
		opts.Plan.ClusterDomain = "cluster.local"
	}
	rec, err := Setup(mgr, opts)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	h := &harness{rec: rec, registry: reg}
	h.stop = func() {
		if cancel == nil {
			return
		}
		cancel()
		cancel = nil
		if err := <-done; err != nil {
			t.Errorf("manager stopped with %v", err)
		}
	}
	t.Cleanup(h.stop)
	return h
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, cond)
	if err != nil {
		t.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
}

// newNamespace creates a namespace that enforces the restricted Pod Security Standard.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	requireAPIServer(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-",
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		},
	}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("namespace: %v", err)
	}
	return ns.Name
}

// createTest creates a ReachabilityTest and deletes it, and its probe pods, afterwards:
// envtest runs no garbage collector.
func createTest(t *testing.T, name string, spec v1alpha1.ReachabilityTestSpec) *v1alpha1.ReachabilityTest {
	t.Helper()
	rt := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := k8s.Create(context.Background(), rt); err != nil {
		t.Fatalf("creating test %s: %v", name, err)
	}
	uid := rt.UID
	t.Cleanup(func() {
		ctx := context.Background()
		_ = k8s.Delete(ctx, &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}})
		var pods corev1.PodList
		_ = k8s.List(ctx, &pods, client.HasLabels{probes.TestLabel(uid)})
		for i := range pods.Items {
			_ = k8s.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(0))
		}
	})
	return rt
}

func getTest(t *testing.T, name string) *v1alpha1.ReachabilityTest {
	t.Helper()
	rt := &v1alpha1.ReachabilityTest{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, rt); err != nil {
		t.Fatalf("getting test %s: %v", name, err)
	}
	return rt
}

// probePodsOf lists a test's probe pods straight from the API server.
func probePodsOf(t *testing.T, rt *v1alpha1.ReachabilityTest) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.HasLabels{probes.TestLabel(rt.UID)}); err != nil {
		t.Fatalf("listing probe pods: %v", err)
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// waitForPods waits until a test has n probe pods.
func waitForPods(t *testing.T, rt *v1alpha1.ReachabilityTest, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	eventually(t, 20*time.Second, fmt.Sprintf("%d probe pods of %s", n, rt.Name), func(context.Context) (bool, error) {
		pods = probePodsOf(t, rt)
		return len(pods) == n, nil
	})
	return pods
}

// finishPod plays the kubelet: the probe container ends with the encoded results of
// answer applied to each check the pod makes.
func finishPod(t *testing.T, pod *corev1.Pod, answer func(probes.Check) probes.Result) {
	t.Helper()
	if err := testkubelet.Finish(context.Background(), k8s, pod, answer); err != nil {
		t.Fatalf("finishing probe pod %s: %v", pod.Name, err)
	}
}

func setPodStatus(t *testing.T, pod *corev1.Pod, status corev1.PodStatus) {
	t.Helper()
	latest := &corev1.Pod{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), latest); err != nil {
		t.Fatal(err)
	}
	latest.Status = status
	if err := k8s.Status().Update(context.Background(), latest); err != nil {
		t.Fatalf("updating pod status: %v", err)
	}
}

// asExpected answers each check as the edge expects: connected, or refused.
func asExpected(c probes.Check) probes.Result {
	if c.Deny {
		return probes.Result{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: targetOf(c), Latency: time.Millisecond}
	}
	return probes.Result{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: targetOf(c), Latency: 2 * time.Millisecond}
}

func targetOf(c probes.Check) string {
	if strings.HasSuffix(c.Host, ".") { // a Service name: the probe dials its cluster IP
		return "10.96.0.1:" + fmt.Sprint(c.Port)
	}
	return c.Address()
}

func condition(rt *v1alpha1.ReachabilityTest, typ string) *metav1.Condition {
	for i := range rt.Status.Conditions {
		if rt.Status.Conditions[i].Type == typ {
			return &rt.Status.Conditions[i]
		}
	}
	return nil
}

// waitForCompleted waits until the test's run of its current generation completed.
func waitForCompleted(t *testing.T, name string) *v1alpha1.ReachabilityTest {
	t.Helper()
	var rt *v1alpha1.ReachabilityTest
	eventually(t, 30*time.Second, "test "+name+" to complete", func(context.Context) (bool, error) {
		rt = getTest(t, name)
		c := condition(rt, v1alpha1.ConditionCompleted)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == rt.Generation, nil
	})
	return rt
}
