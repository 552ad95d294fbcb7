// Command crd-bounds adds to the generated ReachabilityTest CRD the bounds that Go types
// cannot carry to controller-gen: the length and pattern of the values of the
// map[string]string label fields, and the length of the key and value of core/v1
// Toleration. A pattern costs nothing of the API server's CEL budget, which a CEL rule
// on every label value of 2000 edges would exceed; the CEL rules on the tolerations need
// the lengths to stay within it. Run it from the repository root after controller-gen:
//
//	go run ./hack/crd-bounds
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// bound is a maxLength, and optionally a pattern, at a path of the spec's schema:
// property names, "[]" for a list's items and "{}" for a map's values.
type bound struct {
	path      string
	maxLength int
	pattern   string
}

// labelValue is Kubernetes' label value: empty, or letters, digits, '-', '_' and '.'
// that start and end with a letter or digit.
const labelValue = `^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`

// bounds are Kubernetes' own: a label value has at most 63 characters, a label key at
// most 317 (a DNS subdomain prefix of 253, "/", a name of 63).
var bounds = []bound{
	{"edges.[].from.podLabels.{}", 63, labelValue},
	{"edges.[].from.nodes.selector.matchLabels.{}", 63, labelValue},
	{"edges.[].to.pods.podLabels.{}", 63, labelValue},
	{"probePod.nodeSelector.{}", 63, labelValue},
	{"probePod.tolerations.[].key", 317, ""},
	{"probePod.tolerations.[].value", 63, ""},
}

func main() {
	file := flag.String("crd", "config/crd/bases/netconform.io_reachabilitytests.yaml", "the generated CRD to add the bounds to")
	flag.Parse()
	if err := run(*file); err != nil {
		fmt.Fprintln(os.Stderr, "crd-bounds:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(src, &crd); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	versions, _ := dig(crd, "spec", "versions").([]any)
	for _, v := range versions {
		spec, ok := dig(v, "schema", "openAPIV3Schema", "properties", "spec").(map[string]any)
		if !ok {
			return fmt.Errorf("%s: a version without a spec schema", file)
		}
		for _, b := range bounds {
			if err := setBound(spec, b); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	out = append([]byte("---\n"), out...) // as controller-gen writes it
	if bytes.Equal(out, src) {
		return nil
	}
	return os.WriteFile(file, out, 0o644)
}

func setBound(schema map[string]any, b bound) error {
	s := schema
	for _, seg := range strings.Split(b.path, ".") {
		var next any
		switch seg {
		case "[]":
			next = s["items"]
		case "{}":
			next = s["additionalProperties"]
		default:
			next = dig(s, "properties", seg)
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("spec.%s: no such schema (renamed? update hack/crd-bounds)", b.path)
		}
		s = m
	}
	if s["type"] != "string" {
		return fmt.Errorf("spec.%s is a %v, not a string", b.path, s["type"])
	}
	s["maxLength"] = b.maxLength
	if b.pattern != "" {
		s["pattern"] = b.pattern
	}
	return nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
