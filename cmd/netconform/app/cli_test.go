package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/explain"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/probes"
)

// offlineBookstore is an offline run of the Bookstore, which passes, with no cluster.
var offlineBookstore = []string{"run", "--offline", "-f", bookstoreDir + "/reachabilitytest.yaml", "--manifests", bookstoreDir}

// TestRunPrintsEveryFormat: -o table, json, yaml and markdown each print the whole run,
// and the machine formats carry each edge's prediction and explanation.
func TestRunPrintsEveryFormat(t *testing.T) {
	noCluster(t)
	for _, tc := range []struct {
		output string
		want   []string
	}{
		{"table", []string{"bookstore PASSED: 17 edges", "Legend:"}},
		{"markdown", []string{"### ✅ bookstore", "| source |"}},
		{"json", nil},
		{"yaml", nil},
	} {
		t.Run(tc.output, func(t *testing.T) {
			code, out, errOut := runCLI(append(slices.Clone(offlineBookstore), "-o", tc.output)...)
			if code != ExitOK {
				t.Fatalf("exit %d, want 0\nstderr:\n%s", code, errOut)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tc.output == "json" || tc.output == "yaml" {
				checkMachineReport(t, []byte(out))
			}
		})
	}
}

// checkMachineReport reads a JSON or YAML report: passed, 17 results, each predicted
// and explained.
func checkMachineReport(t *testing.T, out []byte) {
	t.Helper()
	data, err := yaml.YAMLToJSON(out) // JSON is YAML too
	if err != nil {
		t.Fatalf("not JSON or YAML: %v\n%s", err, out)
	}
	var doc struct {
		Passed bool
		Tests  []struct {
			Results []struct{ Edge, Verdict, Predicted, Explanation string }
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil || !doc.Passed || len(doc.Tests) != 1 || len(doc.Tests[0].Results) != 17 {
		t.Fatalf("report %+v (%v), want one passed test of 17 results\n%s", doc, err, out)
	}
	for _, r := range doc.Tests[0].Results {
		if r.Predicted == "" || r.Explanation == "" {
			t.Errorf("edge %s: predicted %q, explanation %q: want both", r.Edge, r.Predicted, r.Explanation)
		}
	}
}

// TestFlagsGoAnywhere: flags after arguments, flags in any order, the long and short
// names kubectl uses beside the names the flag package gave.
func TestFlagsGoAnywhere(t *testing.T) {
	noCluster(t)
	test := bookstoreDir + "/reachabilitytest.yaml"
	for name, args := range map[string][]string{
		"-f last":                   {"run", "--manifests", bookstoreDir, "-o", "json", "--offline", "-f", test},
		"--filename and --output=":  {"run", "--offline", "--filename", test, "--manifests=" + bookstoreDir, "--output=json"},
		"--f, as the flag package":  {"run", "--offline", "--f", test, "--manifests", bookstoreDir, "--output", "json"},
		"-f=value":                  {"run", "-f=" + test, "--offline", "--manifests", bookstoreDir, "-ojson"},
		"flags before the command":  {"run", "-o", "json", "--offline", "--manifests", bookstoreDir, "-f", test},
		"end of flags, then no arg": {"run", "-o", "json", "--offline", "--manifests", bookstoreDir, "-f", test, "--"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(args...)
			if code != ExitOK {
				t.Fatalf("exit %d, want 0\nstderr:\n%s", code, errOut)
			}
			checkMachineReport(t, []byte(out))
		})
	}
	// An argument after the flags is still refused, with where it belongs.
	code, _, errOut := runCLI("run", "--offline", "--manifests", bookstoreDir, "-f", test, "-o", "json", "extra")
	if code != ExitUsage || !strings.Contains(errOut, `unexpected argument "extra": give files with -f`) {
		t.Errorf("a stray argument after the flags: exit %d, stderr %q", code, errOut)
	}
}

// TestCallersCommandLinesParse: every command line netconform's own manifests and pods
// give the binary (probe pods, canary pods, the manager's Deployment, the gate's Job,
// the benchmark's connect) parses to what it says.
func TestCallersCommandLinesParse(t *testing.T) {
	spec := v1alpha1.ReachabilityTestSpec{ProbeTimeoutSeconds: 3, Attempts: 2}
	settings := probes.PodSettings{Settle: 1500 * time.Millisecond, MaxSettle: 10 * time.Second}
	checks := []probes.Check{{Edge: "e", Kind: probes.KindTCP, Host: "10.0.0.1", Port: 80}}
	names := canary.Names{ID: "abc", Namespace: "ns"}
	lines := map[string][]string{
		"probe pod":     append([]string{"probe"}, probes.ProbeArgs(spec, settings, checks)...),
		"canary server": canary.ServerPod(names, canary.PodSettings{}).Spec.Containers[0].Args,
		"canary client": canary.ClientPod(names, canary.PodSettings{}, "10.0.0.2").Spec.Containers[0].Args,
		"benchmark":     {"connect", "10.0.0.3:80", "--timeout=1s", "--protocol=tcp"},
		"manager":       containerArgs[appsv1.Deployment](t, "../../../config/manager/manager.yaml"),
		"gate job":      containerArgs[batchv1.Job](t, "../../../config/job/job.yaml"),
	}
	for name, args := range lines {
		t.Run(name, func(t *testing.T) {
			code := ExitOK
			cmd, rest, err := newRootCommand("netconform", &code).Find(args)
			if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Fatalf("%q: %v", args, err)
			}
		})
	}
	// The probe reads what the controller wrote.
	code := ExitOK
	probe := newProbeCommand(&code)
	if err := probe.ParseFlags(probes.ProbeArgs(spec, settings, checks)); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"timeout": "3s", "attempts": "2", "settle": "1.5s", "max-settle": "10s", "checks": probes.EncodeChecks(checks)} {
		if got := probe.Flag(flag).Value.String(); got != want {
			t.Errorf("probe --%s = %q, want %q", flag, got, want)
		}
	}
}

