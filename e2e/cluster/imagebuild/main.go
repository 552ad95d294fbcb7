// Command imagebuild writes a single-layer linux/amd64 container image as a
// docker-archive tarball, for the local e2e cluster, which has containerd but
// no Docker engine:
//
//	go run ./e2e/cluster/imagebuild --name netconform:e2e --out /tmp/netconform.tar \
//	    --file bin/netconform=/netconform --entrypoint /netconform [--user 65532:65532]
//	ctr -n k8s.io images import /tmp/netconform.tar
//
// containerd registers "netconform:e2e" as docker.io/library/netconform:e2e,
// which is what kubelet resolves for a pod image of "netconform:e2e".
// Files are copied with mode 0755 and every timestamp is the Unix epoch, so
// the same inputs always give the same image digest.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/netconform/netconform/internal/ociimage"
)

type fileFlags []ociimage.File

func (f *fileFlags) String() string { return fmt.Sprint(*f) }

func (f *fileFlags) Set(v string) error {
	i := strings.LastIndex(v, "=")
	if i <= 0 || i == len(v)-1 {
		return fmt.Errorf("want SRC=DST, like bin/netconform=/netconform")
	}
	*f = append(*f, ociimage.File{Src: v[:i], Dst: v[i+1:]})
	return nil
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var perr parseError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &perr):
		os.Exit(2) // the flag package already printed the error and usage
	default:
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

// parseError is a flag parsing error that has already been reported.
type parseError struct{ error }

func (e parseError) Unwrap() error { return e.error }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		files      fileFlags
		ref        = fs.String("name", "", "image reference with an explicit tag, like netconform:e2e (required)")
		out        = fs.String("out", "", "path of the docker-archive tarball to write (required)")
		entrypoint = fs.String("entrypoint", "", `entrypoint: a path such as /netconform, or a JSON array such as '["/netconform","--flag"]' (required)`)
		user       = fs.String("user", "65532:65532", `numeric uid[:gid] the image runs as; "" for root`)
	)
	fs.Var(&files, "file", "SRC=DST: copy host file SRC to absolute path DST in the image, mode 0755 (repeatable, at least one)")
	if err := fs.Parse(args); err != nil {
		return parseError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (all inputs are flags)", fs.Arg(0))
	}

	if *ref == "" {
		return errors.New("--name is required, like --name netconform:e2e")
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		return fmt.Errorf("--name %q: %w", *ref, err)
	}
	// Without a tag the image would be :latest, for which kubelet's default
	// pull policy is Always: the pod would try to pull instead of using the
	// imported image.
	if !strings.HasSuffix(*ref, ":"+tag.TagStr()) {
		return fmt.Errorf("--name %q: give an explicit tag, like %s:e2e", *ref, *ref)
	}
	if *out == "" {
		return errors.New("--out is required, like --out /tmp/netconform.tar")
	}
	if len(files) == 0 {
		return errors.New("--file is required, like --file bin/netconform=/netconform")
	}
	ep, err := parseEntrypoint(*entrypoint)
	if err != nil {
		return fmt.Errorf("--entrypoint %q: %w", *entrypoint, err)
	}

	// The local cluster is linux/amd64.
	img, err := ociimage.Build(ociimage.Spec{
		Platform:   v1.Platform{OS: "linux", Architecture: "amd64"},
		Files:      files,
		Entrypoint: ep,
		User:       *user,
	})
	if err != nil {
		return err
	}

	// Write next to the destination and rename, so a failed build never
	// leaves a truncated tarball behind for `ctr images import`.
	tmp := filepath.Join(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp")
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s\n", *out, *ref, digest)
	return nil
}

func parseEntrypoint(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("required, like --entrypoint /netconform")
	case strings.HasPrefix(s, "["):
		var ep []string
		if err := json.Unmarshal([]byte(s), &ep); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %w", err)
		}
		if len(ep) == 0 || ep[0] == "" {
			return nil, errors.New("empty entrypoint")
		}
		return ep, nil
	default:
		return []string{s}, nil
	}
}
