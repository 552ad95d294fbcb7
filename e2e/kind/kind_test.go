// Package kind_test checks the kind + Calico files as far as a machine without Docker
// can: the cluster config decodes with kind's own types, the deploy overlay builds, and
// the Calico version is pinned in one place.
package kind_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// decodeKindConfig decodes as kind does: strictly, into its v1alpha4 types, defaulted.
func decodeKindConfig(data []byte) (*kindv1alpha4.Cluster, error) {
	var c kindv1alpha4.Cluster
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, err
	}
	kindv1alpha4.SetDefaultsCluster(&c)
	return &c, nil
}

func TestKindConfig(t *testing.T) {
	data, err := os.ReadFile("kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeKindConfig(data)
	if err != nil {
		t.Fatalf("kind-config.yaml does not decode with kind's v1alpha4 types: %v", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("kind %q apiVersion %q, want Cluster kind.x-k8s.io/v1alpha4", c.Kind, c.APIVersion)
	}
	// Calico replaces kind's CNI and assumes its default pod range.
	if !c.Networking.DisableDefaultCNI || c.Networking.PodSubnet != "192.168.0.0/16" {
		t.Errorf("networking %+v: want disableDefaultCNI and Calico's pod subnet 192.168.0.0/16", c.Networking)
	}
	var workers int
	for _, n := range c.Nodes {
		if n.Role == kindv1alpha4.WorkerRole {
			workers++
		}
	}
	if workers == 0 {
		t.Errorf("no worker node: the canary checks enforcement node by node and needs more than one")
	}

	// The decoding is strict: a misspelt key is an error.
	if _, err := decodeKindConfig(bytes.Replace(data, []byte("podSubnet"), []byte("podSubnets"), 1)); err == nil {
		t.Errorf("a config with podSubnets decoded: the test is not strict")
	}
}

// TestKindDeployBuilds builds the kind overlay with kubectl kustomize, as run.sh applies it.
func TestKindDeployBuilds(t *testing.T) {
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Skipf("no kubectl in KUBEBUILDER_ASSETS (%v): run make unit, which builds it", err)
	}
	out, err := exec.Command(kubectl, "kustomize", "deploy").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize e2e/kind/deploy: %v\n%s", err, out)
	}
	for _, want := range []string{"name: netconform-manager", "image: netconform:kind", "kind: CustomResourceDefinition"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the kind overlay's output lacks %q", want)
		}
	}
	if bytes.Contains(out, []byte("ghcr.io/netconform/netconform")) {
		t.Errorf("the kind overlay still names the published image; kind loads netconform:kind")
	}
}

// calicoVersion matches a Calico release written out: the pinned version or a URL of it.
var calicoVersion = regexp.MustCompile(`(?i)(calico\S*[/=:@ ]v?\d+\.\d+\.\d+|CALICO_VERSION\s*[=:]\s*v?\d)`)

// TestCalicoVersionInOnePlace: calico.env pins the version; the script and the workflow
// read it, and no other file of the repository writes one.
func TestCalicoVersionInOnePlace(t *testing.T) {
	files, err := exec.Command("git", "-C", "../..", "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("listing the repository's files: %v", err)
	}
	var pinned []string
	for _, f := range strings.Fields(string(files)) {
		data, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			continue // deleted in the work tree
		}
		if calicoVersion.Match(data) {
			pinned = append(pinned, f)
		}
	}
	if strings.Join(pinned, " ") != "e2e/kind/calico.env" {
		t.Errorf("files that write a Calico version: %q, want only e2e/kind/calico.env", pinned)
	}

	readers := map[string]string{
		"run.sh":               `. "$ROOT/e2e/kind/calico.env"`,
		"github-workflow.yaml": `e2e/kind/calico.env >>"$GITHUB_ENV"`,
		"../../README.md":      "e2e/kind/calico.env",
	}
	for file, want := range readers {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not read the pinned version (%s)", file, want)
		}
	}
}
