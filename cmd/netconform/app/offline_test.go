package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The samples, from this package's directory.
const (
	bookstoreDir = "../../../config/samples/bookstore"
	threetierDir = "../../../config/samples/threetier"
)

// noCluster points every way of finding a cluster nowhere, so that a command that tried
// to reach one would fail.
func noCluster(t *testing.T) {
	t.Helper()
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-such-kubeconfig"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
}

// withStdin makes os.Stdin read data for the test.
func withStdin(t *testing.T, data []byte) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	saved := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = saved; f.Close() })
}

// TestOfflineSamplesPass: the Bookstore and the three tiers pass offline from their own
// manifests, with no cluster to be found, and the JUnit file has a passing case per edge.
func TestOfflineSamplesPass(t *testing.T) {
	noCluster(t)
	for _, tc := range []struct{ dir, test string }{{bookstoreDir, "bookstore"}, {threetierDir, "threetier"}} {
		t.Run(tc.test, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "junit.xml")
			code, out, errOut := runCLI("run", "--offline", "-f", filepath.Join(tc.dir, "reachabilitytest.yaml"), "--manifests", tc.dir, "--junit", junit)
			if code != ExitOK || !strings.HasPrefix(out, tc.test+" PASSED") {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			cases := junitFailures(t, junit)[tc.test]
			if len(cases) < 14 {
				t.Errorf("JUnit cases %v: want one per edge", cases)
			}
			for edge, failure := range cases {
				if failure != "" {
					t.Errorf("JUnit: edge %s failed (%s)", edge, failure)
				}
			}
		})
	}
}

// TestOfflineBrokenPolicyFails: a copy of the Bookstore's policies with one deliberate
// bug (a namespaceSelector and a podSelector split into two peers) fails offline on the
// edge it opens, with the policy and rule that open it.
func TestOfflineBrokenPolicyFails(t *testing.T) {
	noCluster(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := runCLI("run", "--offline", "-f", filepath.Join(bookstoreDir, "reachabilitytest.yaml"),
		"--manifests", filepath.Join(bookstoreDir, "namespaces.yaml"), "--manifests", filepath.Join(bookstoreDir, "workloads.yaml"),
		"--manifests", "testdata/offline/bookstore-broken", "--junit", junit)
	if code != ExitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"bookstore FAILED: 17 edges, 16 passed, 1 failed, 0 inconclusive",
		"FAIL ingress-to-postgres: expected Deny",
		"PolicyMismatch: the policies say Allow",
		"allowed by bookstore/postgres-from-catalog ingress rule 1 (from all pods in all namespaces or pods app=catalog in bookstore, port 5432/TCP)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if got := junitFailures(t, junit)["bookstore"]["ingress-to-postgres"]; got != "UnexpectedAllow" {
		t.Errorf("JUnit failure of ingress-to-postgres %q, want UnexpectedAllow", got)
	}
}

// TestOfflineReadsManifestsFromStdin: what kustomize build or helm template writes, piped.
func TestOfflineReadsManifestsFromStdin(t *testing.T) {
	noCluster(t)
	var all []byte
	for _, f := range []string{"namespaces.yaml", "workloads.yaml", "policies.yaml"} {
		data, err := os.ReadFile(filepath.Join(bookstoreDir, f))
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, "\n---\n"...), data...)
	}
	withStdin(t, all)
	code, out, errOut := runCLI("run", "--offline", "-f", filepath.Join(bookstoreDir, "reachabilitytest.yaml"), "--manifests", "-", "--output", "json")
	if code != ExitOK || !strings.Contains(out, `"passed": true`) {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestOfflineMalformedManifestsNameFileAndLine: nothing is predicted from manifests the
// API server would refuse; every problem is named with its file, line and field.
func TestOfflineMalformedManifestsNameFileAndLine(t *testing.T) {
	noCluster(t)
	code, out, errOut := runCLI("run", "--offline", "-f", filepath.Join(bookstoreDir, "reachabilitytest.yaml"), "--manifests", "testdata/offline/malformed")
	if code != ExitUsage || out != "" {
		t.Fatalf("exit %d, want 2, and no report\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		`testdata/offline/malformed/policies.yaml:10: NetworkPolicy: unknown field "spec.ingress[0].form"`,
		`testdata/offline/malformed/policies.yaml:20: NetworkPolicy bad-cidr: spec.egress[0].to[0].ipBlock.cidr "10.0.0.300/24" is not a CIDR`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestOfflineFlagsThatCannotMeanWhatTheySay are refused with the fix.
func TestOfflineFlagsThatCannotMeanWhatTheySay(t *testing.T) {
	noCluster(t)
	test := filepath.Join(bookstoreDir, "reachabilitytest.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--offline"}, "--offline needs --manifests"},
		{[]string{"--manifests", bookstoreDir}, "--manifests is read only with --offline"},
		{[]string{"--dry-run"}, "--dry-run needs --policies"},
		{[]string{"--policies", bookstoreDir}, "--policies is read only with --dry-run"},
		{[]string{"--offline", "--dry-run", "--manifests", bookstoreDir, "--policies", bookstoreDir}, "choose one"},
		{[]string{"--offline", "--manifests", "-", "--wait-only"}, "--offline and --wait-only"},
	} {
		code, _, errOut := runCLI(append([]string{"run", "-f", test}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("run %v: exit %d, stderr %q: want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	code, _, errOut := runCLI("run", "-f", "-", "--offline", "--manifests", "-")
	if code != ExitUsage || !strings.Contains(errOut, "stdin can be read only once") {
		t.Errorf("-f - --manifests -: exit %d, stderr %q", code, errOut)
	}
}
