package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func writeTemp(t *testing.T, contents string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netconform")
	if err := os.WriteFile(p, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunErrorsNameTheFlag(t *testing.T) {
	src := writeTemp(t, "#!/not/really/a/binary\n")
	out := filepath.Join(t.TempDir(), "image.tar")
	ok := []string{"--name", "netconform:e2e", "--out", out, "--file", src + "=/netconform", "--entrypoint", "/netconform"}
	with := func(flag, value string) []string {
		args := slices.Clone(ok)
		i := slices.Index(args, flag)
		args[i+1] = value
		return args
	}
	// want has one dash: the flag package itself reports "-file" for values Set rejects.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with("--name", "netconform"), "-name"},
		{with("--name", "Bad Name:e2e"), "-name"},
		{with("--file", src), "-file"},
		{with("--file", src+"=netconform"), "-file"},
		{with("--file", src+".missing=/netconform"), "-file"},
		{with("--entrypoint", "/other"), "-entrypoint"},
		{with("--entrypoint", "[broken"), "-entrypoint"},
		{append(slices.Clone(ok), "--user", "nonroot"), "-user"},
		{ok[:6], "-entrypoint"},
	} {
		var stderr bytes.Buffer
		err := run(tc.args, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
			t.Errorf("run(%q) = %v (stderr %q), want an error naming %s", tc.args, err, stderr.String(), tc.want)
		}
	}

	var stdout bytes.Buffer
	if err := run(append(ok, "--entrypoint", `["/netconform","--leader-elect=false"]`), &stdout, io.Discard); err != nil {
		t.Fatalf("run(%q) = %v", ok, err)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/netconform", "--leader-elect=false"}; !slices.Equal(cfg.Config.Entrypoint, want) || cfg.Config.User != "65532:65532" {
		t.Errorf("entrypoint %q user %q, want %q and default user 65532:65532", cfg.Config.Entrypoint, cfg.Config.User, want)
	}
	if digest, _ := img.Digest(); !strings.Contains(stdout.String(), digest.String()) {
		t.Errorf("stdout %q does not report digest %s", stdout.String(), digest)
	}
}
