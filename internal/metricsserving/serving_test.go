package metricsserving

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/config/crd"
	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/internal/scrape"
)

// managerUser is the manager's identity, which config/rbac grants the reviews.
const managerUser = "system:serviceaccount:netconform-system:netconform-manager"

// shippedRBAC are the files of config/rbac the metrics server relies on.
var shippedRBAC = []string{"service_account.yaml", "metrics_auth_role.yaml", "metrics_auth_role_binding.yaml", "metrics_reader_role.yaml"}

var (
	apiServer *rest.Config
	clientset kubernetes.Interface
)

// TestMain starts a kube-apiserver, which serves TokenReview, SubjectAccessReview and
// TokenRequest, with the CRD and the shipped metrics RBAC, and registers the manager's
// metrics into controller-runtime's registry as the manager does.
func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make unit`, or export KUBEBUILDER_ASSETS=$(hack/k8s-binaries.sh etcd kube-apiserver kubectl)")
		os.Exit(1)
	}
	rtCRD, err := crd.ReachabilityTest()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env := &envtest.Environment{CRDs: []*apiextensionsv1.CustomResourceDefinition{rtCRD}}
	if apiServer, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting kube-apiserver and etcd: %v\n", err)
		os.Exit(1)
	}
	code := 1
	if err := setUp(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "setting up: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the API server: %v\n", err)
	}
	os.Exit(code)
}

func setUp(ctx context.Context) error {
	var err error
	if clientset, err = kubernetes.NewForConfig(apiServer); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	k8s, err := client.New(apiServer, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "netconform-system"}}); err != nil {
		return err
	}
	for _, file := range shippedRBAC {
		if err := applyShipped(ctx, k8s, file); err != nil {
			return err
		}
	}
	m := controllers.NewMetrics(metrics.Registry, k8s)
	// One finished run that found a hole, so the metrics hold netconform_ series.
	m.RunCompleted("shop", 2*time.Second, []v1alpha1.EdgeResult{
		{Edge: "web-to-db", Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictFail},
	})
	return nil
}

// applyShipped creates the objects of a config/rbac file as they ship.
func applyShipped(ctx context.Context, k8s client.Client, file string) error {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", file))
	if err != nil {
		return err
	}
	var obj unstructured.Unstructured
	if err := sigsyaml.Unmarshal(raw, &obj.Object); err != nil {
		return fmt.Errorf("config/rbac/%s: %w", file, err)
	}
	if err := k8s.Create(ctx, &obj); err != nil {
		return fmt.Errorf("creating config/rbac/%s: %w", file, err)
	}
	return nil
}

// serve starts the metrics server the flags describe, as the manager's identity, and
// returns its https:// address.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	var f Flags
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	f.Bind(fs)
	if err := fs.Parse(append([]string{"--metrics-bind-address=127.0.0.1:0"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(apiServer)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metricsserver.NewServer(f.ServerOptions(), cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics server: %v", err)
		}
	})
	bound := srv.(interface{ GetBindAddr() string })
	var addr string
	err = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		addr = bound.GetBindAddr()
		return addr != "", nil
	})
	if err != nil {
		t.Fatalf("the metrics server did not listen within 10s")
	}
	return "https://" + addr
}

func TestMetricsNeedATokenAllowedToGetMetrics(t *testing.T) {
	base := serve(t)
	ctx := t.Context()
	reader := scrape.Identity{Namespace: "monitoring", Name: "prometheus"}
	intruder := scrape.Identity{Namespace: "monitoring", Name: "intruder"}
	if _, err := clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := scrape.Grant(ctx, clientset, reader); err != nil {
		t.Fatal(err)
	}
	if err := scrape.CreateServiceAccount(ctx, clientset, intruder); err != nil {
		t.Fatal(err)
	}
	waitUntilAllowed(t, "system:serviceaccount:monitoring:prometheus")
	tokenOf := func(id scrape.Identity) string {
		tok, err := scrape.Token(ctx, clientset, id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name     string
		token    string
		status   int // 0: any refusal
		contains string
	}{
		{"no token", "", 401, "Unauthorized"},
		// The API server's TokenReview answers with an error, which the filter passes on as 500.
		{"a token the API server never issued", "not-a-token", 0, "Authentication failed"},
		{"a service account without the reader role", tokenOf(intruder), 403, "Authorization denied for user system:serviceaccount:monitoring:intruder"},
		{"a service account bound to netconform-metrics-reader", tokenOf(reader), 200, `netconform_violations_total{edge="web-to-db",kind="unexpected_allow",test="shop"} 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := scrape.Get(ctx, base+"/metrics", tc.token)
			if err != nil {
				t.Fatal(err)
			}
			refused := tc.status == 0 && resp.Status != 200
			if (resp.Status != tc.status && !refused) || !strings.Contains(string(resp.Body), tc.contains) {
				t.Errorf("GET /metrics: %d, want %d with %q; body:\n%.600s", resp.Status, tc.status, tc.contains, resp.Body)
			}
		})
	}
	t.Run("plain HTTP", func(t *testing.T) {
		resp, err := scrape.Get(ctx, "http"+strings.TrimPrefix(base, "https")+"/metrics", tokenOf(reader))
		if err == nil && resp.Status == 200 {
			t.Errorf("plain HTTP got the metrics: %.200s", resp.Body)
		}
	})
}

// TestMetricsServeTheGivenCertificate: with --metrics-cert-path, a client that trusts
// only that certificate's CA verifies the server, which declines HTTP/2.
// waitUntilAllowed waits until the API server's authorizer has the new binding, so that
// the metrics server does not cache an early denial.
func waitUntilAllowed(t *testing.T, user string) {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
	}}
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		return err == nil && got.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("the API server does not allow %s to get /metrics within 10s", user)
	}
}

func TestMetricsServeTheGivenCertificate(t *testing.T) {
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("metrics.netconform.test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	base := serve(t, "--metrics-cert-path="+dir, "--metrics-cert-name=cert.pem", "--metrics-cert-key=key.pem")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{RootCAs: pool, ServerName: "metrics.netconform.test", MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("the server does not present the certificate in --metrics-cert-path: %v", err)
	}
	state := conn.ConnectionState()
	_ = conn.Close()
	if p := state.NegotiatedProtocol; p == "h2" {
		t.Errorf("negotiated %s: HTTP/2 must stay off", p)
	}
}

func TestFlags(t *testing.T) {
	certs := t.TempDir()
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(certs, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args    []string
		wantErr string // empty: valid
	}{
		{nil, ""},
		{[]string{"--metrics-cert-path=" + certs}, ""},
		{[]string{"--metrics-cert-path=" + t.TempDir()}, "--metrics-cert-path"},
		{[]string{"--metrics-cert-path=" + certs, "--metrics-cert-key=other.key"}, "--metrics-cert-key"},
		{[]string{"--metrics-cert-name=cert.pem"}, "give --metrics-cert-path too"},
	} {
		var f Flags
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		f.Bind(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := f.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.wantErr)
		}
	}
}

func TestDefaultsAreSecure(t *testing.T) {
	var f Flags
	f.Bind(flag.NewFlagSet("manager", flag.ContinueOnError))
	o := f.ServerOptions()
	if o.BindAddress != ":8443" || !o.SecureServing || o.FilterProvider == nil {
		t.Errorf("default options: bind %q, secure %v, filter set %v; want :8443, HTTPS and the authn/authz filter", o.BindAddress, o.SecureServing, o.FilterProvider != nil)
	}
}
