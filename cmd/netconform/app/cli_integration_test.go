package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestREADMECLIExamples runs the command lines of the README's "The command line and
// the kubectl plugin" as written, from the repository's root, on the Bookstore: each
// exits as its comment says (0 without one), and prints what its -o asks for.
func TestREADMECLIExamples(t *testing.T) {
	deployBookstore(t)
	t.Chdir("../../..")
	lines := readmeLines(t, "## The command line and the kubectl plugin", func(line string) bool {
		return strings.HasPrefix(line, "netconform ") || strings.HasPrefix(line, "kubectl netconform ")
	})
	if len(lines) < 6 {
		t.Fatalf("README examples %q: want run, the plugin, explain, generate and completion", lines)
	}
	kubeconfig := envKubeconf
	noCluster(t)
	dir := t.TempDir()
	for _, line := range lines {
		t.Run(line, func(t *testing.T) {
			binary, args, redirect, want := readmeCommandLine(t, line)
			if !slices.Contains(args, "--offline") && args[0] != "completion" {
				args = append(args, "--kubeconfig", kubeconfig)
			}
			var out, errOut bytes.Buffer
			if code := RunAs(binary, args, &out, &errOut); code != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out.String(), errOut.String())
			}
			checkPrinted(t, args, out.Bytes())
			if redirect != "" {
				if err := os.WriteFile(filepath.Join(dir, redirect), out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// readmeCommandLine splits a README line into the binary it calls (kubectl runs
// kubectl-netconform), its arguments, the file it redirects stdout to, and the exit code
// its "# exit N" comment gives.
func readmeCommandLine(t *testing.T, line string) (binary string, args []string, redirect string, exit int) {
	t.Helper()
	line, comment, _ := strings.Cut(line, "#")
	if n, ok := strings.CutPrefix(strings.TrimSpace(comment), "exit "); ok {
		code, err := strconv.Atoi(n[:1])
		if err != nil {
			t.Fatalf("%q: the comment names no exit code", comment)
		}
		exit = code
	}
	line, redirect, _ = strings.Cut(line, " > ")
	binary = "netconform"
	if rest, ok := strings.CutPrefix(line, "kubectl netconform "); ok {
		binary, line = "kubectl-netconform", "netconform "+rest
	}
	return binary, strings.Fields(strings.TrimPrefix(line, "netconform ")), strings.TrimSpace(redirect), exit
}

// checkPrinted: what a command printed is what its -o (or completion) promises.
func checkPrinted(t *testing.T, args []string, out []byte) {
	t.Helper()
	output := "table"
	if i := slices.Index(args, "-o"); i >= 0 {
		output = args[i+1]
	}
	switch {
	case args[0] == "completion":
		if len(out) < 1000 {
			t.Errorf("a completion script of %d bytes", len(out))
		}
	case output == "json":
		if !json.Valid(out) {
			t.Errorf("not JSON:\n%s", out)
		}
	case output == "yaml":
		if _, err := yaml.YAMLToJSON(out); err != nil || len(out) == 0 {
			t.Errorf("not YAML (%v):\n%s", err, out)
		}
	case output == "markdown":
		if !bytes.HasPrefix(out, []byte("**")) && !bytes.HasPrefix(out, []byte("## ")) {
			t.Errorf("not the markdown of explain or run:\n%s", out)
		}
	}
}
