package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestAPIServerRejectsMalformedTests applies malformed tests to a real API server and
// checks that the CRD's schema and CEL rules answer with messages that name the fix.
func TestAPIServerRejectsMalformedTests(t *testing.T) {
	requireAPIServer(t)
	const okEdge = `{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 80}}, expect: Allow}`
	cases := []struct {
		name string
		spec string
		want []string
	}{
		{"no destination", `edges: [{name: e1, from: {namespace: a}, to: {}, expect: Allow}]`,
			[]string{"spec.edges[0].to", "to must set exactly one of service, pods, host or dns"}},
		{"two destinations", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: a.example, port: 1}, dns: {name: a.example}}, expect: Allow}]`,
			[]string{"to must set exactly one of service, pods, host or dns"}},
		{"port zero", `edges: [{name: e1, from: {namespace: a}, to: {service: {name: s, namespace: a, port: 0}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.service.port", "port must be a number from 1 to 65535 or a port name"}},
		{"port too high", `edges: [{name: e1, from: {namespace: a}, to: {pods: {namespace: a, podLabels: {app: x}, port: 70000}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.pods.port", "port must be a number from 1 to 65535"}},
		{"bad port name", `edges: [{name: e1, from: {namespace: a}, to: {service: {name: s, namespace: a, port: Http_Port}}, expect: Allow}]`,
			[]string{"port must be a number from 1 to 65535 or a port name"}},
		{"host port out of range", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 65536}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.host.port", "65535"}},
		{"duplicate edge names", `edges: [` + okEdge + `, ` + okEdge + `]`,
			[]string{"spec.edges[1]", "Duplicate value"}},
		{"dns with protocol", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, protocol: UDP, expect: Allow}]`,
			[]string{"a dns destination takes no protocol: remove protocol from this edge"}},
		{"dns with port", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default, port: 53}}, expect: Allow}]`,
			[]string{`unknown field "spec.edges[0].to.dns.port"`}},
		{"missing expect", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}}]`,
			[]string{"spec.edges[0].expect", "Required value"}},
		{"unknown expect", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, expect: Maybe}]`,
			[]string{"spec.edges[0].expect", `supported values: "Allow", "Deny"`}},
		{"unknown protocol", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: a.example, port: 1}}, protocol: SCTP, expect: Allow}]`,
			[]string{"spec.edges[0].protocol", `supported values: "TCP", "UDP"`}},
		{"no edges", `edges: []`, []string{"spec.edges", "at least 1 items"}},
		{"reserved label prefix", `edges: [{name: e1, from: {namespace: a, podLabels: {netconform.io/run: x}}, to: {dns: {name: a.example}}, expect: Allow}]`,
			[]string{"podLabels must not use the netconform.io/ prefix"}},
		{"timeout zero", `probeTimeoutSeconds: 0
edges: [` + okEdge + `]`, []string{"spec.probeTimeoutSeconds", "greater than or equal to 1"}},
		{"too many attempts", `attempts: 11
edges: [` + okEdge + `]`, []string{"spec.attempts", "less than or equal to 10"}},
		{"edge name with capitals", `edges: [{name: Front-To-Back, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]`,
			[]string{"spec.edges[0].name", "should match"}},
		{"host with a scheme", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: "https://api.example.com", port: 443}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.host.host", "should match"}},
		{"too many edges", manyEdges(2001), []string{"spec.edges", "must have at most 2000 items"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := applyTest(fmt.Sprintf("malformed-%d", i), tc.spec)
			if err == nil {
				t.Fatalf("the API server accepted %s", tc.spec)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\n does not contain %q", err, want)
				}
			}
		})
	}
}

func TestAPIServerDefaultsAValidTest(t *testing.T) {
	requireAPIServer(t)
	spec := `edges:
- {name: web-to-db, from: {namespace: shop, podLabels: {app: web}}, to: {service: {name: db, namespace: shop, port: postgres}}, expect: Deny}
- {name: web-to-dns, from: {namespace: shop}, to: {dns: {name: kubernetes.default.svc.cluster.local}}, expect: Allow}
- {name: web-to-api, from: {namespace: shop}, to: {host: {host: "fd00::1", port: 443}}, expect: Allow}`
	if err := applyTest("defaults", spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k8s.Delete(context.Background(), &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: "defaults"}})
	})
	rt := getTest(t, "defaults")
	if rt.Spec.ProbeTimeoutSeconds != 2 || rt.Spec.Attempts != 3 {
		t.Errorf("defaults: probeTimeoutSeconds %d attempts %d, want 2 and 3", rt.Spec.ProbeTimeoutSeconds, rt.Spec.Attempts)
	}
}

// applyTest creates a test from the YAML of its spec with strict field validation, as
// kubectl does.
func applyTest(name, spec string) error {
	var specMap map[string]any
	if err := yaml.Unmarshal([]byte(spec), &specMap); err != nil {
		return fmt.Errorf("test case YAML: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "ReachabilityTest",
		"metadata":   map[string]any{"name": name},
		"spec":       specMap,
	}}
	return k8s.Create(context.Background(), u, client.FieldValidation("Strict"))
}

func manyEdges(n int) string {
	var b strings.Builder
	b.WriteString("edges:\n")
	for i := range n {
		fmt.Fprintf(&b, "- {name: e%d, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 80}}, expect: Allow}\n", i)
	}
	return b.String()
}
