//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestKubectlPlugin: the binary installed as kubectl-netconform on PATH is `kubectl
// netconform`, and kubectl completes its command lines through kubectl_complete-netconform;
// `kubectl netconform run -f tests.yaml -o json` runs a test on the cluster
// as a user would, and its JSON holds every edge with its verdict, the policies'
// prediction and their explanation. On the no-op profile the Deny edge fails, exit 1,
// diagnosed as the dataplane's fault.
func TestKubectlPlugin(t *testing.T) {
	ns := namespace("plugin")
	s := newScenario(t, ns)
	web := labels("app", "web")
	s.deploy(ns, workload{name: "web", labels: web, ports: []port{{name: "http", number: 8080}}})
	s.create(allowIngress(ns, "web-from-client", selector(web), peers(podPeer(selector(labels("app", "client")))), tcpPorts(8080)))
	edges := []v1alpha1.Edge{
		allow("client-to-web", source(ns, labels("app", "client")), toService(ns, "web", 8080)),
		deny("stranger-to-web", source(ns, labels("app", "stranger")), toService(ns, "web", 8080)),
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "tests.yaml")
	if err := os.WriteFile(file, testYAML("e2e-kubectl-plugin", edges), 0o644); err != nil {
		t.Fatal(err)
	}
	s.tests = append(s.tests, "e2e-kubectl-plugin")
	kubectl := installPlugin(t, dir)

	help := pluginCommand(t, kubectl, dir, "netconform", "--help")
	if out, err := help.Output(); err != nil || !strings.Contains(string(out), "kubectl netconform [command]") {
		s.fatalf("kubectl netconform --help: %v\n%s", err, out)
	}
	complete := pluginCommand(t, kubectl, dir, "__complete", "netconform", "run", "-o", "")
	if out, err := complete.Output(); err != nil || !strings.HasPrefix(string(out), "table\njson\nyaml\nmarkdown\n") {
		s.fatalf("kubectl completing `kubectl netconform run -o`: %v\n%s", err, out)
	}
	run := pluginCommand(t, kubectl, dir, "netconform", "run", "-f", file, "-o", "json", "--timeout", "3m")
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	started := time.Now()
	err := run.Run()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		s.fatalf("kubectl netconform run: %v", err)
	}
	t.Logf("kubectl netconform run exited %d in %s:\n%s%s", code, time.Since(started).Round(time.Second), stdout.String(), stderr.String())
	want := map[profile]int{enforcing: 0, noop: 1}[cfg.profile]
	if code != want {
		s.fatalf("kubectl netconform run exited %d on profile %s, want %d", code, cfg.profile, want)
	}
	checkPluginReport(s, stdout.Bytes())
}

// installPlugin builds the binary as kubectl-netconform into dir, with the link kubectl
// runs to complete its command lines, and returns kubectl.
func installPlugin(t *testing.T, dir string) string {
	t.Helper()
	// Built as go test built this suite, so that the build cache has every package.
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(dir, "kubectl-netconform"), "../cmd/netconform")
	started := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-netconform: %v\n%s", err, out)
	}
	t.Logf("built kubectl-netconform in %s", time.Since(started).Round(time.Second))
	if err := os.Link(filepath.Join(dir, "kubectl-netconform"), filepath.Join(dir, "kubectl_complete-netconform")); err != nil {
		t.Fatal(err)
	}
	bins, err := exec.CommandContext(t.Context(), "../hack/k8s-binaries.sh", "kubectl").Output()
	if err != nil {
		t.Fatalf("finding kubectl: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(bins)), "kubectl")
}

// pluginCommand is kubectl with the plugin's folder first on PATH, as krew puts it.
func pluginCommand(t *testing.T, kubectl, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), kubectl, args...)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cmd
}

// checkPluginReport reads the JSON: both edges, with verdicts as the profile has them,
// each predicted as declared and explained, and the no-op cluster's hole blamed on the
// dataplane.
func checkPluginReport(s *scenario, out []byte) {
	s.t.Helper()
	var doc struct {
		Tests []struct {
			Name    string
			Results []struct{ Edge, Expected, Verdict, Predicted, Diagnosis, Explanation string }
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Tests) != 1 || len(doc.Tests[0].Results) != 2 {
		s.fatalf("the JSON report (%v) does not hold one test of two edges:\n%s", err, out)
	}
	for _, r := range doc.Tests[0].Results {
		wantVerdict, wantDiagnosis := "Pass", ""
		if cfg.profile == noop && r.Expected == "Deny" {
			wantVerdict, wantDiagnosis = "Fail", string(v1alpha1.DiagnosisDataplaneMismatch)
		}
		if r.Verdict != wantVerdict || r.Diagnosis != wantDiagnosis {
			s.fatalf("edge %s: verdict %s, diagnosis %q; want %s, %q", r.Edge, r.Verdict, r.Diagnosis, wantVerdict, wantDiagnosis)
		}
		if r.Predicted != r.Expected || r.Explanation == "" {
			s.fatalf("edge %s: predicted %q, explanation %q; want %s, explained", r.Edge, r.Predicted, r.Explanation, r.Expected)
		}
	}
}
