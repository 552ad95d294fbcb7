package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestGolden(t *testing.T) {
	formats := []struct {
		file   string
		render func(io.Writer, []v1alpha1.ReachabilityTest) error
	}{
		{"table.golden", report.Table},
		{"markdown.golden", report.Markdown},
		{"json.golden", report.JSON},
		{"junit.golden", report.JUnit},
	}
	for _, f := range formats {
		t.Run(f.file, func(t *testing.T) {
			var out bytes.Buffer
			if err := f.render(&out, fixtures()); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", f.file)
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("output differs from %s (go test ./internal/report -update rewrites it)\ngot:\n%s", golden, out.String())
			}
		})
	}
}

// TestJUnitParses reads the XML back as a CI system would and checks the counts and that
// every failing edge is named with its kind of mismatch.
func TestJUnitParses(t *testing.T) {
	var out bytes.Buffer
	if err := report.JUnit(&out, fixtures()); err != nil {
		t.Fatal(err)
	}
	type problem struct {
		Type    string `xml:"type,attr"`
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Cases    []struct {
				Classname string   `xml:"classname,attr"`
				Name      string   `xml:"name,attr"`
				Failure   *problem `xml:"failure"`
				Error     *problem `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("the JUnit XML does not parse: %v\n%s", err, out.String())
	}
	if doc.Tests != 12 || doc.Failures != 3 || doc.Errors != 3 || len(doc.Suites) != 2 {
		t.Errorf("tests %d failures %d errors %d suites %d, want 12, 3, 3 and 2", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	if s := doc.Suites[0]; s.Name != "storefront" || s.Tests != 3 || s.Failures != 0 || s.Errors != 0 {
		t.Errorf("passing suite %s: tests %d failures %d errors %d", s.Name, s.Tests, s.Failures, s.Errors)
	}
	failed := map[string]string{}
	for _, c := range doc.Suites[1].Cases {
		if c.Classname != "netconform.bookstore" {
			t.Errorf("case %s classname %q", c.Name, c.Classname)
		}
		switch {
		case c.Failure != nil:
			failed[c.Name] = c.Failure.Type + ": " + c.Failure.Message
		case c.Error != nil:
			failed[c.Name] = c.Error.Type + ": " + c.Error.Message
		}
	}
	want := map[string]string{
		"orders-to-postgres":        "UnexpectedAllow: expected Deny, observed Connected",
		"storefront-to-catalog":     "UnexpectedDeny: expected Allow, observed Timeout",
		"catalog-resolves-orders":   "UnexpectedDeny: expected Allow, observed DNSFailure",
		"intruder-to-postgres-pods": "Inconclusive: expected Deny, observed Refused",
		"probe-denied":              "Inconclusive: expected Allow, observed Error",
		"storefront-to-redis":       "Inconclusive: expected Deny",
	}
	for name, w := range want {
		if failed[name] != w {
			t.Errorf("case %s: %q, want %q", name, failed[name], w)
		}
	}
	if len(failed) != len(want) {
		t.Errorf("failing cases %v, want %v", failed, want)
	}
}

func TestJSONParses(t *testing.T) {
	var out bytes.Buffer
	if err := report.JSON(&out, fixtures()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passed bool `json:"passed"`
		Tests  []struct {
			Name    string           `json:"name"`
			Passed  bool             `json:"passed"`
			Summary v1alpha1.Summary `json:"summary"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Passed || !doc.Tests[0].Passed || doc.Tests[1].Passed {
		t.Errorf("passed: all %v, storefront %v, bookstore %v", doc.Passed, doc.Tests[0].Passed, doc.Tests[1].Passed)
	}
	if s := doc.Tests[1].Summary; s != (v1alpha1.Summary{Edges: 9, Passed: 3, Failed: 3, Inconclusive: 3}) {
		t.Errorf("bookstore summary %+v", s)
	}
}

func TestAllPassingTestPasses(t *testing.T) {
	passing := fixtures()[:1]
	var js, md, table bytes.Buffer
	for _, err := range []error{report.JSON(&js, passing), report.Markdown(&md, passing), report.Table(&table, passing)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(js.String(), "{\n  \"passed\": true") {
		t.Errorf("JSON does not start with passed true:\n%s", js.String())
	}
	if !strings.HasPrefix(md.String(), "## ✅ netconform: 1 of 1 tests passed") {
		t.Errorf("markdown heading:\n%s", md.String())
	}
	if strings.Contains(table.String(), "FAIL") || strings.Contains(table.String(), "INCONCLUSIVE") {
		t.Errorf("a passing test lists problems:\n%s", table.String())
	}
}

func TestNoTestsDoNotPass(t *testing.T) {
	var js bytes.Buffer
	if err := report.JSON(&js, nil); err != nil {
		t.Fatal(err)
	}
	if got := js.String(); got != "{\n  \"passed\": false,\n  \"tests\": []\n}\n" {
		t.Errorf("JSON of no tests:\n%s", got)
	}
}

// fixtures: one test that passes, and one with every kind of outcome: an unexpected
// allow, unexpected denies (a timeout and a DNS failure), inconclusive edges (no proof
// the destination listens, a probe that could not run, no result at all), a pods
// destination, a UDP edge, a dns edge, and sources sharing destinations.
func fixtures() []v1alpha1.ReachabilityTest {
	start := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	end := metav1.NewTime(start.Add(14 * time.Second))
	storefront := v1alpha1.Source{Namespace: "bookstore", PodLabels: map[string]string{"app": "storefront"}}
	catalog := v1alpha1.Source{Namespace: "bookstore", PodLabels: map[string]string{"app": "catalog", "tier": "backend"}}
	orders := v1alpha1.Source{Namespace: "bookstore", PodLabels: map[string]string{"app": "orders"}, ServiceAccountName: "orders"}
	intruder := v1alpha1.Source{Namespace: "bookstore"}
	catalogSvc := svc("catalog", 8080)
	postgresSvc := svc("postgres", 5432)

	passing := v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "storefront"},
		Spec: v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
			{Name: "storefront-to-catalog", From: storefront, To: catalogSvc, Expect: v1alpha1.ExpectAllow},
			{Name: "storefront-to-postgres", From: storefront, To: postgresSvc, Expect: v1alpha1.ExpectDeny},
			{Name: "storefront-resolves-catalog", From: storefront, To: dns("catalog.bookstore.svc.cluster.local"), Expect: v1alpha1.ExpectAllow},
		}},
		Status: v1alpha1.ReachabilityTestStatus{
			LastRunStartTime: &start, LastRunCompletionTime: ptr(metav1.NewTime(start.Add(3200 * time.Millisecond))),
			Results: []v1alpha1.EdgeResult{
				pass("storefront-to-catalog", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, "10.96.0.12:8080/TCP", 3),
				pass("storefront-to-postgres", v1alpha1.ExpectDeny, v1alpha1.ObservedTimeout, "10.96.0.13:5432/TCP", 2000),
				pass("storefront-resolves-catalog", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, "catalog.bookstore.svc.cluster.local", 1),
			},
		},
	}
	failing := v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "bookstore"},
		Spec: v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{
			{Name: "storefront-to-catalog", From: storefront, To: catalogSvc, Expect: v1alpha1.ExpectAllow},
			{Name: "catalog-to-postgres", From: catalog, To: postgresSvc, Expect: v1alpha1.ExpectAllow},
			{Name: "orders-to-postgres", From: orders, To: postgresSvc, Expect: v1alpha1.ExpectDeny},
			{Name: "intruder-to-postgres-pods", From: intruder, To: pods("postgres", intstr.FromString("postgres")), Expect: v1alpha1.ExpectDeny},
			{Name: "orders-to-dns-server", From: orders, To: host("10.96.0.10", 53), Protocol: v1alpha1.ProtocolUDP, Expect: v1alpha1.ExpectAllow},
			{Name: "catalog-resolves-orders", From: catalog, To: dns("orders.bookstore.svc.cluster.local"), Expect: v1alpha1.ExpectAllow},
			{Name: "storefront-to-redis", From: storefront, To: svc("redis", 6379), Expect: v1alpha1.ExpectDeny},
			{Name: "probe-denied", From: v1alpha1.Source{Namespace: "restricted"}, To: host("fd00::1", 443), Expect: v1alpha1.ExpectAllow},
			{Name: "storefront-to-catalog-2", From: storefront, To: catalogSvc, Expect: v1alpha1.ExpectAllow},
		}},
		Status: v1alpha1.ReachabilityTestStatus{
			LastRunStartTime: &start, LastRunCompletionTime: &end,
			Results: []v1alpha1.EdgeResult{
				{Edge: "storefront-to-catalog", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedTimeout, Verdict: v1alpha1.VerdictFail,
					Attempts: 3, Target: "10.96.0.12:8080/TCP", LatencyMilliseconds: 2001,
					Message: "Timeout 10.96.0.12:8080/TCP: unexpected deny, traffic the edge expects to be allowed was blocked"},
				pass("catalog-to-postgres", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, "10.96.0.13:5432/TCP", 4),
				{Edge: "orders-to-postgres", Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedConnected, Verdict: v1alpha1.VerdictFail,
					Attempts: 3, Target: "10.96.0.13:5432/TCP", LatencyMilliseconds: 2,
					Message: "Connected 10.96.0.13:5432/TCP: unexpected allow, traffic the edge expects to be denied got through"},
				{Edge: "intruder-to-postgres-pods", Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.ObservedRefused, Verdict: v1alpha1.VerdictInconclusive,
					Attempts: 1, Target: "10.244.1.7:5432/TCP", LatencyMilliseconds: 1,
					Message: "Refused 10.244.1.7:5432/TCP: denied, but nothing shows that the destination listens"},
				pass("orders-to-dns-server", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, "10.96.0.10:53/UDP", 1),
				{Edge: "catalog-resolves-orders", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedDNSFailure, Verdict: v1alpha1.VerdictFail,
					Attempts: 3, Target: "orders.bookstore.svc.cluster.local", LatencyMilliseconds: 2000,
					Message: "DNSFailure orders.bookstore.svc.cluster.local: NXDOMAIN <rcode 3> & no answer | \"retried\""},
				{Edge: "probe-denied", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedError, Verdict: v1alpha1.VerdictInconclusive,
					Message: "the probe could not run: pods \"rt-probe\" is forbidden:\nviolates PodSecurity \"restricted:latest\": *unschedulable* [node_selector]"},
				pass("storefront-to-catalog-2", v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, "10.96.0.12:8080/TCP", 3),
				// storefront-to-redis has no result: its run did not complete.
			},
		},
	}
	return []v1alpha1.ReachabilityTest{passing, failing}
}

