package app

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/version"
	"github.com/netconform/netconform/probes"
)

// runCLI runs the command line in-process and returns its exit code and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestRunExitCodes covers the answers that need no cluster: usage, bad flags and bad input.
func TestRunExitCodes(t *testing.T) {
	const nothingApplied = "nothing was applied"
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStdout []string
		wantStderr []string
		// wantNoStdout: the command printed nothing on stdout.
		wantNoStdout bool
	}{
		{name: "no arguments", args: nil, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"Usage:\n  netconform [command]", "run ", "probe ", "serve ", "version ", "completion "}},
		// Help is asked for: it goes to stdout, as kubectl's does.
		{name: "help", args: []string{"--help"}, want: ExitOK,
			wantStdout: []string{"Usage:\n  netconform [command]", "explain "}},
		{name: "help of a command", args: []string{"run", "--help"}, want: ExitOK,
			wantStdout: []string{"netconform run -f FILE|DIR|- [flags]", "-o, --output", "--kubeconfig", "--request-timeout"}},
		{name: "unknown command", args: []string{"frobnicate"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{`unknown command "frobnicate"`, "See 'netconform --help'"}},
		{name: "version", args: []string{"version"}, want: ExitOK,
			wantStdout: []string{version.Version}},
		{name: "run without -f", args: []string{"run"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"no tests", "-f"}},
		{name: "run with a stray argument", args: []string{"run", "-f", "testdata/valid.yaml", "extra"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{`unexpected argument "extra"`}},
		{name: "run with an unknown flag", args: []string{"run", "--bogus"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"bogus"}},
		{name: "run on a missing file", args: []string{"run", "-f", "testdata/missing.yaml"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"testdata/missing.yaml", "no such file", nothingApplied}},
		{name: "run on bad input", args: []string{"run", "-f", "testdata/bad.yaml"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{
				nothingApplied,
				`testdata/bad.yaml:11: unknown field "spec.atempts"`,
				"testdata/bad.yaml:20: spec.edges[0].to.service.port: Invalid value: 0",
				"testdata/bad.yaml:29: invalid YAML",
			}},
		{name: "run with an unknown output", args: []string{"run", "--output", "xml", "-f", "x"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{`--output "xml"`, "table, json, yaml, markdown"}},
		{name: "run with a zero timeout", args: []string{"run", "--timeout", "0s", "-f", "testdata/valid.yaml"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"--timeout"}},
		{name: "run without a cluster", args: []string{"run", "-f", "testdata/valid.yaml", "--kubeconfig", "/nonexistent"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"no cluster to run on", "/nonexistent", "--kubeconfig", "KUBECONFIG"}},
		{name: "serve without ports", args: []string{"serve"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"give at least one port", "--tcp"}},
		{name: "serve with a bad port", args: []string{"serve", "--tcp", "0"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"--tcp"}},
		{name: "probe with an unknown check kind", args: []string{"probe", "--checks", `[{"k":"bogus"}]`}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"--checks"}},
		{name: "probe with checks that are not JSON", args: []string{"probe", "--checks", "tcp://x"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"--checks", "decoding checks"}},
		{name: "manager with too many checks per pod", args: []string{"manager", "--max-checks-per-pod", "0"}, want: ExitUsage, wantNoStdout: true,
			wantStderr: []string{"--max-checks-per-pod"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.args...)
			if code != tc.want {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout, stderr)
			}
			if tc.wantNoStdout && stdout != "" {
				t.Errorf("stdout should be empty, got:\n%s", stdout)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestProbeOnLoopback runs the probe subcommand end to end against a listener of its
// own on 127.0.0.1: it must connect, print the check and write decodable results.
func TestProbeOnLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed
			}
			conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	termLog := filepath.Join(t.TempDir(), "termination-log")
	checks := probes.EncodeChecks([]probes.Check{{Edge: "loopback", Kind: probes.KindTCP, Host: "127.0.0.1", Port: int32(port)}})

	done := make(chan struct{})
	var code int
	var stdout, stderr string
	go func() {
		defer close(done)
		code, stdout, stderr = runCLI("probe", "--timeout=1s", "--attempts=1", "--settle=0s", "--termination-log", termLog, "--checks", checks)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("netconform probe did not return within 30s")
	}

	if code != ExitOK {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitOK, stdout, stderr)
	}
	if !strings.Contains(stdout, "loopback tcp "+target+" -> Connected") {
		t.Errorf("stdout does not report the check as connected:\n%s", stdout)
	}
	msg, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatalf("reading the termination log: %v", err)
	}
	results, err := probes.DecodeResults(string(msg))
	if err != nil {
		t.Fatalf("decoding the termination log: %v", err)
	}
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(results), results)
	}
	if r := results[0]; r.Observation != v1alpha1.ObservedConnected || r.Target != target || r.Attempts != 1 {
		t.Errorf("result %+v, want Connected to %s in 1 attempt", r, target)
	}
}