// containerArgs are the args of the first container of the workload in a manifest.
func containerArgs[W appsv1.Deployment | batchv1.Job](t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w W
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	var args []string
	switch w := any(&w).(type) {
	case *appsv1.Deployment:
		args = w.Spec.Template.Spec.Containers[0].Args
	case *batchv1.Job:
		args = w.Spec.Template.Spec.Containers[0].Args
	}
	if len(args) == 0 {
		t.Fatalf("%s: no args", path)
	}
	return args
}

// TestServeTakesRepeatedPorts: --tcp given twice listens on both, as the samples'
// proxy asks; the flag package kept only the last.
func TestServeTakesRepeatedPorts(t *testing.T) {
	code := ExitOK
	serve := newServeCommand(&code)
	if err := serve.ParseFlags([]string{"--tcp", "3128", "--tcp", "8080,9090"}); err != nil {
		t.Fatal(err)
	}
	tcp, err := serve.Flags().GetStringArray("tcp")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := parseOptionalPorts(strings.Join(tcp, ","))
	if err != nil || !slices.Equal(ports, []int{3128, 8080, 9090}) {
		t.Errorf("--tcp %q: ports %v (%v), want all three", tcp, ports, err)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			code, out, errOut := runCLI("completion", shell)
			if code != ExitOK || len(out) < 1000 || !strings.Contains(out, "netconform") {
				t.Errorf("exit %d, %d bytes of script, stderr %q: want a script for netconform", code, len(out), errOut)
			}
		})
	}
	// The shell asks the binary what completes -o: the formats of the command.
	for cmd, want := range map[string]string{"run": "table\njson\nyaml\nmarkdown\n", "generate": "yaml\njson\n"} {
		code, out, _ := runCLI("__complete", cmd, "-o", "")
		if code != ExitOK || !strings.HasPrefix(out, want) {
			t.Errorf("completing %s -o: exit %d, %q, want %q first", cmd, code, out, want)
		}
	}
}

func TestSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rnu", "-f", "x"}, "unknown command \"rnu\" for \"netconform\"\n\nDid you mean this?\n\trun\n"},
		{[]string{"explian"}, "Did you mean this?\n\texplain\n"},
		{[]string{"run", "--ouptut", "json"}, "unknown flag: --ouptut\n\nDid you mean this?\n\t--output\n"},
		{[]string{"run", "--kubeconfg", "x"}, "Did you mean this?\n\t--kubeconfig\n"},
		{[]string{"generate", "--namspace", "shop"}, "Did you mean this?\n\t--namespace\n"},
		{[]string{"run", "--junti", "x.xml"}, "Did you mean this?\n\t--junit\n"},
		// A long flag with one dash, as the flag package took it.
		{[]string{"probe", "-timeout=1s"}, "Did you mean this?\n\t--timeout\n"},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	// Nothing close: no suggestion, but the usage hint.
	code, _, errOut := runCLI("run", "--zzzzzzzz")
	if code != ExitUsage || strings.Contains(errOut, "Did you mean") || !strings.Contains(errOut, "See 'netconform run --help' for usage.") {
		t.Errorf("an unknown flag like no other: exit %d, stderr %q", code, errOut)
	}
}

