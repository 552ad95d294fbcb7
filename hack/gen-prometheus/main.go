// Command gen-prometheus writes config/prometheus/prometheusrule.yaml, a prometheus-operator
// PrometheusRule, from config/prometheus/rules.yaml, the plain Prometheus rule file that is
// the one source of netconform's alerts. Run it from the repository root:
//
//	go run ./hack/gen-prometheus
package main

import (
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

const header = "# generated from rules.yaml by hack/gen-prometheus; do not edit\n"

func main() {
	in := flag.String("in", "config/prometheus/rules.yaml", "plain Prometheus rule file to read")
	out := flag.String("out", "config/prometheus/prometheusrule.yaml", "PrometheusRule manifest to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-prometheus:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	manifest, err := render(src)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, manifest, 0o644)
}

// render wraps the groups of a plain rule file in a PrometheusRule.
func render(src []byte) ([]byte, error) {
	var rules struct {
		Groups []any `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(src, &rules); err != nil {
		return nil, err
	}
	if len(rules.Groups) == 0 {
		return nil, fmt.Errorf("no rule groups")
	}
	obj := map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata": map[string]any{
			"name":      "netconform",
			"namespace": "netconform-system",
			"labels":    map[string]string{"app.kubernetes.io/name": "netconform"},
		},
		"spec": map[string]any{"groups": rules.Groups},
	}
	body, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), body...), nil
}
