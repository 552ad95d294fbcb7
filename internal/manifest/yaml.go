package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// data splits a file into YAML documents and loads each. yaml.v3 rather than
// sigs.k8s.io/yaml, because only its nodes remember their lines.
func (l *loader) data(file string, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil { // the parser cannot resume after a syntax error
			line, msg := syntaxError(err)
			l.fail(file, line, "invalid YAML: %s", msg)
			return
		}
		l.document(file, &doc)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError takes the line out of a yaml.v3 message ("yaml: line 3: did not find ...").
// yaml.v3 counts from 0 for parser errors (only scanner errors are corrected), so those
// point one line early: at the line before the "{" that is never closed, say.
func syntaxError(err error) (int, string) {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	line, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(m[2], "did not find expected") {
		line++
	}
	return line, m[2]
}

func (l *loader) document(file string, doc *yaml.Node) {
	root := resolve(doc)
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = resolve(root.Content[0])
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return // an empty document, or one of comments only
	}
	c := converter{}
	v := c.value(root)
	if len(c.errs) > 0 {
		for _, e := range c.errs {
			l.fail(file, e.line, "%s", e.msg)
		}
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		l.fail(file, root.Line, "expected a ReachabilityTest (a mapping with apiVersion, kind, metadata and spec), found a %s", kindName(root))
		return
	}
	l.object(file, root, obj)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "plain value"
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// converter turns YAML nodes into the values encoding/json produces (map[string]any,
// []any, string, int64, float64, bool, nil), which the apiextensions validators expect.
type converter struct {
	errs   []nodeError
	values int
}

// maxValues bounds a document with its aliases expanded, against a "billion laughs".
const maxValues = 1 << 20

type nodeError struct {
	line int
	msg  string
}

func (c *converter) value(n *yaml.Node) any {
	if c.values++; c.values == maxValues {
		c.errs = append(c.errs, nodeError{n.Line, "the document is too large once its aliases are expanded"})
	}
	if c.values >= maxValues {
		return nil
	}
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return c.mapping(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			out = append(out, c.value(item))
		}
		return out
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

func (c *converter) mapping(n *yaml.Node) map[string]any {
	out := make(map[string]any, len(n.Content)/2)
	keyLines := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			c.errs = append(c.errs, nodeError{k.Line, "a mapping key must be a plain value"})
			continue
		case k.ShortTag() == "!!merge":
			merges = append(merges, resolve(v))
			continue
		}
		if first, dup := keyLines[k.Value]; dup {
			c.errs = append(c.errs, nodeError{k.Line, fmt.Sprintf("key %q is repeated: it is first set on line %d", k.Value, first)})
			continue
		}
		keyLines[k.Value] = k.Line
		out[k.Value] = c.value(v)
	}
	c.merge(out, merges)
	return out
}

// merge applies YAML merge keys (<<: *anchor): keys set explicitly win, then earlier
// merged mappings over later ones.
func (c *converter) merge(out map[string]any, merges []*yaml.Node) {
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			merged, ok := c.value(s).(map[string]any)
			if !ok {
				c.errs = append(c.errs, nodeError{s.Line, "a merge key (<<) takes a mapping or a list of mappings"})
				continue
			}
			for k, v := range merged {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
}

// scalar resolves a plain value as YAML 1.2 does: yes and on stay strings.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
		var f float64 // beyond int64
		if n.Decode(&f) == nil {
			return f
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	return n.Value
}

// lineOf finds the line of a field path ("spec.edges[0].to.service.port"), or of its
// nearest ancestor present in the document (a required field that is missing).
func lineOf(root *yaml.Node, path string) int {
	n, line := root, root.Line
	for _, seg := range splitPath(path) {
		next, at := child(resolve(n), seg)
		if next == nil {
			break
		}
		n, line = next, at
	}
	return line
}

// child returns the node under a key or index and the line that names it: the key's
// line, not the value's, since a block value starts on the next line.
func child(n *yaml.Node, seg string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolve(n.Content[i]); k.Value == seg {
				return n.Content[i+1], k.Line
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], resolve(n.Content[i]).Line
		}
	}
	return nil, 0
}

// splitPath splits a field path as field.Path and the pruner print it: "a.b[0].c[key]".
func splitPath(p string) []string {
	var segs []string
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return append(segs, p[1:])
			}
			segs, p = append(segs, p[1:end]), p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			segs, p = append(segs, p[:end]), p[end:]
		}
	}
	return segs
}
