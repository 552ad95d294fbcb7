package ociimage

import (
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func ociImage(t *testing.T, src, arch string) v1.Image {
	t.Helper()
	img, err := Build(Spec{
		Platform:   v1.Platform{OS: "linux", Architecture: arch},
		Files:      []File{{Src: src, Dst: "/netconform"}},
		Entrypoint: []string{"/netconform"},
		User:       "65532:65532",
		Labels:     map[string]string{"org.opencontainers.image.version": "1.2.3"},
		OCI:        true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestIndexLayout: the written layout holds one index, tagged, with one OCI image per
// platform that runs as non-root and carries the version label.
func TestIndexLayout(t *testing.T) {
	src := writeTemp(t, binContents)
	idx, err := Index([]v1.Image{ociImage(t, src, "amd64"), ociImage(t, src, "arm64")}, map[string]string{"org.opencontainers.image.version": "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	if err := WriteLayout(dir, idx, "1.2.3"); err != nil {
		t.Fatal(err)
	}

	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Annotations[refNameAnnotation] != "1.2.3" {
		t.Fatalf("index.json = %+v, want one index named 1.2.3", top.Manifests)
	}
	want, _ := idx.Digest()
	if top.Manifests[0].Digest != want || top.Manifests[0].MediaType != types.OCIImageIndex {
		t.Errorf("index.json names %s %s, want the OCI index %s", top.Manifests[0].MediaType, top.Manifests[0].Digest, want)
	}

	written, err := root.ImageIndex(want)
	if err != nil {
		t.Fatal(err)
	}
	m, err := written.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations["org.opencontainers.image.version"] != "1.2.3" {
		t.Errorf("index annotations = %v, want the version", m.Annotations)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := written.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if d.MediaType != types.OCIManifestSchema1 || cfg.Platform().String() != d.Platform.String() {
			t.Errorf("%s: media type %s, config platform %s", d.Platform, d.MediaType, cfg.Platform())
		}
		if cfg.Config.User != "65532:65532" || cfg.Config.Labels["org.opencontainers.image.version"] != "1.2.3" {
			t.Errorf("%s: user %q labels %v, want non-root and the version label", d.Platform, cfg.Config.User, cfg.Config.Labels)
		}
	}
	if got := strings.Join(platforms, ","); got != "linux/amd64,linux/arm64" {
		t.Errorf("index platforms = %s, want linux/amd64,linux/arm64", got)
	}
}

func TestIndexRefusesTwoImagesOfOnePlatform(t *testing.T) {
	src := writeTemp(t, binContents)
	_, err := Index([]v1.Image{ociImage(t, src, "amd64"), ociImage(t, src, "amd64")}, nil)
	if err == nil || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("Index of two linux/amd64 images = %v, want an error naming the platform", err)
	}
}

func TestBuildRequiresAPlatform(t *testing.T) {
	_, err := Build(Spec{Files: []File{{Src: writeTemp(t, binContents), Dst: "/netconform"}}, Entrypoint: []string{"/netconform"}})
	if err == nil || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("Build without a platform = %v, want an error showing the form, like linux/amd64", err)
	}
}