func pass(name string, expect v1alpha1.Expectation, obs v1alpha1.Observation, target string, latencyMs int32) v1alpha1.EdgeResult {
	return v1alpha1.EdgeResult{Edge: name, Expected: expect, Observed: obs, Verdict: v1alpha1.VerdictPass, Attempts: 1, Target: target, LatencyMilliseconds: latencyMs, Message: string(obs) + " " + target}
}

func svc(name string, port int32) v1alpha1.Destination {
	return v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Name: name, Namespace: "bookstore", Port: intstr.FromInt32(port)}}
}

func pods(app string, port intstr.IntOrString) v1alpha1.Destination {
	return v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "bookstore", PodLabels: map[string]string{"app": app}, Port: port}}
}

func host(h string, port int32) v1alpha1.Destination {
	return v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: h, Port: port}}
}

func dns(name string) v1alpha1.Destination {
	return v1alpha1.Destination{DNS: &v1alpha1.DNSDestination{Name: name}}
}

func ptr[T any](v T) *T { return &v }

// TestJUnitEscapes: probe messages are free text; the XML must stay valid whatever they hold.
func TestJUnitEscapes(t *testing.T) {
	const nasty = "a ]]> b <c> & \"d\" \x00\x1b e"
	rt := v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "t"},
		Spec:       v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{{Name: "e", From: v1alpha1.Source{Namespace: "a"}, To: dns("a.example"), Expect: v1alpha1.ExpectAllow}}},
		Status: v1alpha1.ReachabilityTestStatus{Results: []v1alpha1.EdgeResult{
			{Edge: "e", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.ObservedDNSFailure, Verdict: v1alpha1.VerdictFail, Message: nasty},
		}},
	}
	var out bytes.Buffer
	if err := report.JUnit(&out, []v1alpha1.ReachabilityTest{rt}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failure string `xml:"testsuite>testcase>failure"`
	}
	if err := xml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, out.String())
	}
	if !strings.HasSuffix(doc.Failure, `a ]]> b <c> & "d" \x00\x1b e`) {
		t.Errorf("failure text %q", doc.Failure)
	}
}

