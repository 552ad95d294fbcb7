//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

// actionMetadata is the GitHub Actions metadata schema (action.yml) as far as a composite
// action uses it; decoding is strict, so a misspelt key fails the test.
type actionMetadata struct {
	Name        string                        `json:"name"`
	Description string                        `json:"description"`
	Author      string                        `json:"author,omitempty"`
	Branding    *struct{ Icon, Color string } `json:"branding,omitempty"`
	Inputs      map[string]actionInput        `json:"inputs"`
	Outputs     map[string]struct {
		Description string `json:"description"`
		Value       string `json:"value"`
	} `json:"outputs,omitempty"`
	Runs struct {
		Using string       `json:"using"`
		Steps []actionStep `json:"steps"`
	} `json:"runs"`
}

type actionInput struct {
	Description        string `json:"description"`
	Required           bool   `json:"required,omitempty"`
	Default            string `json:"default,omitempty"`
	DeprecationMessage string `json:"deprecationMessage,omitempty"`
}

type actionStep struct {
	Name             string            `json:"name,omitempty"`
	ID               string            `json:"id,omitempty"`
	If               string            `json:"if,omitempty"`
	Run              string            `json:"run,omitempty"`
	Shell            string            `json:"shell,omitempty"`
	Uses             string            `json:"uses,omitempty"`
	With             map[string]string `json:"with,omitempty"`
	Env              map[string]string `json:"env,omitempty"`
	WorkingDirectory string            `json:"working-directory,omitempty"`
	ContinueOnError  bool              `json:"continue-on-error,omitempty"`
}

// TestAction runs action.yml's steps as GitHub's runner would, with a locally built
// binary: the gate must end as the tests do on this profile, with JUnit naming exactly the
// failing edges and the markdown report in the step summary.
func TestAction(t *testing.T) {
	ns := namespace("action")
	s := newScenario(t, ns)
	client, server := labels("app", "client"), labels("app", "server")
	s.deploy(ns,
		workload{name: "server", labels: server, ports: []port{{name: "http", number: 8080, servicePort: 80}}},
		workload{name: "client", labels: client, ports: []port{{name: "http", number: 8080}}},
	)
	s.create(
		denyAll(ns, ingressOnly),
		allowIngress(ns, "server-from-client", selector(server), peers(podPeer(selector(client))), namedPorts("http")),
	)
	// Two files, so that the files input's lines each become a -f.
	tests := map[string][]v1alpha1.Edge{
		"e2e-action-allowed": {allow("action-client-to-server", source(ns, client), toService(ns, "server", 80))},
		"e2e-action-denied":  {deny("action-stranger-to-server", source(ns, nil), toPods(ns, server, intstr.FromInt32(8080)))},
	}
	dir := t.TempDir()
	var files []string
	var edges []v1alpha1.Edge
	for name, es := range tests {
		file := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(file, testYAML(name, es), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
		edges = append(edges, es...)
		s.tests = append(s.tests, name)
	}

	meta := readAction(t)
	bin := buildGate(t, "0.0.0-action-e2e")
	junit, summary := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "summary.md")
	code, log := runAction(t, meta, dir, summary, map[string]string{
		"files":      "\n  " + strings.Join(files, "\n  ") + "\n",
		"binary-dir": bin,
		"junit":      junit,
		"wait-only":  "true", // the suites deploy the operator
		"args":       "--timeout 3m",
	})
	t.Logf("action exited %d:\n%s", code, log)

	var wantFailed []string
	for name, es := range tests {
		wantFailed = append(wantFailed, s.expectedFailures(name, es)...)
	}
	slices.Sort(wantFailed)
	if want := map[bool]int{true: 0, false: 1}[len(wantFailed) == 0]; code != want {
		s.fatalf("the action exited %d on profile %s, want %d", code, cfg.profile, want)
	}
	if !strings.Contains(log, "0.0.0-action-e2e") {
		s.fatalf("the action did not run the binary of binary-dir (its version 0.0.0-action-e2e is not in the log)")
	}
	if failed := junitFailures(s, junit); !slices.Equal(failed, wantFailed) {
		s.fatalf("JUnit names the failing edges %v, want %v", failed, wantFailed)
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		s.fatalf("the step summary was not written: %v", err)
	}
	passed := len(tests)
	if len(wantFailed) > 0 {
		passed = 1
	}
	for _, want := range []string{fmt.Sprintf("netconform: %d of 2 tests passed", passed), "e2e-action-allowed", "e2e-action-denied"} {
		if !strings.Contains(string(md), want) {
			s.fatalf("the step summary lacks %q:\n%s", want, md)
		}
	}
	countEdges(len(edges), runCounts{asExpected: len(edges)})
	report("action exit=%d junit-failures=%d summary-bytes=%d", code, len(wantFailed), len(md))

	// A binary-dir without the binary fails in the install step, naming the input.
	code, log = runAction(t, meta, dir, summary, map[string]string{"files": files[0], "binary-dir": dir})
	if code == 0 || !strings.Contains(log, "binary-dir:") {
		s.fatalf("with no binary in binary-dir the action exited %d, want a failure naming binary-dir:\n%s", code, log)
	}

	// A version that is not a release, such as one climbing out of the release's path,
	// fails before anything is downloaded. A curl that only says it was called stands in
	// for the real one, so a failing check sends nothing anywhere.
	fake := t.TempDir()
	if err := os.WriteFile(filepath.Join(fake, "curl"), []byte("#!/bin/sh\necho 'curl was called' >&2\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, version := range []string{"1.2.3/../../../attacker/netconform/releases/download/v1.2.3", "1.2.3 ", "latest"} {
		code, log = runAction(t, meta, dir, summary, map[string]string{"files": files[0], "version": version})
		if code != 2 || !strings.Contains(log, "::error::version:") || strings.Contains(log, "curl was called") {
			s.fatalf("with version %q the action exited %d, want 2 naming the version input before any download:\n%s", version, code, log)
		}
	}
}

// readAction decodes the repository's action.yml strictly and checks it is what
// runAction can play: a composite action of bash steps.
func readAction(t *testing.T) actionMetadata {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta actionMetadata
	if err := sigsyaml.UnmarshalStrict(data, &meta); err != nil {
		t.Fatalf("action.yml does not decode as action metadata: %v", err)
	}
	if meta.Name == "" || meta.Description == "" || meta.Runs.Using != "composite" || len(meta.Runs.Steps) == 0 {
		t.Fatalf("action.yml: want a named, described composite action with steps, got %+v", meta)
	}
	for _, step := range meta.Runs.Steps {
		if step.Shell != "bash" || step.Run == "" || step.Uses != "" || step.If != "" {
			t.Fatalf("action.yml step %q: the test plays bash run steps only (a composite step needs shell:)", step.Name)
		}
	}
	return meta
}

// buildGate builds netconform with the given version into a new directory.
func buildGate(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "netconform"),
		"-ldflags", "-X github.com/netconform/netconform/internal/version.Version="+version, "./cmd/netconform")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building netconform: %v\n%s", err, out)
	}
	return dir
}

