package manifest_test

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/testcases"
)

func TestLoadAcceptsValidInput(t *testing.T) {
	cases := []struct {
		name  string
		paths []string
		stdin string
		want  []string // test names, in order
	}{
		{"multi-document file", []string{"testdata/valid.yaml"}, "", []string{"bookstore", "egress"}},
		{"directory in name order, not recursive", []string{"testdata/dir"}, "", []string{"a", "b", "c"}},
		{"stdin", []string{"-"}, readFile(t, "testdata/dir/a.yaml"), []string{"a"}},
		{"files, directories and stdin together", []string{"testdata/valid.yaml", "-", "testdata/dir"}, readFile(t, "testdata/list.yaml"),
			[]string{"bookstore", "egress", "one", "two", "a", "b", "c"}},
		{"List", []string{"testdata/list.yaml"}, "", []string{"one", "two"}},
		{"anchors, aliases and merge keys", []string{"testdata/anchors.yaml"}, "", []string{"anchors"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tests, err := manifest.Load(tc.paths, strings.NewReader(tc.stdin))
			if err != nil {
				t.Fatal(err)
			}
			if got := names(tests); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("tests %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadDecodesAndDefaults(t *testing.T) {
	tests, err := manifest.Load([]string{"testdata/valid.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	book, egress := tests[0], tests[1]
	if book.Kind != "ReachabilityTest" || book.APIVersion != v1alpha1.GroupVersion.String() {
		t.Errorf("type meta %+v", book.TypeMeta)
	}
	if book.Spec.ProbeTimeoutSeconds != 2 || book.Spec.Attempts != 3 {
		t.Errorf("defaults: probeTimeoutSeconds %d attempts %d, want 2 and 3", book.Spec.ProbeTimeoutSeconds, book.Spec.Attempts)
	}
	if egress.Spec.ProbeTimeoutSeconds != 5 || egress.Spec.Attempts != 1 {
		t.Errorf("set values replaced: probeTimeoutSeconds %d attempts %d", egress.Spec.ProbeTimeoutSeconds, egress.Spec.Attempts)
	}
	edges := book.Spec.Edges
	if got := edges[0].To.Service.Port; got != intstr.FromInt32(8080) {
		t.Errorf("numeric port %#v", got)
	}
	if got := edges[1].To.Pods.Port; got != intstr.FromString("postgres") {
		t.Errorf("named port %#v", got)
	}
	if edges[1].From.ServiceAccountName != "storefront" || edges[1].From.PodLabels["app"] != "storefront" {
		t.Errorf("source %+v", edges[1].From)
	}
	if e := egress.Spec.Edges[0]; e.Protocol != v1alpha1.ProtocolUDP || e.To.Host.Host != "fd00::1" || e.To.Host.Port != 443 {
		t.Errorf("host edge %+v", e)
	}
}

func TestLoadIgnoresStatusAndExpandsMergeKeys(t *testing.T) {
	tests, err := manifest.Load([]string{"testdata/list.yaml", "testdata/anchors.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tests[0].Status.Summary != nil {
		t.Errorf("status kept: %+v", tests[0].Status)
	}
	redis := tests[2].Spec.Edges[1]
	if redis.Name != "storefront-to-redis" || redis.Expect != v1alpha1.ExpectDeny || redis.From.PodLabels["app"] != "storefront" || redis.To.Service.Name != "redis" {
		t.Errorf("merged edge %+v", redis)
	}
}

// TestLoadFollowsSymlinks reads a directory laid out as a mounted ConfigMap: the files
// are symlinks through ..data, and the ..* entries are not manifests.
func TestLoadFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "..2026_01_01"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "..2026_01_01", "tests.yaml"), []byte(readFile(t, "testdata/dir/a.yaml")), 0o644))
	must(t, os.Symlink("..2026_01_01", filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "tests.yaml"), filepath.Join(dir, "tests.yaml")))
	tests, err := manifest.Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(tests); len(got) != 1 || got[0] != "a" {
		t.Errorf("tests %v, want [a]", got)
	}
}

func TestLoadReportsEveryProblemWithFileAndLine(t *testing.T) {
	cases := []struct {
		name  string
		paths []string
		stdin string
		want  []string // one per error, each contained in its message, in order
	}{
		{"YAML syntax, after a valid document", []string{"testdata/syntax.yaml"}, "",
			[]string{"testdata/syntax.yaml:13: invalid YAML: did not find expected ',' or '}'"}},
		{"unknown fields, with their paths and the known fields", []string{"testdata/unknown-field.yaml"}, "",
			[]string{
				`testdata/unknown-field.yaml:10: unknown field "spec.edges[0].to.service.prot" (known fields here: name, namespace, port)`,
				"testdata/unknown-field.yaml:10: spec.edges[0].to.service.port: Required value",
				`testdata/unknown-field.yaml:12: unknown field "spec.atempts" (known fields here: attempts, canary, edges, probePod, probeTimeoutSeconds, rerunOn, schedule, suspend)`,
			}},
		{"other kinds", []string{"testdata/wrong-kind.yaml"}, "",
			[]string{
				`testdata/wrong-kind.yaml:1: found apiVersion "v1" kind "ConfigMap" named "settings": only netconform.io/v1alpha1 ReachabilityTest documents are accepted`,
				`testdata/wrong-kind.yaml:6: found apiVersion "netconform.io/v1" kind "ReachabilityTest" named "future": only netconform.io/v1alpha1`,
				"testdata/wrong-kind.yaml:11: expected a ReachabilityTest (a mapping with apiVersion, kind, metadata and spec), found a list",
			}},
		{"a name used twice across files", []string{"testdata/valid.yaml", "testdata/duplicate-name.yaml"}, "",
			[]string{`testdata/duplicate-name.yaml:4: ReachabilityTest "bookstore" is defined twice: first at testdata/valid.yaml:5`}},
		{"a key repeated in a mapping", []string{"testdata/duplicate-key.yaml"}, "",
			[]string{`testdata/duplicate-key.yaml:10: key "expect" is repeated: it is first set on line 9`}},
		{"errors of all files together", []string{"testdata/syntax.yaml", "testdata/wrong-kind.yaml", "testdata/dir"}, "",
			[]string{"testdata/syntax.yaml:13:", "testdata/wrong-kind.yaml:1:", "testdata/wrong-kind.yaml:6:", "testdata/wrong-kind.yaml:11:"}},
		{"a missing file", []string{"testdata/nope.yaml"}, "", []string{"testdata/nope.yaml: no such file or directory"}},
		{"stdin twice", []string{"-", "-"}, readFile(t, "testdata/dir/a.yaml"), []string{"<stdin>: - is given more than once"}},
		{"metadata", []string{"-"}, `apiVersion: netconform.io/v1alpha1
kind: ReachabilityTest
metadata:
  name: Front_End
  namespace: shop
spec:
  edges: [{name: e1, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]
`, []string{
			`<stdin>:4: metadata.name: Invalid value: "Front_End": a lowercase RFC 1123 subdomain must consist of`,
			"<stdin>:5: metadata.namespace: Forbidden: not allowed on this type",
		}},
		{"wrong types", []string{"-"}, `apiVersion: netconform.io/v1alpha1
kind: ReachabilityTest
metadata: {name: x, labels: {team: 7}}
spec:
  edges:
  - name: e1
    from: {namespace: a, podLabels: {app: 3}}
    to: {host: {host: "10.0.0.1", port: "80"}}
    expect: Allow
`, []string{
			"<stdin>:3: metadata: json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string",
			`<stdin>:7: spec.edges[0].from.podLabels.app: Invalid value: "integer": spec.edges[0].from.podLabels.app in body must be of type string`,
			`<stdin>:8: spec.edges[0].to.host.port: Invalid value: "string": spec.edges[0].to.host.port in body must be of type integer`,
		}},
		{"no name", []string{"-"}, `apiVersion: netconform.io/v1alpha1
kind: ReachabilityTest
metadata: {generateName: x-}
spec:
  edges: [{name: e1, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]
`, []string{"<stdin>:3: metadata.name: Required value: netconform finds tests by name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifest.Load(tc.paths, strings.NewReader(tc.stdin))
			assertErrors(t, err, tc.want)
		})
	}
}

func TestLoadRejectsInputWithoutTests(t *testing.T) {
	_, err := manifest.Load([]string{"-"}, strings.NewReader("---\n# empty\n---\n"))
	if err == nil || err.Error() != "no ReachabilityTest in <stdin>" {
		t.Errorf("error %v, want: no ReachabilityTest in <stdin>", err)
	}
	if _, err := manifest.Load(nil, nil); err == nil {
		t.Error("no error without paths")
	}
}

func TestLoadRejectsEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := manifest.Load([]string{dir}, nil)
	assertErrors(t, err, []string{dir + ": the directory holds no *.yaml, *.yml or *.json file"})
}

// TestLoadRejectsMalformedTests runs the corpus that
// controllers.TestAPIServerRejectsMalformedTests applies to a real API server, and the
// cases only the offline validator can see: each is rejected, and its first message is
// the real problem, at its line, naming the field and the fix.
func TestLoadRejectsMalformedTests(t *testing.T) {
	for _, tc := range testcases.MalformedSpecs() {
		t.Run(tc.Name, func(t *testing.T) {
			file := tc.File
			if file == "" {
				file = testcases.Document(tc.Spec)
			}
			_, err := manifest.Load([]string{"-"}, strings.NewReader(file))
			first := split(t, err)[0].Error()
			if tc.File == "" {
				line := cmp.Or(tc.Line, testcases.SpecLine)
				if strings.Contains(first, ": spec: ") {
					line = testcases.SpecLine - 1 // a rule on the whole spec names the spec's line
				}
				if want := fmt.Sprintf("<stdin>:%d: ", line); !strings.HasPrefix(first, want) {
					t.Errorf("first error %q\n does not start with %q", first, want)
				}
			}
			for _, want := range tc.Want {
				if !strings.Contains(first, want) {
					t.Errorf("first error %q\n does not contain %q\nall errors:\n%v", first, want, truncate(err.Error(), 2000))
				}
			}
		})
	}
}

// TestLoadPutsFollowOnErrorsAfterTheirCause: a misspelt field is pruned, which leaves a
// required field missing and a rule failing on lines above it; the misspelling comes
// first all the same.
func TestLoadPutsFollowOnErrorsAfterTheirCause(t *testing.T) {
	spec := `edges:
- name: e1
  from: {namespace: a}
  to:
    servce: {name: s, namespace: a, port: 80}
  expct: Allow
- name: e2
  from: {namespace: a}
  to: {dns: {name: a.example}}
  expect: Allow
  protocol: SCTP`
	_, err := manifest.Load([]string{"-"}, strings.NewReader(testcases.Document(spec)))
	assertErrors(t, err, []string{
		`<stdin>:10: unknown field "spec.edges[0].to.servce"`,
		"<stdin>:10: spec.edges[0].to: Invalid value: to must set exactly one of service, pods, host or dns",
		`<stdin>:11: unknown field "spec.edges[0].expct"`,
		"<stdin>:11: spec.edges[0].expect: Required value",
		`<stdin>:16: spec.edges[1].protocol: Unsupported value: "SCTP"`,
	})
}

// TestLoadLeadsWithTheValueNotTheRuleItHid: a value of the wrong type is taken out
// before the rules run; a rule of its object that then fails ("a test needs edges") would
// blame what the user did not write, so it is dropped, and the note that rules were not
// checked comes last.
func TestLoadLeadsWithTheValueNotTheRuleItHid(t *testing.T) {
	_, err := manifest.Load([]string{"-"}, strings.NewReader(testcases.Document("edges: all")))
	assertErrors(t, err, []string{
		`<stdin>:6: spec.edges: Invalid value: "string": spec.edges in body must be of type array`,
		"<stdin>:1: some validation rules were not checked because the object was invalid",
	})
}

// TestLoadAcceptsAByteOrderMark: a UTF-8 byte order mark, which some editors write,
// starts a valid file.
func TestLoadAcceptsAByteOrderMark(t *testing.T) {
	doc := "\ufeff" + testcases.Document(`edges: [{name: e1, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]`)
	if _, err := manifest.Load([]string{"-"}, strings.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
}

// TestLoadReportsAtMostFiftyProblemsOfATest: a file of a thousand unknown fields gets
// the first fifty, and how many more there are.
func TestLoadReportsAtMostFiftyProblemsOfATest(t *testing.T) {
	spec := testcases.UnknownFields(32 << 10)
	_, err := manifest.Load([]string{"-"}, strings.NewReader(testcases.Document(spec)))
	errs := split(t, err)
	more := fmt.Sprintf("and %d more problems in this ReachabilityTest: fix the ones above first", strings.Count(spec, "unknown")-50)
	if len(errs) != 51 || !strings.Contains(errs[50].Error(), more) {
		t.Errorf("%d errors, the last %q; want 50 and a count of the rest", len(errs), errs[len(errs)-1])
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// TestLoadChecksRulesDespiteOtherErrors: the API server skips the CEL rules when a field
// has the wrong type or value; Load reports the rules' verdicts on the rest as well.
func TestLoadChecksRulesDespiteOtherErrors(t *testing.T) {
	spec := `edges:
  - {name: e1, from: {namespace: a}, to: {}, expect: Maybe}
  - {name: e2, from: {namespace: a}, to: {dns: {name: a.example}}, protocol: UDP, expect: Allow}`
	_, err := manifest.Load([]string{"-"}, strings.NewReader(document(spec)))
	assertErrors(t, err, []string{
		`<stdin>:7: spec.edges[0].expect: Unsupported value: "Maybe"`,
		"<stdin>:7: spec.edges[0].to: Invalid value: to must set exactly one of service, pods, host or dns",
		"<stdin>:8: spec.edges[1]: Invalid value: a dns destination takes no protocol",
	})
}

func document(spec string) string { return testcases.Document(spec) }

// assertErrors checks that err joins exactly len(want) *manifest.Error, the i-th
// containing want[i].
func assertErrors(t *testing.T, err error, want []string) {
	t.Helper()
	errs := split(t, err)
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i := range min(len(errs), len(want)) {
		if !strings.Contains(errs[i].Error(), want[i]) {
			t.Errorf("error %d %q\n does not contain %q", i, errs[i], want[i])
		}
		var me *manifest.Error
		if !errors.As(errs[i], &me) {
			t.Errorf("error %d is a %T, want *manifest.Error", i, errs[i])
		}
	}
}

func split(t *testing.T, err error) []error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}

func names(tests []v1alpha1.ReachabilityTest) []string {
	var out []string
	for _, rt := range tests {
		out = append(out, rt.Name)
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	must(t, err)
	return string(data)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
