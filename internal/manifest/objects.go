package manifest

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Object is one Kubernetes object of a manifest, as read, with where it came from, so
// that whoever decodes it can name the file and line of a bad field.
type Object struct {
	// File is the path as given (a file found in a directory is joined to it), or <stdin>.
	File string
	// Line is the line where the object starts.
	Line int
	// APIVersion and Kind are the object's, as written.
	APIVersion, Kind string
	// Content is the object as encoding/json would decode it.
	Content map[string]any
	lines   *lines
}

// LineOf is the line of a field path such as "spec.ingress[0].from[1].ipBlock", or of
// its nearest ancestor the object has.
func (o Object) LineOf(path string) int {
	if o.lines == nil {
		return o.Line
	}
	return o.lines.of(path)
}

// Errorf is a problem with the field at path, placed at its line.
func (o Object) Errorf(path, format string, args ...any) *Error {
	return &Error{File: o.File, Line: o.LineOf(path), Msg: fmt.Sprintf(format, args...)}
}

// maxManifestSize bounds one file of manifests: rendered charts run to a few MiB.
const maxManifestSize = 64 << 20

// ReadObjects reads the Kubernetes objects in paths: each a file, a directory (its
// *.yaml, *.yml and *.json files and those of its subdirectories, in name order) or "-"
// for stdin, as `kustomize build` and `helm template` write them. Lists (kind List or
// any kind ending in List, with items) are expanded; empty documents are skipped. Every
// problem is returned at once, joined, each an *Error with file and line.
func ReadObjects(paths []string, stdin io.Reader) ([]Object, error) {
	if len(paths) == 0 {
		return nil, errors.New("no manifests: name a file, a directory or - for stdin")
	}
	l := loader{stdin: stdin, recursive: true, maxSize: maxManifestSize, expected: "a Kubernetes object",
		tooLarge: fmt.Sprintf("larger than %d MiB: split the manifests into several files", maxManifestSize>>20)}
	var objs []Object
	l.handle = func(file string, node *yaml.Node, obj map[string]any) {
		objs = append(objs, l.objects(file, node, obj)...)
	}
	for _, p := range paths {
		l.path(p)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return objs, nil
}

// objects is the object, or the items of a List.
func (l *loader) objects(file string, node *yaml.Node, obj map[string]any) []Object {
	apiVersion, _ := obj["apiVersion"].(string)
	k, _ := obj["kind"].(string)
	if apiVersion == "" || k == "" {
		l.fail(file, node.Line, "found %s: every object needs apiVersion and kind", describe(apiVersion, k, obj))
		return nil
	}
	if !strings.HasSuffix(k, "List") {
		return []Object{{File: file, Line: node.Line, APIVersion: apiVersion, Kind: k, Content: obj, lines: newLines(node)}}
	}
	items, _ := obj["items"].([]any)
	seq, line := newLines(node).child(node, "items")
	if seq != nil {
		seq = resolve(seq)
	}
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) != len(items) {
		l.fail(file, max(line, node.Line), "a %s needs items: a list of objects", k)
		return nil
	}
	var out []Object
	for i, item := range items {
		itemNode := resolve(seq.Content[i])
		if m, ok := item.(map[string]any); ok {
			out = append(out, l.objects(file, itemNode, m)...)
		} else {
			l.fail(file, itemNode.Line, "a %s item must be an object", k)
		}
	}
	return out
}