var expression = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runAction plays GitHub's runner on the action's steps: expressions substituted in env
// and run, each step's script run by `bash --noprofile --norc -eo pipefail`, directories
// a step adds to GITHUB_PATH put on PATH for the next. It returns the first failing
// step's exit code (or 0) and the combined output.
func runAction(t *testing.T, meta actionMetadata, work, summary string, inputs map[string]string) (int, string) {
	t.Helper()
	for name := range inputs {
		if _, ok := meta.Inputs[name]; !ok {
			t.Fatalf("input %q is not declared in action.yml", name)
		}
	}
	eval := func(s string) string {
		return expression.ReplaceAllStringFunc(s, func(m string) string {
			expr := expression.FindStringSubmatch(m)[1]
			switch {
			case strings.HasPrefix(expr, "inputs."):
				name := strings.TrimPrefix(expr, "inputs.")
				in, ok := meta.Inputs[name]
				if !ok {
					t.Fatalf("action.yml uses undeclared input %q", name)
				}
				if v, given := inputs[name]; given {
					return v
				}
				if in.Required {
					t.Fatalf("required input %q not given", name)
				}
				return in.Default
			case expr == "github.action_ref":
				return "" // used at ./
			}
			t.Fatalf("action.yml uses expression %q, which this test cannot evaluate", expr)
			return ""
		})
	}
	var path []string
	var out bytes.Buffer
	for i, step := range meta.Runs.Steps {
		script := filepath.Join(work, fmt.Sprintf("step-%d.sh", i))
		githubPath := filepath.Join(work, fmt.Sprintf("github-path-%d", i))
		if err := os.WriteFile(script, []byte(eval(step.Run)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(githubPath, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(),
			"PATH="+strings.Join(append(slices.Clone(path), os.Getenv("PATH")), string(os.PathListSeparator)),
			"GITHUB_STEP_SUMMARY="+summary, "GITHUB_PATH="+githubPath, "GITHUB_ACTIONS=true",
			"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "RUNNER_TEMP="+work)
		for k, v := range step.Env {
			cmd.Env = append(cmd.Env, k+"="+eval(v))
		}
		cmd.Stdout, cmd.Stderr = &out, &out
		fmt.Fprintf(&out, "## step %q\n", step.Name)
		if err := cmd.Run(); err != nil {
			if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
				return exit.ExitCode(), out.String()
			}
			t.Fatalf("step %q: %v", step.Name, err)
		}
		added, err := os.ReadFile(githubPath)
		if err != nil {
			t.Fatal(err)
		}
		// Later additions come first on PATH, as on the runner.
		for _, dir := range strings.Fields(string(added)) {
			path = append([]string{dir}, path...)
		}
	}
	return 0, out.String()
}
