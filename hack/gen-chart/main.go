// Command gen-chart writes the Helm chart's templates for the manifests that are generated
// or long (the CRD, the manager's ClusterRole, the admission policies, the PrometheusRule)
// from their sources in config/, and copies the Grafana dashboard into the chart, so that
// the chart and kustomize install the same objects. Run it from the repository root:
//
//	go run ./hack/gen-chart
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// source is one manifest of config/ and how it becomes a chart template.
type source struct {
	from, to string
	// namespace replaces netconform-system, a Go template expression; empty leaves it.
	namespace string
	// labels is the template expression of the labels added to every object's metadata.
	labels string
	// annotations, when set, is added to the objects' existing metadata.annotations.
	annotations string
	// when, when set, renders the template only if this condition holds.
	when string
}

const helmLabels = `{{- include "netconform.labels" . | nindent 4 }}`

var sources = []source{
	{from: "config/crd/bases/netconform.io_reachabilitytests.yaml", to: "templates/crd.yaml", labels: helmLabels,
		annotations: "{{- if .Values.crds.keep }}\n    helm.sh/resource-policy: keep\n    {{- end }}"},
	{from: "config/rbac/role.yaml", to: "templates/rbac/manager-clusterrole.yaml", labels: helmLabels},
	{from: "config/admission/probe-pods.yaml", to: "templates/admission/probe-pods.yaml", labels: helmLabels,
		namespace: "{{ .Release.Namespace }}"},
	// Every netconform-system of these policies is the default canary namespace.
	{from: "config/admission/reachabilitytest-author.yaml", to: "templates/admission/reachabilitytest-author.yaml",
		labels: helmLabels, namespace: `{{ include "netconform.canaryNamespace" . }}`},
	{from: "config/admission/reachabilitytest-reads-nodes.yaml", to: "templates/admission/reachabilitytest-reads-nodes.yaml",
		labels: helmLabels},
	{from: "config/prometheus/prometheusrule.yaml", to: "templates/prometheusrule.yaml",
		labels:    helmLabels + "\n    {{- with .Values.metrics.prometheusRule.labels }}{{ toYaml . | nindent 4 }}{{ end }}",
		namespace: "{{ .Release.Namespace }}", when: ".Values.metrics.prometheusRule.enabled"},
}

// copies are files the chart holds as they are, read with .Files.Get.
var copies = [][2]string{
	{"config/grafana/netconform-dashboard.json", "files/netconform-dashboard.json"},
}

func main() {
	chart := flag.String("chart", "charts/netconform", "chart directory to write into")
	flag.Parse()
	if err := run(*chart); err != nil {
		fmt.Fprintln(os.Stderr, "gen-chart:", err)
		os.Exit(1)
	}
}

func run(chart string) error {
	for _, s := range sources {
		raw, err := os.ReadFile(s.from)
		if err != nil {
			return err
		}
		out, err := s.template(string(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", s.from, err)
		}
		if err := write(filepath.Join(chart, s.to), out); err != nil {
			return err
		}
	}
	for _, c := range copies {
		raw, err := os.ReadFile(c[0])
		if err != nil {
			return err
		}
		if err := write(filepath.Join(chart, c[1]), string(raw)); err != nil {
			return err
		}
	}
	return nil
}

func write(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// template turns a manifest into a chart template: text that Helm would read as template
// actions is escaped, the namespace is replaced and labels are added to each object.
func (s source) template(manifest string) (string, error) {
	text := strings.ReplaceAll(manifest, "{{", `{{ "{{" }}`)
	if s.namespace != "" {
		text = strings.ReplaceAll(text, "netconform-system", s.namespace)
	}
	var docs []string
	for _, doc := range strings.Split(text, "\n---\n") {
		doc, err := s.decorate(doc)
		if err != nil {
			return "", err
		}
		docs = append(docs, doc)
	}
	body := strings.Join(docs, "\n---\n")
	header := fmt.Sprintf("# generated from %s by hack/gen-chart; do not edit\n", s.from)
	if s.when != "" {
		return header + "{{- if " + s.when + " }}\n" + strings.TrimSuffix(body, "\n") + "\n{{- end }}\n", nil
	}
	return header + body, nil
}

// decorate adds the labels, and the annotations if any, to the metadata of one object.
func (s source) decorate(doc string) (string, error) {
	lines := strings.Split(doc, "\n")
	meta := indexOf(lines, "metadata:", 0, len(lines))
	if meta < 0 {
		if strings.TrimSpace(stripComments(doc)) == "" {
			return doc, nil
		}
		return "", fmt.Errorf("an object without metadata")
	}
	end := meta + 1
	for end < len(lines) && strings.HasPrefix(lines[end], "  ") {
		end++
	}
	var out []string
	out = append(out, lines[:meta+1]...)
	labelsAt := indexOf(lines, "  labels:", meta+1, end)
	annotationsAt := indexOf(lines, "  annotations:", meta+1, end)
	if s.annotations != "" && annotationsAt < 0 {
		return "", fmt.Errorf("object has no metadata.annotations to add to")
	}
	if labelsAt < 0 {
		out = append(out, "  labels:", "    "+s.labels)
	}
	for i := meta + 1; i < len(lines); i++ {
		out = append(out, lines[i])
		switch {
		case i == labelsAt:
			out = append(out, "    "+s.labels)
		case i == annotationsAt && s.annotations != "":
			out = append(out, "    "+s.annotations)
		}
	}
	return strings.Join(out, "\n"), nil
}

// indexOf is the index of the line equal to want in lines[from:to], or -1.
func indexOf(lines []string, want string, from, to int) int {
	for i := from; i < to; i++ {
		if lines[i] == want {
			return i
		}
	}
	return -1
}

func stripComments(doc string) string {
	var keep []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
