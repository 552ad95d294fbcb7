package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/netconform/netconform/api/v1alpha1"
)

const kind = "ReachabilityTest"

// object loads a ReachabilityTest, or the items of a List (what kubectl get -o yaml
// writes), and refuses anything else: a directory of tests holds nothing but tests.
func (l *loader) object(file string, node *yaml.Node, obj map[string]any) {
	apiVersion, _ := obj["apiVersion"].(string)
	k, _ := obj["kind"].(string)
	switch {
	case apiVersion == v1alpha1.GroupVersion.String() && k == kind:
		l.test(file, node, obj)
	case apiVersion == "v1" && k == "List", apiVersion == v1alpha1.GroupVersion.String() && k == kind+"List":
		l.list(file, node, obj)
	default:
		l.fail(file, node.Line, "found %s: only %s %s documents are accepted", describe(apiVersion, k, obj), v1alpha1.GroupVersion, kind)
	}
}

func describe(apiVersion, k string, obj map[string]any) string {
	if apiVersion == "" && k == "" {
		return "a document without apiVersion and kind"
	}
	s := fmt.Sprintf("apiVersion %q kind %q", apiVersion, k)
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if name, ok := meta["name"].(string); ok {
			s += fmt.Sprintf(" named %q", name)
		}
	}
	return s
}

func (l *loader) list(file string, node *yaml.Node, obj map[string]any) {
	items, _ := obj["items"].([]any)
	seq, line := child(node, "items")
	if seq != nil {
		seq = resolve(seq)
	}
	if seq == nil || seq.Kind != yaml.SequenceNode || len(seq.Content) != len(items) {
		l.fail(file, max(line, node.Line), "a List needs items: a list of %s objects", kind)
		return
	}
	for i, item := range items {
		itemNode := resolve(seq.Content[i])
		if m, ok := item.(map[string]any); ok {
			l.object(file, itemNode, m)
		} else {
			l.fail(file, itemNode.Line, "a List item must be a %s object", kind)
		}
	}
}

// test validates one ReachabilityTest and, when it is sound and its name new, keeps it.
func (l *loader) test(file string, node *yaml.Node, obj map[string]any) {
	probs := l.validator.validate(context.Background(), obj)
	for _, p := range probs {
		p.line = lineOf(node, p.path)
	}
	slices.SortStableFunc(probs, func(a, b *problem) int { return a.line - b.line }) // read top to bottom
	for _, p := range probs {
		l.fail(file, p.line, "%s", p.msg)
	}
	if !l.unique(file, node, obj) || len(probs) > 0 {
		return
	}
	rt, err := typed(obj)
	if err != nil {
		l.fail(file, node.Line, "%v", err)
		return
	}
	l.tests = append(l.tests, rt)
}

// unique records the test's name and refuses one seen before: the second would silently
// replace the first on the cluster.
func (l *loader) unique(file string, node *yaml.Node, obj map[string]any) bool {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		return true // reported as a missing name
	}
	line := lineOf(node, "metadata.name")
	if first, dup := l.seen[name]; dup {
		l.fail(file, line, "%s %q is defined twice: first at %s; give each test its own name", kind, name, first)
		return false
	}
	l.seen[name] = fmt.Sprintf("%s:%d", file, line)
	return true
}

// typed converts a validated object; JSON carries int-or-string ports faithfully.
func typed(obj map[string]any) (v1alpha1.ReachabilityTest, error) {
	var rt v1alpha1.ReachabilityTest
	data, err := json.Marshal(obj)
	if err == nil {
		err = json.Unmarshal(data, &rt)
	}
	if err != nil {
		return rt, fmt.Errorf("decoding the %s: %w", kind, err)
	}
	return rt, nil
}
