package ociimage

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const binContents = "#!/not/really/a/binary\nhello\n"

func writeTemp(t *testing.T, contents string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netconform")
	if err := os.WriteFile(p, []byte(contents), 0o600); err != nil { // 0600 on disk: the image must still say 0755
		t.Fatal(err)
	}
	return p
}

func buildTest(t *testing.T, src string) v1.Image {
	t.Helper()
	img, err := Build(Spec{
		Platform:   v1.Platform{OS: "linux", Architecture: "amd64"},
		Files:      []File{{Src: src, Dst: "/usr/local/bin/netconform"}},
		Entrypoint: []string{"/usr/local/bin/netconform", "--x"},
		User:       "65532:65532",
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerEntries returns the single layer's tar headers and file contents, keyed by name.
func layerEntries(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string][]byte, []string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdrs, data, order := map[string]*tar.Header{}, map[string][]byte{}, []string(nil)
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name], data[h.Name] = h, b
		order = append(order, h.Name)
	}
	return hdrs, data, order
}

func TestBuild(t *testing.T) {
	img := buildTest(t, writeTemp(t, binContents))

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config platform = %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	if want := []string{"/usr/local/bin/netconform", "--x"}; !slices.Equal(cfg.Config.Entrypoint, want) {
		t.Errorf("entrypoint = %q, want %q", cfg.Config.Entrypoint, want)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Env, []string{"PATH=/"}) {
		t.Errorf("env = %q, want [PATH=/]", cfg.Config.Env)
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("rootfs diff_ids = %v, want 1", cfg.RootFS.DiffIDs)
	}

	hdrs, data, order := layerEntries(t, img)
	bin := hdrs["usr/local/bin/netconform"]
	switch {
	case bin == nil:
		t.Fatalf("layer has no usr/local/bin/netconform; entries: %q", order)
	case bin.Typeflag != tar.TypeReg || bin.Mode != 0o755 || bin.Uid != 0 || bin.Gid != 0:
		t.Errorf("netconform: type %c mode %o owner %d:%d, want regular file 0755 0:0", bin.Typeflag, bin.Mode, bin.Uid, bin.Gid)
	case string(data["usr/local/bin/netconform"]) != binContents:
		t.Errorf("netconform contents = %q, want %q", data["usr/local/bin/netconform"], binContents)
	}
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/", "etc/"} {
		if h := hdrs[dir]; h == nil || h.Typeflag != tar.TypeDir || h.Mode != 0o755 || h.Uid != 0 {
			t.Errorf("parent directory %s = %+v, want root-owned 0755 directory", dir, h)
		}
	}
	if tmp := hdrs["tmp/"]; tmp == nil || tmp.Typeflag != tar.TypeDir || tmp.FileInfo().Mode() != os.ModeDir|os.ModeSticky|0o777 {
		t.Errorf("tmp/ = %+v, want directory with mode 1777", tmp)
	}
	if !strings.Contains(string(data["etc/passwd"]), "nonroot:x:65532:65532:") || !strings.Contains(string(data["etc/passwd"]), "root:x:0:0:") {
		t.Errorf("etc/passwd = %q, want root and nonroot", data["etc/passwd"])
	}
	if !strings.Contains(string(data["etc/group"]), "nonroot:x:65532:") || !strings.Contains(string(data["etc/group"]), "root:x:0:") {
		t.Errorf("etc/group = %q, want root and nonroot", data["etc/group"])
	}
	for _, n := range order {
		if h := hdrs[n]; h.ModTime.Unix() != 0 {
			t.Errorf("%s mtime = %v, want Unix epoch", n, h.ModTime)
		}
	}
	// Each directory must precede what it contains, or some unpackers invent it with other modes.
	seen := map[string]bool{}
	for _, n := range order {
		if parent := filepath.Dir(strings.TrimSuffix(n, "/")); parent != "." && !seen[parent+"/"] {
			t.Errorf("%s comes before its directory %s/", n, parent)
		}
		seen[n] = true
	}
}

func TestBuildReproducible(t *testing.T) {
	src := writeTemp(t, binContents)
	d1, err := buildTest(t, src).Digest()
	if err != nil {
		t.Fatal(err)
	}
	// Touch the source: a different host mtime must not change the image.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(src, later, later); err != nil {
		t.Fatal(err)
	}
	d2, err := buildTest(t, src).Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("digests differ for the same input: %s, %s", d1, d2)
	}
	d3, err := buildTest(t, writeTemp(t, binContents+"changed")).Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d3 == d1 {
		t.Errorf("different contents gave the same digest %s", d1)
	}
}

func TestTarballRoundTrip(t *testing.T) {
	img := buildTest(t, writeTemp(t, binContents))
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("netconform:e2e")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		t.Fatal(err)
	}

	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil {
		t.Fatal(err)
	}
	// containerd normalizes this RepoTag to docker.io/library/netconform:e2e.
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{"netconform:e2e"}) {
		t.Errorf("manifest.json = %+v, want one image tagged netconform:e2e", m)
	}

	got, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	gotDigest, err := got.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if gotDigest != want {
		t.Errorf("digest after tarball round trip = %s, want %s", gotDigest, want)
	}
	cfg, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("round-tripped platform = %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
}
