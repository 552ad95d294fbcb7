package charts

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the values table in README.md from values.yaml")

const (
	readme      = "../README.md"
	tableStart  = "<!-- chart values: generated from charts/netconform/values.yaml by `go test ./charts -update` -->\n"
	tableEnd    = "<!-- end of chart values -->\n"
	valuesFile  = chartDir + "/values.yaml"
	describedBy = "# --"
)

// TestREADMEListsEveryValue: the README's values table is the one values.yaml describes,
// key, default and description.
func TestREADMEListsEveryValue(t *testing.T) {
	raw := readFile(t, valuesFile)
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var rows []string
	valueRows(t, doc.Content[0], "", &rows)
	if len(rows) < 40 {
		t.Fatalf("values.yaml describes %d values: a `# --` comment went missing", len(rows))
	}
	table := "| Value | Default | Description |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	text := string(readFile(t, readme))
	start, end := strings.Index(text, tableStart), strings.Index(text, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md has no values table between %q and %q", tableStart, tableEnd)
	}
	current := text[start+len(tableStart) : end]
	if current == table {
		return
	}
	if *update {
		if err := os.WriteFile(readme, []byte(text[:start+len(tableStart)]+table+text[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Error("README.md's values table differs from values.yaml: run `go test ./charts -update` (with NETCONFORM_HELM set) and commit README.md")
}

// valueRows adds a row for every key with a `# --` comment; a map without one is a group
// whose keys are listed instead. A value without a description fails the test.
func valueRows(t *testing.T, node *yamlv3.Node, prefix string, rows *[]string) {
	t.Helper()
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		path := prefix + k.Value
		desc := description(k.HeadComment)
		switch {
		case desc != "":
			*rows = append(*rows, fmt.Sprintf("| `%s` | `%s` | %s |", path, defaultOf(t, v), desc))
		case v.Kind == yamlv3.MappingNode:
			valueRows(t, v, path+".", rows)
		default:
			t.Errorf("values.yaml: %s has no `# --` description", path)
		}
	}
}

// description is the text of the last `# --` comment block before a key.
func description(comment string) string {
	i := strings.LastIndex(comment, describedBy)
	if i < 0 {
		return ""
	}
	var parts []string
	for _, line := range strings.Split(comment[i+len(describedBy):], "\n") {
		parts = append(parts, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#")))
	}
	return strings.ReplaceAll(strings.TrimSpace(strings.Join(parts, " ")), "|", `\|`)
}

// defaultOf prints a default on one line, as JSON.
func defaultOf(t *testing.T, v *yamlv3.Node) string {
	t.Helper()
	b, err := yamlv3.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	j, err := sigsyaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, j); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
