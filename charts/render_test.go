// Package charts holds the Helm chart of netconform; its tests render the chart with the
// helm binary and compare it with the kustomize manifests of config/.
package charts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

const (
	chartDir  = "netconform"
	release   = "netconform"
	namespace = "netconform-system"
)

// helmOnlyLabels are the labels the chart adds to every object and kustomize does not:
// they name the chart, its version and the release.
var helmOnlyLabels = []string{
	"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version",
}

// helmOnlyAnnotations mean something to Helm alone: keep the CRD and the namespace on
// `helm uninstall`.
var helmOnlyAnnotations = []string{"helm.sh/resource-policy"}

// object is one rendered Kubernetes object.
type object = map[string]any

// TestChartInstallsWhatKustomizeInstalls renders the chart with its default values and
// config/default with kustomize, and compares them object by object. The only
// differences allowed are Helm's own labels and annotations (helmOnlyLabels,
// helmOnlyAnnotations), removed from the chart's objects before comparing.
func TestChartInstallsWhatKustomizeInstalls(t *testing.T) {
	compare(t, render(t, "--namespace", namespace), kustomize(t, filepath.Join("..", "config", "default")))
}

// compare fails on every object one rendering has and the other has not, and on every
// difference between the objects both have, once Helm's own metadata is removed.
func compare(t *testing.T, helmObjects, kustomizeObjects []object) {
	t.Helper()
	fromHelm, fromKustomize := byKey(t, helmObjects), byKey(t, kustomizeObjects)
	if len(fromKustomize) < 20 {
		t.Fatalf("kustomize rendered %d objects: config/default lost its manifests", len(fromKustomize))
	}
	for key, want := range fromKustomize {
		got, ok := fromHelm[key]
		if !ok {
			t.Errorf("the chart does not install %s", key)
			continue
		}
		withoutHelmMetadata(got)
		if diffs := diff(want, got, ""); len(diffs) > 0 {
			t.Errorf("%s differs from kustomize's (chart vs kustomize):\n  %s", key, strings.Join(diffs, "\n  "))
		}
	}
	for key := range fromHelm {
		if _, ok := fromKustomize[key]; !ok {
			t.Errorf("the chart installs %s, which kustomize does not", key)
		}
	}
}

// render runs helm template on the chart with the given arguments.
func render(t *testing.T, args ...string) []object {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir}, args...)...)
	if err != nil {
		t.Fatalf("helm template %s: %v", strings.Join(args, " "), err)
	}
	return objects(t, out)
}

// helm runs the helm binary named by $NETCONFORM_HELM and returns its output; its
// error holds what helm printed on stderr.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := os.Getenv("NETCONFORM_HELM")
	if bin == "" {
		t.Fatal("NETCONFORM_HELM is not set: run `make unit`, or set it to the output of hack/helm.sh, which builds helm")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// kustomize renders a kustomization with the kubectl of $KUBEBUILDER_ASSETS.
func kustomize(t *testing.T, dir string) []object {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make unit`, which builds kubectl and sets it")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return objects(t, out)
}

// objects decodes a stream of YAML documents, skipping empty ones.
func objects(t *testing.T, stream []byte) []object {
	t.Helper()
	var out []object
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var obj object
		if err := dec.Decode(&obj); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("decoding rendered YAML: %v", err)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
}

// byKey indexes objects by kind, namespace and name, failing on a repeat.
func byKey(t *testing.T, objs []object) map[string]object {
	t.Helper()
	out := map[string]object{}
	for _, o := range objs {
		k := key(o)
		if _, dup := out[k]; dup {
			t.Errorf("%s is rendered twice", k)
		}
		out[k] = o
	}
	return out
}

func key(o object) string {
	meta, _ := o["metadata"].(object)
	ns, _ := meta["namespace"].(string)
	return fmt.Sprintf("%s %s/%s", o["kind"], ns, meta["name"])
}

func withoutHelmMetadata(o object) {
	meta, _ := o["metadata"].(object)
	for field, keys := range map[string][]string{"labels": helmOnlyLabels, "annotations": helmOnlyAnnotations} {
		m, ok := meta[field].(object)
		if !ok {
			continue
		}
		for _, k := range keys {
			delete(m, k)
		}
		if len(m) == 0 {
			delete(meta, field)
		}
	}
}

// diff lists the paths where two decoded objects differ, with both values.
func diff(want, got any, path string) []string {
	wm, wok := want.(object)
	gm, gok := got.(object)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		var out []string
		for _, k := range sortedKeys(keys) {
			out = append(out, diff(wm[k], gm[k], path+"."+k)...)
		}
		return out
	}
	wl, wok := want.([]any)
	gl, gok := got.([]any)
	if wok && gok && len(wl) == len(gl) {
		var out []string
		for i := range wl {
			out = append(out, diff(wl[i], gl[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []string{fmt.Sprintf("%s: kustomize %s, chart %s", path, compact(want), compact(got))}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func compact(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := sigsyaml.Marshal(v)
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// TestChartWithOpenReportsInstallsWhatKustomizeInstalls compares the chart with
// openReports.enabled and config/default with the config/openreports component, the same
// way as without it.
func TestChartWithOpenReportsInstallsWhatKustomizeInstalls(t *testing.T) {
	component, err := filepath.Abs(filepath.Join("..", "config", "openreports"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(component); err != nil {
		t.Skip("no config/openreports component in this tree to compare with")
	}
	base, err := filepath.Abs(filepath.Join("..", "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	// kustomize takes no absolute paths to other kustomizations.
	overlay := t.TempDir()
	relBase, err := filepath.Rel(overlay, base)
	if err != nil {
		t.Fatal(err)
	}
	relComponent, err := filepath.Rel(overlay, component)
	if err != nil {
		t.Fatal(err)
	}
	kustomization := fmt.Sprintf("resources:\n  - %s\ncomponents:\n  - %s\n", relBase, relComponent)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	compare(t, render(t, "--namespace", namespace, "--set", "openReports.enabled=true"), kustomize(t, overlay))
}
