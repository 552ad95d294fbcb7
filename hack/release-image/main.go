// Command release-image writes the released image without a Docker engine: a
// multi-platform OCI image index of the linux binaries goreleaser built into dist/,
// as an OCI image layout tagged with the release's version, which also stands in the
// OCI labels and annotations. It prints the index's digest and writes the Helm
// chart's values that take the image by that digest; nothing is pushed.
//
//	go run ./hack/release-image --dist dist --out dist/image --values dist/values-release.yaml
//	crane push dist/image ghcr.io/netconform/netconform:VERSION   # when releasing for real
package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/netconform/netconform/internal/ociimage"
)

// source is the repository the image is built from, in its labels.
const source = "https://github.com/netconform/netconform"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "release-image:", err)
		}
		os.Exit(2)
	}
}

// metadata is what goreleaser's dist/metadata.json says of the release.
type metadata struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// artifact is one entry of goreleaser's dist/artifacts.json.
type artifact struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Goos   string `json:"goos"`
	Goarch string `json:"goarch"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dist := fs.String("dist", "dist", "goreleaser's output directory, holding metadata.json and artifacts.json")
	out := fs.String("out", "", "the OCI image layout directory to write, replaced if it exists (default DIST/image)")
	repository := fs.String("repository", "ghcr.io/netconform/netconform", "the repository the image is to be pushed to, for --values")
	revision := fs.String("revision", "", "the commit built, for the OCI revision label (default metadata.json's, which is none in a clone without a remote)")
	values := fs.String("values", "", "also write values for charts/netconform here: image.repository, image.tag and image.digest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*dist, "image")
	}
	var meta metadata
	if err := readJSON(filepath.Join(*dist, "metadata.json"), &meta); err != nil {
		return err
	}
	if _, err := name.NewTag("netconform:" + meta.Version); err != nil {
		return fmt.Errorf("%s: version %q is not a valid image tag (set snapshot.version_template in .goreleaser.yaml): %w", filepath.Join(*dist, "metadata.json"), meta.Version, err)
	}
	if *revision != "" {
		meta.Commit = *revision
	}
	var artifacts []artifact
	if err := readJSON(filepath.Join(*dist, "artifacts.json"), &artifacts); err != nil {
		return err
	}
	binaries := linuxBinaries(artifacts)
	if len(binaries) == 0 {
		return fmt.Errorf("%s lists no linux binary: build linux targets in .goreleaser.yaml", filepath.Join(*dist, "artifacts.json"))
	}

	labels := map[string]string{
		"org.opencontainers.image.title":    "netconform",
		"org.opencontainers.image.version":  meta.Version,
		"org.opencontainers.image.revision": meta.Commit,
		"org.opencontainers.image.source":   source,
	}
	var images []v1.Image
	for _, b := range binaries {
		img, err := ociimage.Build(ociimage.Spec{
			Platform:   v1.Platform{OS: b.Goos, Architecture: b.Goarch},
			Files:      []ociimage.File{{Src: b.Path, Dst: "/netconform"}},
			Entrypoint: []string{"/netconform"},
			User:       "65532:65532",
			Labels:     labels,
			OCI:        true,
		})
		if err != nil {
			return fmt.Errorf("the %s/%s binary: %w", b.Goos, b.Goarch, err)
		}
		images = append(images, img)
	}
	idx, err := ociimage.Index(images, labels)
	if err != nil {
		return err
	}
	if err := ociimage.WriteLayout(*out, idx, meta.Version); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	if *values != "" {
		if err := writeValues(*values, *repository, meta.Version, digest.String()); err != nil {
			return fmt.Errorf("--values %s: %w", *values, err)
		}
	}
	fmt.Fprintln(stdout, digest)
	return nil
}

// writeValues writes the chart's image values; the digest is what the chart deploys.
func writeValues(path, repository, version, digest string) error {
	if _, err := name.NewRepository(repository); err != nil {
		return fmt.Errorf("--repository %q: %w", repository, err)
	}
	body := fmt.Sprintf("# helm install netconform charts/netconform -f %s\nimage:\n  repository: %s\n  tag: %q\n  digest: %q\n",
		filepath.Base(path), repository, version, digest)
	return os.WriteFile(path, []byte(body), 0o644)
}

// linuxBinaries are the linux binaries of artifacts, in platform order, so that the
// same binaries always give the same index digest.
func linuxBinaries(artifacts []artifact) []artifact {
	var out []artifact
	for _, a := range artifacts {
		if a.Type == "Binary" && a.Goos == "linux" {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b artifact) int { return cmp.Compare(a.Goarch, b.Goarch) })
	return out
}

func readJSON(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w (run goreleaser first: make release)", err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
