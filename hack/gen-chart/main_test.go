package main

import (
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	s := source{from: "in.yaml", labels: "LABELS", namespace: "NS", annotations: "ANNOTATIONS", when: "COND"}
	got, err := s.template(`# a comment
apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    a: b
  name: x
  namespace: netconform-system
data:
  alert: "{{ $labels.test }}"
---
kind: Secret
metadata:
  labels:
    app: x
  annotations:
    c: d
  name: y
`)
	if err != nil {
		t.Fatal(err)
	}
	want := `# generated from in.yaml by hack/gen-chart; do not edit
{{- if COND }}
# a comment
apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    LABELS
  annotations:
    ANNOTATIONS
    a: b
  name: x
  namespace: NS
data:
  alert: "{{ "{{" }} $labels.test }}"
---
kind: Secret
metadata:
  labels:
    LABELS
    app: x
  annotations:
    ANNOTATIONS
    c: d
  name: y
{{- end }}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTemplateRefusesWhatItCannotDecorate(t *testing.T) {
	for name, tc := range map[string]struct {
		s        source
		manifest string
	}{
		"no metadata":    {source{labels: "L"}, "kind: ConfigMap\ndata: {}\n"},
		"no annotations": {source{labels: "L", annotations: "A"}, "kind: ConfigMap\nmetadata:\n  name: x\n"},
	} {
		if _, err := tc.s.template(tc.manifest); err == nil || !strings.Contains(err.Error(), "metadata") {
			t.Errorf("%s: got %v, want an error about metadata", name, err)
		}
	}
}
