// Package manifest reads ReachabilityTests from files, directories and stdin, and checks
// them as the API server would (schema, defaults, CEL rules), so bad input is answered
// with a file and line before anything touches a cluster.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Stdin is the path that stands for standard input, as in kubectl -f -.
const Stdin = "-"

// stdinName names standard input in messages.
const stdinName = "<stdin>"

// Error is one problem at a place in the input.
type Error struct {
	// File is the path as given (a file found in a directory is joined to it), or <stdin>.
	File string
	// Line is 1-based; 0 when the problem has no line, such as a file that cannot be read.
	Line int
	// Msg says what is wrong and, where the API server would say it, in its words.
	Msg string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Load reads the ReachabilityTests in paths: each a file, a directory (its *.yaml, *.yml
// and *.json files in name order, not recursive) or "-" for stdin. A file may hold several
// YAML documents, and a List of tests; empty documents are skipped, anything else is an
// error. Each test is checked against the embedded CRD as the API server would check a
// create, and comes back in input order, defaulted, without status. Every problem of
// every document is returned at once, joined, each an *Error, so one pass fixes them all.
func Load(paths []string, stdin io.Reader) ([]v1alpha1.ReachabilityTest, error) {
	if len(paths) == 0 {
		return nil, errors.New("no input: name a file, a directory or - for stdin")
	}
	v, err := sharedValidator()
	if err != nil {
		return nil, err
	}
	l := loader{validator: v, stdin: stdin, seen: map[string]string{}, maxSize: maxFileSize, tooLarge: testsTooLarge, expected: "a " + kind}
	l.handle = l.object
	for _, p := range paths {
		l.path(p)
	}
	if len(l.errs) == 0 && len(l.tests) == 0 {
		return nil, fmt.Errorf("no ReachabilityTest in %s", strings.Join(displayNames(paths), ", "))
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return l.tests, nil
}

// loader accumulates tests and errors across all inputs of one Load.
type loader struct {
	validator *validator
	// handle takes each document that is a mapping; object for tests.
	handle func(file string, node *yaml.Node, obj map[string]any)
	// recursive reads the subdirectories of a directory too.
	recursive bool
	// expected names what a document must be, in messages.
	expected string
	// maxSize bounds one file; tooLarge says why and what to do.
	maxSize   int
	tooLarge  string
	stdin     io.Reader
	stdinRead bool
	seen      map[string]string // test name → file:line that defined it first
	tests     []v1alpha1.ReachabilityTest
	errs      []error
}

func (l *loader) fail(file string, line int, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) path(p string) {
	if p == Stdin {
		l.readStdin()
		return
	}
	info, err := os.Stat(p)
	if err != nil {
		l.fail(p, 0, "%v", unwrapPathError(err))
		return
	}
	if !info.IsDir() {
		l.readFile(p)
		return
	}
	files, err := manifestFiles(p, l.recursive)
	if err != nil {
		l.fail(p, 0, "%v", unwrapPathError(err))
		return
	}
	if len(files) == 0 {
		l.fail(p, 0, "the directory holds no *.yaml, *.yml or *.json file")
	}
	for _, f := range files {
		l.readFile(f)
	}
}

func (l *loader) readStdin() {
	if l.stdinRead {
		l.fail(stdinName, 0, "- is given more than once: stdin can be read only once")
		return
	}
	l.stdinRead = true
	if l.stdin == nil {
		l.fail(stdinName, 0, "no stdin to read")
		return
	}
	l.read(stdinName, l.stdin)
}

func (l *loader) readFile(name string) {
	f, err := os.Open(name)
	if err != nil {
		l.fail(name, 0, "%v", unwrapPathError(err))
		return
	}
	defer f.Close()
	l.read(name, f)
}

// maxFileSize bounds what one file of tests may hold: the API server takes at most 3
// MiB per test, and the bound keeps a stray large file from being read whole.
const maxFileSize = 8 << 20

var testsTooLarge = fmt.Sprintf("larger than %d MiB, more than tests need (the API server takes at most 3 MiB per test): split the tests into several files", maxFileSize>>20)

func (l *loader) read(name string, r io.Reader) {
	data, err := io.ReadAll(io.LimitReader(r, int64(l.maxSize)+1))
	if err != nil {
		l.fail(name, 0, "%v", unwrapPathError(err))
		return
	}
	if len(data) > l.maxSize {
		l.fail(name, 0, "%s", l.tooLarge)
		return
	}
	l.data(name, data)
}

// manifestFiles lists a directory's manifests in name order, and with recursive those of
// its subdirectories in place. It stats each entry so that symlinks count as what they
// point to: a mounted ConfigMap's files are symlinks. Hidden subdirectories (.git) are
// skipped.
func manifestFiles(dir string, recursive bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		info, err := os.Stat(name)
		switch {
		case err != nil:
			continue
		case info.IsDir() && recursive && !strings.HasPrefix(e.Name(), "."):
			sub, err := manifestFiles(name, recursive)
			if err != nil {
				return nil, err
			}
			files = append(files, sub...)
		case !info.IsDir() && recursive && kustomization(e.Name()):
			continue // kustomize's own configuration, not a resource
		case !info.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(e.Name()))):
			files = append(files, name)
		}
	}
	return files, nil // os.ReadDir sorts by name
}

// kustomization is a kustomize configuration file, which a directory of manifests for
// `kustomize build` holds beside its resources.
func kustomization(name string) bool {
	return slices.Contains([]string{"kustomization.yaml", "kustomization.yml", "Kustomization"}, name)
}

func displayNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p
		if p == Stdin {
			out[i] = stdinName
		}
	}
	return out
}

// unwrapPathError drops the path from an *os.PathError, since Error names the file.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