// hostile is text a tenant could get into a status (a message, a target, a label value)
// to take over a terminal or a CI log: an ANSI sequence, a carriage return, a line of its
// own that a CI system reads as a command, a bidirectional override.
const hostile = "ok\x1b[2J\r\n::set-output name=passed::true\n##vso[task.complete result=Succeeded]\u202e\u009b31m"

// TestHostileTextIsEscaped renders a test whose every text from the cluster is hostile,
// in every format, and reads the output as a terminal and a CI log would.
func TestHostileTextIsEscaped(t *testing.T) {
	rt := v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "t"},
		Spec: v1alpha1.ReachabilityTestSpec{
			Edges: []v1alpha1.Edge{
				{Name: "e", From: v1alpha1.Source{Namespace: "a", PodLabels: map[string]string{"app": hostile}}, To: dns(hostile), Expect: v1alpha1.ExpectAllow},
				{Name: "unreported", From: v1alpha1.Source{Namespace: hostile}, To: host(hostile, 80), Expect: v1alpha1.ExpectDeny},
			},
			Canary: &v1alpha1.CanarySpec{},
		},
		Status: v1alpha1.ReachabilityTestStatus{
			Results: []v1alpha1.EdgeResult{{
				Edge: "e", Expected: v1alpha1.ExpectAllow, Observed: v1alpha1.Observation(hostile), Verdict: v1alpha1.VerdictFail,
				Target: hostile, Message: hostile, Diagnosis: v1alpha1.DiagnosisPolicyMismatch, Predicted: v1alpha1.ExpectDeny, Explanation: hostile,
			}},
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionNetworkPolicyEnforced, Status: metav1.ConditionFalse, Reason: "NotEnforced", Message: hostile}},
			Canary: &v1alpha1.CanaryStatus{Ingress: v1alpha1.Enforcement(hostile), Egress: v1alpha1.NotEnforced,
				Phases:    []v1alpha1.CanaryPhase{{Name: hostile, Expected: v1alpha1.ExpectDeny, Observed: v1alpha1.Observation(hostile), Message: hostile}},
				AdminTier: &v1alpha1.AdminTierStatus{Admin: v1alpha1.Enforcement(hostile), Baseline: v1alpha1.Unknown}},
		},
	}
	formats := map[string]func(io.Writer, []v1alpha1.ReachabilityTest) error{
		"table": report.Table, "markdown": report.Markdown, "json": report.JSON, "yaml": report.YAML, "junit": report.JUnit,
	}
	for name, render := range formats {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := render(&out, []v1alpha1.ReachabilityTest{rt}); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			switch name {
			case "json":
				text = decodedJSONStrings(t, out.Bytes())
			case "yaml":
				data, err := yaml.YAMLToJSON(out.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				text = decodedJSONStrings(t, data)
			}
			if !strings.Contains(text, `ok\x1b[2J\r\n`) {
				t.Errorf("the hostile message is not shown escaped:\n%s", text)
			}
			for line := range strings.Lines(text) {
				if i := strings.IndexFunc(line, func(r rune) bool { return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) }); i >= 0 {
					t.Errorf("a control character %q reaches the output: %q", line[i:], line)
				}
				if strings.HasPrefix(strings.TrimSpace(line), "::") || strings.Contains(line, "##vso[") {
					t.Errorf("a line a CI system reads as a command: %q", line)
				}
			}
		})
	}
}

// decodedJSONStrings is every string of a JSON document, decoded, one per line: what a
// script that prints them would print.
func decodedJSONStrings(t *testing.T, data []byte) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v + "\n")
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return b.String()
}
