//go:build e2e

// Package e2e holds the end-to-end suites: the classic NetworkPolicy scenarios, run
// against any cluster (KUBECONFIG) where netconform is already deployed.
//
//	go test -tags e2e ./e2e/ -count=1 -v -timeout 30m
//
// On the enforcing profile every declared edge must behave as declared; on the noop
// profile (a cluster that enforces nothing) the same suites must catch every Deny edge;
// on the partial profile (one node without an enforcer, NETCONFORM_E2E_OPEN_NODE) they
// must catch exactly the Deny edges whose denial sits on that node.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/policykinds"
)

// profile is the kind of cluster the suites run on.
type profile string

const (
	// enforcing: a NetworkPolicy enforcer runs; every edge must behave as declared.
	enforcing profile = "enforcing"
	// noop: no enforcer; policies are stored and nothing happens, so the suites must
	// see every Deny edge fail with Connected.
	noop profile = "noop"
	// partial: an enforcer on every node but one, the open node; the suites must see
	// the Deny edges whose denial the open node should apply fail with Connected, and
	// every other edge behave as declared.
	partial profile = "partial"
)

const (
	// e2eLabel marks everything the suites create, so a later run can remove leftovers.
	e2eLabel = "netconform.io/e2e"
	// waitTimeout bounds every wait: pods, endpoints, runs, clean-up.
	waitTimeout = 3 * time.Minute
	// pollInterval is how often waits look again.
	pollInterval = time.Second
)

// config is what the environment tells the suites.
type config struct {
	profile       profile
	image         string // the netconform image fixtures run: `netconform serve`
	artifacts     string // where state is saved when something fails
	keep          bool   // keep namespaces and tests after the suite
	externalHost  string // an off-cluster test host serving TCP
	externalPort  int32
	clusterDomain string
	// namespacePrefix is put before every namespace the suites create, for clusters that
	// already use the scenarios' names (a real ingress-nginx, or `make demo`'s bookstore).
	namespacePrefix string
	// openNode is the node without an enforcer, on the partial profile.
	openNode string
	// nodes are the schedulable nodes, sorted by name, as the suites found them.
	nodes []string
}

var (
	cfg       config
	k8s       client.Client
	clientset kubernetes.Interface
	// policyKinds says which policy kinds beyond NetworkPolicy the cluster serves.
	policyKinds policykinds.Source
)

// tally counts what the closing line reports.
var tally struct {
	sync.Mutex
	scenarios, edges, asExpected int
	// crossNode counts edges whose probe ran on another node than every destination it
	// may have reached; caught, Deny edges reported as let through, and caughtOnOpen,
	// those of them with an end on the open node.
	crossNode, caught, caughtOnOpen int
	// predicted counts edges the policies settled; agreed, those the dataplane agreed with.
	predicted, agreed int
	// findings are closing lines of the canary and alert suites, "key=value ...".
	findings []string
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuites(m))
}

func runSuites(m *testing.M) int {
	var err error
	if cfg, err = loadConfig(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 2
	}
	if err := connect(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	if err := preflight(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 2
	}
	if err := deleteE2EObjects(ctx, true); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: removing leftovers of an earlier run: %v\n", err)
		return 2
	}
	if cfg.artifacts == "" {
		if cfg.artifacts, err = os.MkdirTemp("", "netconform-e2e-"); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: creating a folder for failure artifacts (or set NETCONFORM_E2E_ARTIFACTS): %v\n", err)
			return 2
		}
	}
	fmt.Printf("e2e: profile=%s nodes=%s open-node=%s image=%s external=%s:%d artifacts on failure: %s\n",
		cfg.profile, strings.Join(cfg.nodes, ","), cfg.openNode, cfg.image, cfg.externalHost, cfg.externalPort, cfg.artifacts)
	stop := make(chan struct{})
	defer close(stop)
	if probePlacements, err = watchPlacements(ctx, stop); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 2
	}

	code := m.Run()
	stopPrometheus(code != 0)

	if cfg.keep {
		fmt.Printf("e2e: NETCONFORM_E2E_KEEP=1: kept the namespaces and ReachabilityTests labelled %s=true\n", e2eLabel)
	} else {
		cleanup, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := deleteE2EObjects(cleanup, false); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: clean-up: %v\n", err)
		}
	}
	tally.Lock()
	fmt.Println(summaryLine())
	if problem := spreadProblem(); problem != "" {
		fmt.Printf("e2e profile=%s FAIL: %s\n", cfg.profile, problem)
		code = max(code, 1)
	}
	fmt.Printf("e2e profile=%s predicted=%d prediction-matches-dataplane=%d\n", cfg.profile, tally.predicted, tally.agreed)
	for _, f := range tally.findings {
		fmt.Printf("e2e profile=%s %s\n", cfg.profile, f)
	}
	tally.Unlock()
	return code
}

