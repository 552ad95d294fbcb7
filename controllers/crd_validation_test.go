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

// TestAPIServerRejectsMalformedTests applies the corpus of malformed tests to a real API
// server: the CRD's schema and CEL rules reject what the table says they reject, with
// messages that name the field and the fix; what only Go can judge (a cron schedule that
// never fires) is accepted, and left to the reconciler. Cases about files are the
// offline validator's alone.
func TestAPIServerRejectsMalformedTests(t *testing.T) {
	requireAPIServer(t)
	for i, tc := range testcases.MalformedSpecs() {
		if tc.RejectedBy == testcases.Reader {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			name := fmt.Sprintf("malformed-%d", i)
			err := applyTest(name, tc.Spec)
			if tc.RejectedBy == testcases.Go {
				if err != nil {
					t.Fatalf("the API server rejected a case the table leaves to Go: %v", err)
				}
				_ = k8s.Delete(context.Background(), &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}})
				return
			}
			if err == nil {
				t.Fatalf("the API server accepted %s", tc.Spec)
			}
			for _, want := range tc.Want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\n does not contain %q", truncate(err.Error(), 2000), want)
				}
			}
		})
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
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
	var specMap any
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
