package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// data splits a file into YAML documents and loads each. yaml.v3 rather than
// sigs.k8s.io/yaml, because only its nodes remember their lines.
func (l *loader) data(file string, data []byte) {
	if line, msg := unreadable(data); msg != "" {
		l.fail(file, line, "%s", msg)
		return
	}
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

// unreadable finds what YAML refuses in any file, with its line and the fix, which the
// parser reports without either: bytes that are not UTF-8, and control characters. A
// file with a UTF-16 byte order mark is left to the parser, which reads UTF-16.
func unreadable(data []byte) (int, string) {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return 0, ""
	}
	line, col := 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size == 1:
			return line, fmt.Sprintf("column %d: byte 0x%02x is not UTF-8: save the file as UTF-8", col, data[0])
		case r == '\n':
			line, col = line+1, 0
		case r < 0x20 && r != '\t' && r != '\r', r == 0x7f:
			return line, fmt.Sprintf("column %d: control character %U is not allowed in YAML: remove it, or write it as an escape such as \"\\x%02x\" in a double-quoted string", col, r, r)
		}
		data, col = data[size:], col+1
	}
	return 0, ""
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
	if strings.HasPrefix(m[2], "found character that cannot start any token") {
		return line, m[2] + " (a tab? YAML indents with spaces)"
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
		l.fail(file, root.Line, "expected %s (a mapping with apiVersion, kind, metadata and spec), found a %s", l.expected, kindName(root))
		return
	}
	l.handle(file, root, obj)
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
	values int // values made so far, aliases expanded
	bytes  int // bytes of the plain values made so far, aliases expanded
	full   bool
}

// A document with its aliases expanded is bounded, against a "billion laughs" (aliases
// of aliases) and against aliases of a long value: far beyond what the API server takes
// in one request (3 MiB), so that no real test comes near.
const (
	maxValues = 1 << 20
	maxBytes  = 16 << 20
)

type nodeError struct {
	line int
	msg  string
}

func (c *converter) value(n *yaml.Node) any {
	if c.full {
		return nil
	}
	n = resolve(n)
	if c.values++; n.Kind == yaml.ScalarNode {
		c.bytes += len(n.Value)
	}
	if c.values > maxValues || c.bytes > maxBytes {
		c.full = true
		c.errs = append(c.errs, nodeError{n.Line, fmt.Sprintf("the document grows beyond %d values or %d MiB once its aliases (*name) are expanded, which no ReachabilityTest needs (a YAML bomb?): write the values out, or alias less", maxValues, maxBytes>>20)})
		return nil
	}
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
			c.errs = append(c.errs, nodeError{k.Line, fmt.Sprintf("key %q is repeated: it is first set on line %d; keep one", k.Value, first)})
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

// lines finds the lines of field paths in one document. It indexes a mapping's keys the
// first time a path goes through it, so that a document with thousands of findings (a
// file of unknown fields) is read once, not once per finding.
type lines struct {
	root *yaml.Node
	keys map[*yaml.Node]map[string]int // mapping → key → index of the key in Content
}

func newLines(root *yaml.Node) *lines {
	return &lines{root: root, keys: map[*yaml.Node]map[string]int{}}
}

// of finds the line of a field path ("spec.edges[0].to.service.port"), or of its
// nearest ancestor present in the document (a required field that is missing).
func (l *lines) of(path string) int {
	n, line := l.root, l.root.Line
	for _, seg := range splitPath(path) {
		next, at := l.child(resolve(n), seg)
		if next == nil {
			break
		}
		n, line = next, at
	}
	return line
}

// child returns the node under a key or index and the line that names it: the key's
// line, not the value's, since a block value starts on the next line.
func (l *lines) child(n *yaml.Node, seg string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		if i, ok := l.index(n)[seg]; ok {
			return n.Content[i+1], resolve(n.Content[i]).Line
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], resolve(n.Content[i]).Line
		}
	}
	return nil, 0
}

// index maps a mapping's keys to their places; the first of a repeated key wins, as
// the converter keeps it.
func (l *lines) index(n *yaml.Node) map[string]int {
	if idx, ok := l.keys[n]; ok {
		return idx
	}
	idx := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i]).Value
		if _, seen := idx[k]; !seen {
			idx[k] = i
		}
	}
	l.keys[n] = idx
	return idx
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