func loadConfig() (config, error) {
	c := config{
		profile:         profile(envOr("NETCONFORM_E2E_PROFILE", string(enforcing))),
		image:           envOr("NETCONFORM_IMAGE", "netconform:e2e"),
		artifacts:       os.Getenv("NETCONFORM_E2E_ARTIFACTS"),
		keep:            os.Getenv("NETCONFORM_E2E_KEEP") == "1",
		externalHost:    envOr("NETCONFORM_E2E_EXTERNAL_HOST", "api.partner.example"),
		clusterDomain:   envOr("NETCONFORM_E2E_CLUSTER_DOMAIN", "cluster.local"),
		namespacePrefix: os.Getenv("NETCONFORM_E2E_NAMESPACE_PREFIX"),
	}
	if p := c.namespacePrefix; p != "" && (len(p) > 40 || !namespacePrefixPattern.MatchString(p)) {
		return c, fmt.Errorf("NETCONFORM_E2E_NAMESPACE_PREFIX=%q: want at most 40 lowercase letters, digits and '-', starting with a letter, such as e2e-", p)
	}
	if c.profile != enforcing && c.profile != noop && c.profile != partial {
		return c, fmt.Errorf("NETCONFORM_E2E_PROFILE=%q: want %q, %q or %q", c.profile, enforcing, noop, partial)
	}
	c.openNode = os.Getenv("NETCONFORM_E2E_OPEN_NODE")
	if (c.profile == partial) != (c.openNode != "") {
		return c, fmt.Errorf("NETCONFORM_E2E_OPEN_NODE=%q on profile %s: set it to the node without an enforcer on the partial profile only (e2e/run.sh reads it from the cluster's open-node file)", c.openNode, c.profile)
	}
	port, err := strconv.ParseInt(envOr("NETCONFORM_E2E_EXTERNAL_PORT", "443"), 10, 32)
	if err != nil || port < 1 || port > 65535 {
		return c, fmt.Errorf("NETCONFORM_E2E_EXTERNAL_PORT=%q: want a port number from 1 to 65535", os.Getenv("NETCONFORM_E2E_EXTERNAL_PORT"))
	}
	c.externalPort = int32(port)
	return c, nil
}

var namespacePrefixPattern = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)

// namespace is the name of a scenario's namespace on this cluster.
func namespace(name string) string {
	return cfg.namespacePrefix + name
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func connect() error {
	rest, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no kubeconfig (KUBECONFIG=%q): %w; set KUBECONFIG to the kubeconfig of a cluster where netconform is deployed", os.Getenv("KUBECONFIG"), err)
	}
	rest.QPS, rest.Burst = 50, 100
	rest.Timeout = 30 * time.Second
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := policykinds.AddToScheme(scheme); err != nil {
		return err
	}
	if err := orv1.Install(scheme); err != nil {
		return err
	}
	if policyKinds, err = policykinds.NewDiscoverer(rest); err != nil {
		return err
	}
	if k8s, err = client.New(rest, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("a client for the cluster of KUBECONFIG=%q: %w", os.Getenv("KUBECONFIG"), err)
	}
	if clientset, err = kubernetes.NewForConfig(rest); err != nil {
		return err
	}
	if _, err := clientset.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("cannot reach the cluster of KUBECONFIG=%q (%s): %w; start a cluster (make cluster-up) or point KUBECONFIG at one where netconform is deployed", os.Getenv("KUBECONFIG"), rest.Host, err)
	}
	return nil
}

