package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// fakeDist writes goreleaser's metadata.json and checksums.txt for the given archives.
func fakeDist(t *testing.T, version string, archives map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(`{"version":"`+version+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for name, sum := range archives {
		lines = append(lines, sum+"  "+name)
	}
	if err := os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFillNamesEachPlatformsArchiveAndChecksum(t *testing.T) {
	archives := map[string]string{}
	for _, p := range []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"} {
		archives["netconform_1.2.3_"+p+".tar.gz"] = strings.Repeat(p[len(p)-1:], 64)
	}
	dist := fakeDist(t, "1.2.3", archives)
	out := filepath.Join(t.TempDir(), "netconform.yaml")
	if err := run("../../krew/netconform.yaml", dist, out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			Version   string `json:"version"`
			Platforms []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Spec.Version != "v1.2.3" || len(doc.Spec.Platforms) != 4 {
		t.Fatalf("version %q with %d platforms, want v1.2.3 with 4", doc.Spec.Version, len(doc.Spec.Platforms))
	}
	for _, p := range doc.Spec.Platforms {
		archive := "netconform_1.2.3_" + p.Selector.MatchLabels["os"] + "_" + p.Selector.MatchLabels["arch"] + ".tar.gz"
		if p.URI != downloads+"/v1.2.3/"+archive || p.SHA256 != archives[archive] {
			t.Errorf("%s: uri %s sha256 %s, want the release's %s and its checksum %s", archive, p.URI, p.SHA256, archive, archives[archive])
		}
	}
}

func TestFillRefusesAPlatformTheReleaseDidNotBuild(t *testing.T) {
	dist := fakeDist(t, "1.2.3", map[string]string{"netconform_1.2.3_linux_amd64.tar.gz": strings.Repeat("a", 64)})
	err := run("../../krew/netconform.yaml", dist, filepath.Join(t.TempDir(), "out.yaml"))
	if err == nil || !strings.Contains(err.Error(), "checksums.txt has no netconform_1.2.3_linux_arm64.tar.gz") {
		t.Fatalf("err = %v, want one naming the missing archive", err)
	}
}
