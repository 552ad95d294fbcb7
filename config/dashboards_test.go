package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// The PromQL parser (github.com/prometheus/prometheus) is not in the module graph, so
// metric names are found by their prefix.
var (
	queryMetricRE    = regexp.MustCompile(`\bnetconform_[a-z_]+`)
	exportedMetricRE = regexp.MustCompile(`(?:prometheus\.NewDesc\(\s*|\bName:\s*)"(netconform_[a-z_]+)"`)
)

// TestQueriesUseExportedMetrics fails when an alert, or a query or variable of the
// Grafana dashboard, names a metric that controllers/metrics.go does not export.
func TestQueriesUseExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	queries := map[string][]string{
		"prometheus/rules.yaml":             ruleExprs(t, ruleGroups(t, "prometheus/rules.yaml", false)),
		"prometheus/prometheusrule.yaml":    ruleExprs(t, ruleGroups(t, "prometheus/prometheusrule.yaml", true)),
		"grafana/netconform-dashboard.json": dashboardQueries(t, "grafana/netconform-dashboard.json"),
	}
	for file, exprs := range queries {
		if len(exprs) == 0 {
			t.Errorf("%s: no queries found", file)
		}
		for _, expr := range exprs {
			names := queryMetricRE.FindAllString(expr, -1)
			if len(names) == 0 {
				t.Errorf("%s: query names no netconform metric: %s", file, expr)
			}
			for _, name := range names {
				if !exported[name] && !exported[histogramBase(name)] {
					t.Errorf("%s: query names %s, which the manager does not export: %s", file, name, expr)
				}
			}
		}
	}
}

// TestPrometheusRuleMatchesRules fails when the generated PrometheusRule falls behind
// rules.yaml: run `go run ./hack/gen-prometheus`.
func TestPrometheusRuleMatchesRules(t *testing.T) {
	want := ruleGroups(t, "prometheus/rules.yaml", false)
	got := ruleGroups(t, "prometheus/prometheusrule.yaml", true)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("prometheus/prometheusrule.yaml differs from prometheus/rules.yaml: run `go run ./hack/gen-prometheus`")
	}
}

// TestServiceMonitorSelectsMetricsService checks the ServiceMonitor against the
// manager's metrics Service: namespace, labels and port name.
func TestServiceMonitorSelectsMetricsService(t *testing.T) {
	var sm struct {
		Metadata struct{ Namespace string }
		Spec     struct {
			NamespaceSelector struct{ MatchNames []string } `json:"namespaceSelector"`
			Selector          struct {
				MatchLabels map[string]string `json:"matchLabels"`
			}
			Endpoints []struct{ Port string }
		}
	}
	readYAML(t, "prometheus/servicemonitor.yaml", &sm)
	raw, err := os.ReadFile(filepath.Join("manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var svc struct {
			Kind     string
			Metadata struct {
				Name, Namespace string
				Labels          map[string]string
			}
			Spec struct{ Ports []struct{ Name string } }
		}
		if err := sigsyaml.Unmarshal([]byte(doc), &svc); err != nil {
			t.Fatalf("manager/manager.yaml: %v", err)
		}
		if svc.Kind != "Service" || svc.Metadata.Name != "netconform-manager-metrics" {
			continue
		}
		if !reflect.DeepEqual(sm.Spec.NamespaceSelector.MatchNames, []string{svc.Metadata.Namespace}) {
			t.Errorf("ServiceMonitor namespaces %v, Service is in %s", sm.Spec.NamespaceSelector.MatchNames, svc.Metadata.Namespace)
		}
		for k, v := range sm.Spec.Selector.MatchLabels {
			if svc.Metadata.Labels[k] != v {
				t.Errorf("ServiceMonitor selects %s=%s, Service has labels %v", k, v, svc.Metadata.Labels)
			}
		}
		ports := map[string]bool{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = true
		}
		if len(sm.Spec.Endpoints) == 0 {
			t.Error("ServiceMonitor has no endpoints")
		}
		for _, e := range sm.Spec.Endpoints {
			if !ports[e.Port] {
				t.Errorf("ServiceMonitor endpoint port %q is not a port of the Service", e.Port)
			}
		}
		return
	}
	t.Fatal("manager/manager.yaml has no Service netconform-manager-metrics")
}

// exportedMetrics reads the metric names out of the manager's metrics source.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "controllers", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range exportedMetricRE.FindAllStringSubmatch(string(src), -1) {
		names[m[1]] = true
	}
	if len(names) == 0 {
		t.Fatal("controllers/metrics.go: no metric names found")
	}
	return names
}

// histogramBase strips the series suffixes a histogram adds to its name.
func histogramBase(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base
		}
	}
	return name
}

// ruleGroups returns the rule groups of a plain rule file, or of a PrometheusRule's spec.
func ruleGroups(t *testing.T, file string, prometheusRule bool) []any {
	t.Helper()
	if !prometheusRule {
		var rules struct{ Groups []any }
		readYAML(t, file, &rules)
		return rules.Groups
	}
	var pr struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name, Namespace string }
		Spec       struct{ Groups []any }
	}
	readYAML(t, file, &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" ||
		pr.Metadata.Name != "netconform" || pr.Metadata.Namespace != "netconform-system" {
		t.Errorf("%s: want PrometheusRule netconform-system/netconform, got %s %s/%s",
			file, pr.Kind, pr.Metadata.Namespace, pr.Metadata.Name)
	}
	return pr.Spec.Groups
}

// ruleExprs returns every rule's expr.
func ruleExprs(t *testing.T, groups []any) []string {
	t.Helper()
	var exprs []string
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			expr, ok := r.(map[string]any)["expr"].(string)
			if !ok {
				t.Errorf("rule without an expr: %v", r)
			}
			exprs = append(exprs, expr)
		}
	}
	return exprs
}

// dashboardQueries returns every panel target's expr and every query variable's query.
func dashboardQueries(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Type  string
				Query json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var queries []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no queries", file, p.Title)
		}
		for _, target := range p.Targets {
			queries = append(queries, target.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("%s: variable query: %v", file, err)
		}
		queries = append(queries, q.Query)
	}
	sort.Strings(queries)
	return queries
}

func readYAML(t *testing.T, file string, into any) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
