// Command release-krew writes the krew plugin manifest of a release: krew/netconform.yaml
// with the release's version, and each platform's archive address and sha256 from
// goreleaser's dist/checksums.txt, so that krew installs exactly what was built.
//
//	go run ./hack/release-krew --dist dist --out dist/krew/netconform.yaml
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// downloads is where the project's releases are published.
const downloads = "https://github.com/netconform/netconform/releases/download"

func main() {
	manifest := flag.String("manifest", "krew/netconform.yaml", "the plugin manifest to fill in")
	dist := flag.String("dist", "dist", "goreleaser's output directory, holding metadata.json and checksums.txt")
	out := flag.String("out", "dist/krew/netconform.yaml", "where to write the release's manifest")
	flag.Parse()
	if err := run(*manifest, *dist, *out); err != nil {
		fmt.Fprintln(os.Stderr, "release-krew:", err)
		os.Exit(1)
	}
}

func run(manifestPath, dist, out string) error {
	version, err := releaseVersion(filepath.Join(dist, "metadata.json"))
	if err != nil {
		return err
	}
	sums, err := readChecksums(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	filled, err := fill(raw, version, sums)
	if err != nil {
		return fmt.Errorf("%s: %w", manifestPath, err)
	}
	return os.WriteFile(out, filled, 0o644)
}

// manifest is the part of a krew Plugin this step reads and writes; the rest is kept.
type platform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
}

// fill sets spec.version and, per platform, the archive goreleaser names for its os and
// arch (project_version_os_arch.tar.gz) with that archive's checksum.
func fill(raw []byte, version string, sums map[string]string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	spec, _ := doc["spec"].(map[string]any)
	platforms, _ := spec["platforms"].([]any)
	if len(platforms) == 0 {
		return nil, errors.New("spec.platforms is empty")
	}
	spec["version"] = "v" + version
	for i, p := range platforms {
		entry, _ := p.(map[string]any)
		var sel platform
		if err := remarshal(entry, &sel); err != nil {
			return nil, fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
		goos, goarch := sel.Selector.MatchLabels["os"], sel.Selector.MatchLabels["arch"]
		archive := fmt.Sprintf("netconform_%s_%s_%s.tar.gz", version, goos, goarch)
		sum, ok := sums[archive]
		if !ok {
			return nil, fmt.Errorf("spec.platforms[%d] (os=%s, arch=%s): checksums.txt has no %s: build that platform in .goreleaser.yaml or drop it from the manifest", i, goos, goarch, archive)
		}
		entry["uri"] = fmt.Sprintf("%s/v%s/%s", downloads, version, archive)
		entry["sha256"] = sum
	}
	return yaml.Marshal(doc)
}

func remarshal(from, into any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

func releaseVersion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w (run goreleaser first: make release)", err)
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if meta.Version == "" {
		return "", fmt.Errorf("%s: no version (run goreleaser first: make release)", path)
	}
	return strings.TrimPrefix(meta.Version, "v"), nil
}

// readChecksums reads goreleaser's "SHA256  NAME" lines into NAME → SHA256.
func readChecksums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 2 {
			sums[fields[1]] = fields[0]
		}
	}
	return sums, scanner.Err()
}
