package offline

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	sigsjson "sigs.k8s.io/json"

	"github.com/netconform/netconform/internal/manifest"
)

// decode fills into from the object as the API server's strict field validation would
// (kubectl's default): a value of the wrong type or a field the type does not have is an
// error at its line. It reports whether the object decoded cleanly.
func (b *builder) decode(o manifest.Object, into any) bool {
	data, err := json.Marshal(o.Content)
	if err != nil {
		b.fail(o, "", "%s: %v", o.Kind, err)
		return false
	}
	strict, err := sigsjson.UnmarshalStrict(data, into, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		b.typeError(o, err)
		return false
	}
	for _, e := range strict {
		path := unknownField.FindStringSubmatch(e.Error())
		if path == nil {
			b.fail(o, "", "%s: %v", o.Kind, e)
			continue
		}
		b.fail(o, path[1], "%s: unknown field %q: it is not a field of %s %s (misspelt, or at the wrong indentation?)", o.Kind, path[1], o.APIVersion, o.Kind)
	}
	return len(strict) == 0
}

var unknownField = regexp.MustCompile(`^unknown field "(.*)"$`)

// typeError places a value of the wrong type. encoding/json names the field path without
// list indexes (spec.ingress.ports.port), so the first place the path leads to a value of
// the kind it names (object, string, number...) stands for it.
func (b *builder) typeError(o manifest.Object, err error) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		b.fail(o, "", "%s: %v", o.Kind, err)
		return
	}
	fields := strings.Split(te.Field, ".")
	path, ok := walk(o.Content, fields, "", te.Value)
	if !ok {
		path = te.Field
	}
	b.fail(o, path, "%s: %s must be of type %s, not %s", o.Kind, path, te.Type, te.Value)
}

// walk finds the first path in v that follows the fields, stepping into list items where
// the fields go through a list, and ends at a value of that JSON kind:
// "spec.ingress[1].ports[0].port".
func walk(v any, fields []string, at, kind string) (string, bool) {
	if len(fields) == 0 {
		return at, jsonKind(v) == kind
	}
	switch x := v.(type) {
	case map[string]any:
		child, ok := x[fields[0]]
		if !ok {
			return "", false
		}
		return walk(child, fields[1:], strings.TrimPrefix(at+"."+fields[0], "."), kind)
	case []any:
		for i, item := range x {
			if p, ok := walk(item, fields, at+"["+itoa(i)+"]", kind); ok {
				return p, true
			}
		}
	}
	return "", false
}

// jsonKind names a value as encoding/json's type errors do.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "number"
}
