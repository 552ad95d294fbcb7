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
	"github.com/netconform/netconform/internal/testcases"
)

// TestAPIServerRejectsMalformedTests applies malformed tests to a real API server and
// checks that the CRD's schema and CEL rules answer with messages that name the fix.
func TestAPIServerRejectsMalformedTests(t *testing.T) {
	requireAPIServer(t)
	for i, tc := range testcases.MalformedSpecs() {
		t.Run(tc.Name, func(t *testing.T) {
			err := applyTest(fmt.Sprintf("malformed-%d", i), tc.Spec)
			if err == nil {
				t.Fatalf("the API server accepted %s", tc.Spec)
			}
			for _, want := range tc.Want {
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
