package ociimage

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation names an index in an OCI layout's index.json: the tag it is
// pushed under (`crane push`, `skopeo copy oci:DIR:TAG`).
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Index returns a multi-platform OCI image index of images, each listed under the
// platform of its config, with annotations on the index itself.
func Index(images []v1.Image, annotations map[string]string) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]bool{}
	for _, img := range images {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading an image's config: %w", err)
		}
		platform := cfg.Platform()
		if platform == nil || platform.OS == "" || platform.Architecture == "" {
			return nil, fmt.Errorf("an image has no platform: build it with ociimage.Build")
		}
		if seen[platform.String()] {
			return nil, fmt.Errorf("two images for platform %s", platform)
		}
		seen[platform.String()] = true
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: platform},
		})
	}
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	return idx, nil
}

// WriteLayout writes idx as a fresh OCI image layout in dir, named tag in its
// index.json. An existing dir is replaced, so the layout holds this index only.
func WriteLayout(dir string, idx v1.ImageIndex, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the OCI layout %s: %w", dir, err)
	}
	if err := path.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
		return fmt.Errorf("writing the index to %s: %w", dir, err)
	}
	return nil
}
