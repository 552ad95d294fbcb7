package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"sigs.k8s.io/yaml"
)

// fakeDist writes a dist/ as goreleaser leaves it: metadata, artifacts and binaries.
func fakeDist(t *testing.T, version string) string {
	t.Helper()
	dist := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dist, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dist, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("metadata.json", `{"project_name":"netconform","version":"`+version+`","commit":"abc123"}`)
	write("artifacts.json", `[
 {"path":"`+dist+`/darwin_arm64/netconform","type":"Binary","goos":"darwin","goarch":"arm64"},
 {"path":"`+dist+`/linux_arm64/netconform","type":"Binary","goos":"linux","goarch":"arm64"},
 {"path":"`+dist+`/linux_amd64/netconform","type":"Binary","goos":"linux","goarch":"amd64"},
 {"path":"`+dist+`/netconform_linux_amd64.tar.gz","type":"Archive","goos":"linux","goarch":"amd64"}]`)
	for _, p := range []string{"darwin_arm64", "linux_arm64", "linux_amd64"} {
		write(p+"/netconform", "binary for "+p)
	}
	return dist
}

func TestReleaseImage(t *testing.T) {
	dist := fakeDist(t, "0.0.1-snapshot.abc123")
	var stdout bytes.Buffer
	values := filepath.Join(dist, "values-release.yaml")
	if err := run([]string{"--dist", dist, "--values", values, "--repository", "registry.example/team/netconform", "--revision", "def456"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	root, err := layout.ImageIndexFromPath(filepath.Join(dist, "image"))
	if err != nil {
		t.Fatal(err)
	}
	top, _ := root.IndexManifest()
	if len(top.Manifests) != 1 || stdout.String() != top.Manifests[0].Digest.String()+"\n" {
		t.Fatalf("printed %q, layout lists %+v: want the one index's digest", stdout.String(), top.Manifests)
	}
	idx, err := root.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := idx.IndexManifest()
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
	}
	if got := strings.Join(platforms, ","); got != "linux/amd64,linux/arm64" {
		t.Errorf("platforms %s, want the linux binaries only: linux/amd64,linux/arm64", got)
	}
	if m.Annotations["org.opencontainers.image.version"] != "0.0.1-snapshot.abc123" || m.Annotations["org.opencontainers.image.revision"] != "def456" {
		t.Errorf("annotations %v, want metadata.json's version and the --revision commit", m.Annotations)
	}

	var chart struct {
		Image struct{ Repository, Tag, Digest string }
	}
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &chart); err != nil {
		t.Fatal(err)
	}
	if chart.Image.Repository != "registry.example/team/netconform" || chart.Image.Tag != "0.0.1-snapshot.abc123" || chart.Image.Digest != top.Manifests[0].Digest.String() {
		t.Errorf("values %+v, want the repository, the version as tag and the index's digest", chart.Image)
	}

	// The same binaries give the same digest.
	var again bytes.Buffer
	if err := run([]string{"--dist", dist, "--revision", "def456"}, &again, io.Discard); err != nil || again.String() != stdout.String() {
		t.Errorf("second build printed %q (%v), want %q", again.String(), err, stdout.String())
	}
}

func TestReleaseImageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		dist func(t *testing.T) string
		want string
	}{
		{"no dist", func(t *testing.T) string { return t.TempDir() }, "make release"},
		{"version no tag", func(t *testing.T) string { return fakeDist(t, "1.0+build") }, "snapshot.version_template"},
	} {
		err := run([]string{"--dist", tc.dist(t)}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
