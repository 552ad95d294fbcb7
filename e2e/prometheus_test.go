//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/internal/metricsserving"
	"github.com/netconform/netconform/internal/scrape"
)

// A real Prometheus server (Debian's package), started on loopback, scrapes the manager
// and evaluates the shipped alert rules. Only the `for:` durations are shortened, to
// alertFor, so that the suites wait seconds instead of minutes.
const (
	alertFor       = 10 * time.Second
	scrapeInterval = time.Second
)

var promServer struct {
	once sync.Once
	p    *prometheusServer
	err  error
}

type prometheusServer struct {
	base string
	cmd  *exec.Cmd
	dir  string
}

// prometheus returns the suite's Prometheus, starting it on first use.
func prometheus(t *testing.T) *prometheusServer {
	t.Helper()
	promServer.once.Do(func() { promServer.p, promServer.err = startPrometheus(t.Context()) })
	if promServer.err != nil {
		t.Fatalf("starting Prometheus: %v", promServer.err)
	}
	return promServer.p
}

// stopPrometheus stops the suite's Prometheus, if one was started, keeping its log and
// rules with the failure artifacts when the suites failed.
func stopPrometheus(failed bool) {
	p := promServer.p
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	var policies networkingv1.NetworkPolicyList
	if k8s.List(context.Background(), &policies, client.MatchingLabels{e2eLabel: "true"}) == nil {
		for i := range policies.Items {
			if policies.Items[i].Name == scraperPolicy {
				_ = k8s.Delete(context.Background(), &policies.Items[i])
			}
		}
	}
	if failed && os.MkdirAll(cfg.artifacts, 0o755) == nil {
		for _, f := range []string{"prometheus.log", "prometheus.yml", "rules.yaml"} {
			if b, err := os.ReadFile(filepath.Join(p.dir, f)); err == nil {
				_ = os.WriteFile(filepath.Join(cfg.artifacts, f), b, 0o644)
			}
		}
	}
	_ = os.RemoveAll(p.dir)
}

func startPrometheus(ctx context.Context) (*prometheusServer, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, fmt.Errorf("no prometheus binary: install Debian's prometheus package (make test does, through hack/test-rules.sh)")
	}
	target, err := managerMetricsTarget(ctx)
	if err != nil {
		return nil, err
	}
	if err := allowScraper(ctx, target); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "netconform-prometheus-")
	if err != nil {
		return nil, err
	}
	if err := writeScraperToken(ctx, filepath.Join(dir, "token")); err != nil {
		return nil, err
	}
	if err := writePrometheusConfig(dir, target); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddress()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	p := &prometheusServer{base: "http://" + addr, cmd: cmd, dir: dir}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return p.get(ctx, "/-/ready", nil) == nil, nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("Prometheus on %s did not get ready within a minute (see %s)", addr, log.Name())
	}
	return p, nil
}

// managerMetricsTarget is the manager pod's metrics address: a pod on this machine.
func managerMetricsTarget(ctx context.Context) (string, error) {
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.MatchingLabels{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"}); err != nil {
		return "", fmt.Errorf("finding the manager pod: %w", err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			return net.JoinHostPort(p.Status.PodIP, strconv.Itoa(metricsserving.Port)), nil
		}
	}
	return "", fmt.Errorf("no running manager pod labelled app.kubernetes.io/component=manager")
}

// scraperPolicy lets the suites' Prometheus in to the manager's metrics.
const scraperPolicy = "e2e-prometheus-scrape"

// allowScraper lets the suites' Prometheus, on this machine's host network, through the
// manager's NetworkPolicy. Traffic from a pod's own node always gets in, but the manager
// may run on another node than this one: there the host is an address like any other,
// so it gets an ipBlock of the address it scrapes from.
func allowScraper(ctx context.Context, target string) error {
	conn, err := net.Dial("udp", target) // sends nothing: the kernel only picks the route
	if err != nil {
		return fmt.Errorf("finding the address that reaches the manager at %s: %w", target, err)
	}
	src := conn.LocalAddr().(*net.UDPAddr).IP.String()
	_ = conn.Close()
	labels := map[string]string{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"}
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.MatchingLabels(labels)); err != nil {
		return fmt.Errorf("finding the manager's namespace: %w", err)
	}
	if len(pods.Items) == 0 {
		return errors.New("finding the manager's namespace: no manager pod")
	}
	port := intstr.FromInt32(metricsserving.Port)
	policy := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: pods.Items[0].Namespace, Name: scraperPolicy, Labels: map[string]string{e2eLabel: "true"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: labels},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: src + "/32"}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
			}},
		},
	}
	// A leftover may name another address: replace it.
	if err := k8s.Delete(ctx, policy); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting an earlier %s: %w", scraperPolicy, err)
	}
	if err := k8s.Create(ctx, policy); err != nil {
		return fmt.Errorf("letting Prometheus at %s in to the manager's metrics: %w", src, err)
	}
	return nil
}