// preflight fails fast, with the fix, when the cluster cannot run the suites.
func preflight(ctx context.Context) error {
	if err := k8s.List(ctx, &v1alpha1.ReachabilityTestList{}, client.Limit(1)); err != nil {
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("the ReachabilityTest CRD is not installed: deploy netconform first (kubectl apply -k config/default)")
		}
		return fmt.Errorf("listing ReachabilityTests: %w", err)
	}
	var dns corev1.PodList
	if err := k8s.List(ctx, &dns, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": "kube-dns"}); err != nil {
		return fmt.Errorf("listing the cluster DNS pods: %w", err)
	}
	if len(dns.Items) == 0 {
		return fmt.Errorf("no pods labelled k8s-app=kube-dns in kube-system: the suites' DNS egress policies select the cluster DNS by that label")
	}
	var err error
	if cfg.nodes, err = waitForNodes(ctx, os.Getenv("NETCONFORM_E2E_NODES")); err != nil {
		return err
	}
	if cfg.openNode != "" && !slices.Contains(cfg.nodes, cfg.openNode) {
		return fmt.Errorf("NETCONFORM_E2E_OPEN_NODE=%s is not among the schedulable nodes %v: name the node that runs no enforcer", cfg.openNode, cfg.nodes)
	}
	state := "no Deployment labelled app.kubernetes.io/name=netconform,app.kubernetes.io/component=manager"
	err = wait.PollUntilContextTimeout(ctx, pollInterval, waitTimeout, true, func(ctx context.Context) (bool, error) {
		var deps appsv1.DeploymentList
		err := k8s.List(ctx, &deps, client.MatchingLabels{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"})
		if err != nil {
			state = err.Error()
		}
		for _, d := range deps.Items {
			if d.Status.AvailableReplicas > 0 {
				return true, nil
			}
			state = fmt.Sprintf("Deployment %s/%s has no available replica", d.Namespace, d.Name)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the netconform manager is not running (%s after %s): deploy it first (kubectl apply -k config/default)", state, waitTimeout)
	}
	return nil
}

// deleteE2EObjects removes the ReachabilityTests, ClusterRoleBindings and namespaces
// labelled e2e=true and, when wait is set, waits until the tests and namespaces are gone,
// so a run starts from a clean cluster.
func deleteE2EObjects(ctx context.Context, wait bool) error {
	sel := client.MatchingLabels{e2eLabel: "true"}
	if err := k8s.DeleteAllOf(ctx, &v1alpha1.ReachabilityTest{}, sel); err != nil {
		return fmt.Errorf("deleting ReachabilityTests: %w", err)
	}
	if err := k8s.DeleteAllOf(ctx, &rbacv1.ClusterRoleBinding{}, sel); err != nil {
		return fmt.Errorf("deleting ClusterRoleBindings: %w", err)
	}
	var nss corev1.NamespaceList
	if err := k8s.List(ctx, &nss, sel); err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	for i := range nss.Items {
		if err := client.IgnoreNotFound(k8s.Delete(ctx, &nss.Items[i])); err != nil {
			return fmt.Errorf("deleting namespace %s: %w", nss.Items[i].Name, err)
		}
	}
	if !wait {
		return nil
	}
	left := ""
	err := pollUntil(ctx, func(ctx context.Context) (bool, error) {
		var rts v1alpha1.ReachabilityTestList
		var nss corev1.NamespaceList
		err := errors.Join(k8s.List(ctx, &rts, sel), k8s.List(ctx, &nss, sel))
		left = fmt.Sprintf("%d ReachabilityTests and %d namespaces", len(rts.Items), len(nss.Items))
		if err != nil {
			left = "ReachabilityTests or namespaces (" + err.Error() + ")"
		}
		return err == nil && len(rts.Items) == 0 && len(nss.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s labelled %s=true still exist after %s", left, e2eLabel, waitTimeout)
	}
	return nil
}

// pollUntil polls cond every pollInterval for at most waitTimeout.
func pollUntil(ctx context.Context, cond wait.ConditionWithContextFunc) error {
	return wait.PollUntilContextTimeout(ctx, pollInterval, waitTimeout, true, cond)
}

// countScenario records one scenario for the closing line and returns its number.
func countScenario() int {
	tally.Lock()
	defer tally.Unlock()
	tally.scenarios++
	return tally.scenarios
}

// report adds a closing line.
func report(format string, args ...any) {
	tally.Lock()
	defer tally.Unlock()
	tally.findings = append(tally.findings, fmt.Sprintf(format, args...))
}

// countEdges records checked edge results and how many were as expected.
func countEdges(checked int, c runCounts) {
	tally.Lock()
	defer tally.Unlock()
	tally.edges += checked
	tally.asExpected += c.asExpected
	tally.predicted += c.predicted
	tally.agreed += c.agreed
	tally.crossNode += c.crossNode
	tally.caught += c.caught
	tally.caughtOnOpen += c.caughtOnOpen
}

// summaryLine is the profile's closing line; on partial it says how many Deny edges the
// suites caught and how many of them had an end on the open node. The tally is locked.
func summaryLine() string {
	line := fmt.Sprintf("e2e profile=%s nodes=%d scenarios=%d edges=%d cross-node=%d as-expected=%d",
		cfg.profile, len(cfg.nodes), tally.scenarios, tally.edges, tally.crossNode, tally.asExpected)
	if cfg.profile == partial {
		line += fmt.Sprintf(" caught=%d caught-on-open-node=%d open-node=%s", tally.caught, tally.caughtOnOpen, cfg.openNode)
	}
	return line
}

// spreadProblem says what is wrong when a full run on several nodes crossed nodes on
// fewer than half its edges: the fixtures are spread so that most do. The tally is
// locked.
func spreadProblem() string {
	if len(cfg.nodes) < 2 || tally.edges == 0 || flag.Lookup("test.run").Value.String() != "" {
		return ""
	}
	if 2*tally.crossNode < tally.edges {
		return fmt.Sprintf("only %d of %d edges crossed nodes on %d nodes, want at least half: see how the fixtures are spread (e2e/spread_test.go)", tally.crossNode, tally.edges, len(cfg.nodes))
	}
	return ""
}
