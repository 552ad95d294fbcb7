// Package krew holds the krew plugin manifest; its test checks it with krew's own
// validator.
package krew

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// validate runs krew's validate-krew-manifest (sigs.k8s.io/krew v0.4.3, the tool of the
// hack/krewcheck module) on a manifest, without the install step that would download
// the archives.
func validate(t *testing.T, manifest string) (string, error) {
	t.Helper()
	abs, err := filepath.Abs(manifest)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "-C", "../hack/krewcheck", "tool", "validate-krew-manifest", "-manifest", abs, "-skip-install")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestManifestPassesKrewValidation(t *testing.T) {
	if out, err := validate(t, "netconform.yaml"); err != nil {
		t.Fatalf("krew rejects netconform.yaml: %v\n%s", err, out)
	}
}

// The validator must be able to fail: a copy with a platform that names no binary, and
// one whose name differs from its file's, are refused.
func TestKrewValidationRejectsBrokenManifests(t *testing.T) {
	data, err := os.ReadFile("netconform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, broken := range map[string]string{
		"no binary":  strings.Replace(string(data), "      bin: netconform\n", "", 1),
		"wrong name": strings.Replace(string(data), "  name: netconform\n", "  name: netconform-other\n", 1),
	} {
		if broken == string(data) {
			t.Fatalf("%s: the edit did not apply", name)
		}
		path := filepath.Join(t.TempDir(), "netconform.yaml")
		if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := validate(t, path); err == nil {
			t.Errorf("%s: krew accepts it:\n%s", name, out)
		}
	}
}

// The manifest installs the binary of goreleaser's archives; krew links it as
// kubectl-netconform, the name by which the binary is the plugin.
func TestManifestInstallsThePlugin(t *testing.T) {
	data, err := os.ReadFile("netconform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if n := strings.Count(text, "bin: netconform\n"); n != 4 || strings.Count(text, "- selector:") != 4 {
		t.Errorf("want 4 platforms, each installing the netconform binary; got %d", n)
	}
	goreleaser, err := os.ReadFile("../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(goreleaser), "binary: netconform\n") || !strings.Contains(string(goreleaser), `name_template: "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}"`) {
		t.Error(".goreleaser.yaml no longer builds netconform_VERSION_OS_ARCH archives of the netconform binary, which the manifest installs")
	}
	if !strings.Contains(string(makefile), "bin/kubectl-netconform") {
		t.Error("the Makefile does not build bin/kubectl-netconform, the plugin's name for local use")
	}
}