var forDuration = regexp.MustCompile(`(?m)^(\s+for:) \S+$`)

// scraperTokenTTL is how long the suites' Prometheus may scrape: longer than any run.
const scraperTokenTTL = 3 * time.Hour

// writeScraperToken gives the suites' Prometheus what a real one needs to scrape the
// manager: a service account bound to netconform-metrics-reader, whose token it sends.
// It runs on this machine's host network (see allowScraper).
func writeScraperToken(ctx context.Context, file string) error {
	ns := namespace("prometheus")
	err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{e2eLabel: "true"}}})
	if err != nil {
		return fmt.Errorf("creating namespace %s for the Prometheus service account: %w", ns, err)
	}
	id := scrape.Identity{Namespace: ns, Name: "prometheus", Labels: map[string]string{e2eLabel: "true"}}
	if err := scrape.Grant(ctx, clientset, id); err != nil {
		return err
	}
	token, err := scrape.Token(ctx, clientset, id, scraperTokenTTL)
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(token), 0o600)
}

// writePrometheusConfig writes a config that scrapes only the manager, over HTTPS with
// the token (the manager's certificate is self-signed), and the shipped rules with their
// `for:` shortened.
func writePrometheusConfig(dir, target string) error {
	rules, err := os.ReadFile(filepath.Join("..", "config", "prometheus", "rules.yaml"))
	if err != nil {
		return err
	}
	rules = forDuration.ReplaceAll(rules, []byte("$1 "+alertFor.String()))
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
rule_files: [rules.yaml]
scrape_configs:
  - job_name: netconform
    scheme: https
    tls_config:
      insecure_skip_verify: true
    authorization:
      credentials_file: token
    static_configs:
      - targets: [%[2]q]
`, scrapeInterval, target)
	return errors.Join(os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644),
		os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644))
}

func freeLoopbackAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (p *prometheusServer) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// alert is one entry of Prometheus' /api/v1/alerts.
type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts lists the alerts named name whose labels include match, pending or firing.
func (p *prometheusServer) alerts(ctx context.Context, name string, match map[string]string) ([]alert, error) {
	var body struct {
		Data struct {
			Alerts []alert `json:"alerts"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/alerts", &body); err != nil {
		return nil, err
	}
	var out []alert
	for _, a := range body.Data.Alerts {
		if a.Labels["alertname"] == name && labelsMatch(a.Labels, match) {
			out = append(out, a)
		}
	}
	return out, nil
}

func labelsMatch(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// query runs an instant query and returns how many series it gave.
func (p *prometheusServer) query(ctx context.Context, expr string) (int, error) {
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(expr), &body); err != nil {
		return 0, err
	}
	return len(body.Data.Result), nil
}

// waitForAlert waits until the alert fires (firing) or is gone (!firing) and returns when.
func (p *prometheusServer) waitForAlert(t *testing.T, timeout time.Duration, name string, match map[string]string, firing bool) time.Time {
	t.Helper()
	state := "nothing yet"
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		as, err := p.alerts(ctx, name, match)
		if err != nil {
			state = err.Error()
			return false, nil //nolint:nilerr // Prometheus may be busy; look again
		}
		state = fmt.Sprintf("%d matching alerts: %+v", len(as), as)
		if !firing {
			return len(as) == 0, nil
		}
		for _, a := range as {
			if a.State == "firing" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		verb := "fire"
		if !firing {
			verb = "resolve"
		}
		t.Fatalf("alert %s %v did not %s within %s: %s", name, match, verb, timeout, state)
	}
	return time.Now()
}

// waitForSeries waits until Prometheus has scraped series for the query.
func (p *prometheusServer) waitForSeries(t *testing.T, expr string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := p.query(ctx, expr)
		return err == nil && n > 0, nil
	})
	if err != nil {
		t.Fatalf("Prometheus has no series for %s after a minute: is it scraping the manager?", expr)
	}
}