// TestKubectlPluginName: installed as kubectl-netconform, the same binary names itself
// `kubectl netconform` in its help.
func TestKubectlPluginName(t *testing.T) {
	for binary, want := range map[string]string{
		"netconform": "netconform", "/usr/local/bin/netconform": "netconform", "netconform-linux-amd64": "netconform",
		"kubectl-netconform": "kubectl netconform", "/home/u/.krew/bin/kubectl-netconform": "kubectl netconform",
		"kubectl-netconform.exe": "kubectl netconform",
	} {
		if got := displayName(binary); got != want {
			t.Errorf("displayName(%q) = %q, want %q", binary, got, want)
		}
	}
	var out, errOut bytes.Buffer
	if code := RunAs("/home/u/.krew/bin/kubectl-netconform", []string{"run", "--help"}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"kubectl netconform run -f FILE|DIR|- [flags]", "  kubectl netconform run -f tests/ --junit netconform.xml"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	// kubectl completes `kubectl netconform ...` by running kubectl_complete-netconform.
	out.Reset()
	if code := RunAs("/home/u/bin/kubectl_complete-netconform", []string{"run", "-o", ""}, &out, &errOut); code != ExitOK || !strings.HasPrefix(out.String(), "table\njson\nyaml\nmarkdown\n") {
		t.Errorf("kubectl_complete-netconform run -o: exit %d, %q", code, out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := RunAs("kubectl-netconform", []string{"rnu"}, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "See 'kubectl netconform --help' for usage.") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestClientFlagsReachTheClient: kubectl's flags set what client-go sends.
func TestClientFlagsReachTheClient(t *testing.T) {
	path := writeKubeconfig(t, "kubeconfig", "127.0.0.1")
	for command, config := range clusterOf {
		if command == "manager" {
			continue // the manager keeps controller-runtime's two flags
		}
		cfg, err := config([]string{"--kubeconfig", path, "--as", "alice", "--as-group", "team-a", "--request-timeout", "7s", "--server", "https://10.1.2.3:6443"})
		if err != nil {
			t.Fatalf("%s: %v", command, err)
		}
		if cfg.Impersonate.UserName != "alice" || !slices.Equal(cfg.Impersonate.Groups, []string{"team-a"}) || cfg.Timeout != 7*time.Second || cfg.Host != "https://10.1.2.3:6443" {
			t.Errorf("%s: impersonate %+v, timeout %s, host %s", command, cfg.Impersonate, cfg.Timeout, cfg.Host)
		}
	}
	code, _, errOut := runCLI("run", "-n", "shop", "-f", "testdata/valid.yaml")
	if code != ExitUsage || !strings.Contains(errOut, "unknown shorthand flag: 'n'") {
		t.Errorf("run -n: exit %d, stderr %q: tests are cluster-scoped, want -n refused", code, errOut)
	}
}

func TestGenerateOutputs(t *testing.T) {
	noCluster(t)
	for _, output := range []string{"table", "markdown", "xml"} {
		code, out, errOut := runCLI("generate", "-n", "shop", "-o", output)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, `--output "`+output+`"`) || !strings.Contains(errOut, "use yaml or json") {
			t.Errorf("-o %s: exit %d, stderr %q: want 2 naming yaml and json", output, code, errOut)
		}
	}
	code, _, errOut := runCLI("generate", "-n", "Shop")
	if code != ExitUsage || !strings.Contains(errOut, `--namespace "Shop" is not a namespace name`) {
		t.Errorf("-n Shop: exit %d, stderr %q", code, errOut)
	}
	manifest, err := generateYAML(context.Background(), shopCluster(), policykinds.Fixed{}, "shop", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := asJSON(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var rt v1alpha1.ReachabilityTest
	if err := json.Unmarshal(js, &rt); err != nil || rt.Kind != "ReachabilityTest" || rt.Name != "generated-shop" || len(rt.Spec.Edges) != 6 {
		t.Errorf("the JSON test %s/%s with %d edges (%v), want generated-shop with 6:\n%s", rt.Kind, rt.Name, len(rt.Spec.Edges), err, js)
	}
}

func TestExplainOutputs(t *testing.T) {
	answer := explain.Answer{Allowed: true, Tiers: []string{"NetworkPolicy"}, Reasons: []string{"allowed by shop/db-ingress ingress rule 0"}, Caveats: []string{"named port"}}
	doc := newAnswerDocument(answer)
	doc.From, doc.To, doc.Protocol = "shop/app=web", "svc/shop/db:5432", "TCP"
	doc.WhatIf = &whatIf{PoliciesAdded: 1, Before: "DENIED", After: "ALLOWED", Changed: true}
	want := map[string][]string{
		"table": {"What-if with 1 policies added (nothing applied): DENIED before, ALLOWED after (changed)\nALLOWED\ntier: NetworkPolicy\nallowed by shop/db-ingress ingress rule 0\ncaveat: named port\n"},
		"markdown": {"**ALLOWED** `shop/app=web` → `svc/shop/db:5432` (TCP)", "- allowed by shop/db-ingress ingress rule 0\n", "- caveat: named port\n",
			"DENIED before, ALLOWED after (changed)"},
	}
	for _, format := range answerFormats {
		var out bytes.Buffer
		if err := doc.write(&out, format); err != nil {
			t.Fatal(err)
		}
		for _, w := range want[format] {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s lacks %q:\n%s", format, w, out.String())
			}
		}
		if format != "json" && format != "yaml" {
			continue
		}
		data, err := yaml.YAMLToJSON(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var got answerDocument
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if a, b := mustJSON(t, got), mustJSON(t, doc); a != b {
			t.Errorf("%s round trip: %s, want %s", format, a, b)
		}
	}
	code, out, errOut := runCLI("explain", "--from", "shop", "--to", "svc/shop/db:5432", "-o", "wide")
	if code != ExitUsage || out != "" || !strings.Contains(errOut, `--output "wide": use table, json, yaml, markdown`) {
		t.Errorf("-o wide: exit %d, stderr %q", code, errOut)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
