package manifest

import (
	"cmp"
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
	seq, line := newLines(node).child(node, "items")
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
	at := newLines(node)
	for _, p := range probs {
		p.line = at.of(p.path)
	}
	probs = inReadingOrder(probs)
	for _, p := range probs[:min(len(probs), maxProblems)] {
		l.fail(file, p.line, "%s", p.msg)
	}
	if len(probs) > maxProblems {
		l.fail(file, probs[maxProblems].line, "and %d more problems in this %s: fix the ones above first", len(probs)-maxProblems, kind)
	}
	if !l.unique(file, at, obj) || len(probs) > 0 {
		return
	}
	rt, err := typed(obj)
	if err != nil {
		l.fail(file, node.Line, "%v", err)
		return
	}
	l.tests = append(l.tests, rt)
}

// maxProblems is the most problems reported for one test: a file of a thousand unknown
// fields needs the first few to be understood, not a thousand lines.
const maxProblems = 50

// inReadingOrder sorts problems top to bottom, except that a problem that follows from
// another (a field reported missing because a misspelt one was pruned, a rule that
// failed for the same reason) comes right after it, and notes come last: the first
// message is the real problem.
func inReadingOrder(probs []*problem) []*problem {
	causeLine := map[string]int{}
	for _, p := range probs {
		if p.unknown {
			causeLine[p.path] = p.line
		}
	}
	for _, p := range probs {
		if line, ok := causeLine[p.after]; ok && line > p.line {
			p.line = line
		}
	}
	slices.SortStableFunc(probs, func(a, b *problem) int {
		return cmp.Or(compareBool(a.note, b.note), a.line-b.line, compareBool(a.after != "", b.after != ""))
	})
	return probs
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// unique records the test's name and refuses one seen before: the second would silently
// replace the first on the cluster.
func (l *loader) unique(file string, at *lines, obj map[string]any) bool {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		return true // reported as a missing name
	}
	line := at.of("metadata.name")
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
