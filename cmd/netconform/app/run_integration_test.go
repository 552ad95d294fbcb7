package app

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/config/crd"
	"github.com/netconform/netconform/internal/testkubelet"
	"github.com/netconform/netconform/probes"
)

// The `netconform run` tests share one kube-apiserver and etcd, started on first use
// WITHOUT the CRD, so that the first run must install it. There is no kubelet: the tests
// play it by writing probe results into the probe pods' status.
var (
	envOnce     sync.Once
	testEnv     *envtest.Environment
	envClient   client.Client
	envKubeconf string // a kubeconfig file for testEnv, as a user of `run` would pass it
	envErr      error
)

// The namespace and test that testdata/valid.yaml names.
const (
	gateNamespace = "netconform-gate"
	gateTest      = "gate"
	gateFile      = "testdata/valid.yaml"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testEnv != nil {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the API server: %v\n", err)
		}
	}
	if envKubeconf != "" {
		os.RemoveAll(filepath.Dir(envKubeconf))
	}
	os.Exit(code)
}

// requireAPIServer starts the shared API server, or fails a test that needs one when
// there is none. The plain tests of this package run either way.
func requireAPIServer(t *testing.T) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/k8s-binaries.sh etcd kube-apiserver kubectl)")
	}
	envOnce.Do(startAPIServer)
	if envErr != nil {
		t.Fatal(envErr)
	}
}

func startAPIServer() {
	env := &envtest.Environment{} // no CRDs: `run` installs the one it needs
	cfg, err := env.Start()
	if err != nil {
		envErr = fmt.Errorf("starting kube-apiserver and etcd: %w", err)
		return
	}
	testEnv = env
	scheme := newScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		envErr = err
		return
	}
	if envClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		envErr = fmt.Errorf("client: %w", err)
		return
	}
	dir, err := os.MkdirTemp("", "netconform-run-test-")
	if err != nil {
		envErr = err
		return
	}
	envKubeconf = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(envKubeconf, env.KubeConfig, 0o600); err != nil {
		envErr = fmt.Errorf("writing the kubeconfig: %w", err)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
}

// kubelet plays the kubelet for the probe pods in the gate namespace until ctx ends:
// every pod that has not finished ends with answer applied to each of its checks.
func kubelet(ctx context.Context, answer func(probes.Check) probes.Result) error {
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := envClient.List(ctx, &pods, client.InNamespace(gateNamespace), client.HasLabels{probes.LabelRun}); err != nil {
			return false, nil //nolint:nilerr // ctx ended, or a hiccup: the next poll retries
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			if err := testkubelet.Finish(ctx, envClient, pod, answer); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
				return false, err
			}
		}
		return false, nil
	})
	if ctx.Err() != nil {
		return nil //nolint:nilerr // stopped, as meant to
	}
	return err
}

// asExpected answers each check as its edge expects: connected, or refused.
func asExpected(c probes.Check) probes.Result {
	if c.Deny {
		return probes.Result{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: c.Address(), Latency: time.Millisecond}
	}
	return probes.Result{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: c.Address(), Latency: 2 * time.Millisecond}
}

// wideOpen connects every check, as a cluster without policy enforcement does.
func wideOpen(c probes.Check) probes.Result {
	return probes.Result{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: c.Address(), Latency: 2 * time.Millisecond}
}

// The JUnit XML, as much of it as the tests read.
type junitDoc struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// junitFailures reads a JUnit file into suite → edge → failure type ("" for a pass).
func junitFailures(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the JUnit file: %v", err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the JUnit file does not parse: %v\n%s", err, data)
	}
	out := map[string]map[string]string{}
	for _, s := range doc.Suites {
		out[s.Name] = map[string]string{}
		for _, c := range s.Cases {
			out[s.Name][c.Name] = ""
			if c.Failure != nil {
				out[s.Name][c.Name] = c.Failure.Type
			}
		}
	}
	return out
}

// hasRow tells whether text holds a line made of exactly these fields, such as a row of
// the truth table.
func hasRow(text string, fields ...string) bool {
	for line := range strings.Lines(text) {
		if slices.Equal(strings.Fields(line), fields) {
			return true
		}
	}
	return false
}

// requireGateNamespace creates the namespace the tests' probe pods run in.
func requireGateNamespace(t *testing.T) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gateNamespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := envClient.Create(context.Background(), ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("namespace: %v", err)
	}
}

// runOutcome is what one `netconform run` did.
type runOutcome struct {
	code           int
	stdout, stderr string
}

// runGate runs `netconform run` with args while answer plays the kubelet (nil: the probe
// pods stay pending), and fails the test when it does not return within 90s.
func runGate(t *testing.T, args []string, answer func(probes.Check) probes.Result) runOutcome {
	t.Helper()
	kctx, stopKubelet := context.WithCancel(context.Background())
	defer stopKubelet()
	kubeletDone := make(chan error, 1)
	if answer != nil {
		go func() { kubeletDone <- kubelet(kctx, answer) }()
	} else {
		kubeletDone <- nil
	}
	ran := make(chan runOutcome, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := Run(args, &stdout, &stderr)
		ran <- runOutcome{code, stdout.String(), stderr.String()}
	}()
	var got runOutcome
	select {
	case got = <-ran:
	case <-time.After(90 * time.Second):
		t.Fatal("netconform run did not return within 90s")
	}
	stopKubelet()
	if err := <-kubeletDone; err != nil {
		t.Errorf("playing the kubelet: %v", err)
	}
	return got
}

// TestRunAgainstAPIServer runs `netconform run` as CI would, against a real API server,
// while the test plays the kubelet. The cases run in order: the first installs the CRD,
// the next ones find the test of the one before.
func TestRunAgainstAPIServer(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()

	// The first run must find no CRD; with -count above 1, the run before installed it.
	rtCRD, err := crd.ReachabilityTest()
	if err != nil {
		t.Fatal(err)
	}
	if err := envClient.Delete(ctx, rtCRD.DeepCopy()); client.IgnoreNotFound(err) != nil {
		t.Fatalf("deleting the CRD: %v", err)
	}
	eventually(t, 30*time.Second, "the CRD to be absent", func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(envClient.Get(ctx, client.ObjectKey{Name: rtCRD.Name}, rtCRD.DeepCopy())), nil
	})
	requireGateNamespace(t)
	t.Cleanup(func() {
		// envtest runs no garbage collector: delete what the runs left.
		_ = envClient.Delete(ctx, &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: gateTest}})
		_ = envClient.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(gateNamespace), client.GracePeriodSeconds(0))
	})

	tests := []struct {
		name string
		// args follow `run -f testdata/valid.yaml --kubeconfig K --junit J --timeout 60s --probe-settle-time 0s`.
		args []string
		// answer plays the kubelet; nil leaves the probe pods pending forever.
		answer     func(probes.Check) probes.Result
		want       int
		wantStdout []string
		// wantRows are lines of the truth table, by their fields.
		wantRows   [][]string
		wantStderr []string
		notStderr  []string
		// wantJUnit is edge → failure type ("" for a pass); nil: no JUnit file is written.
		wantJUnit map[string]string
		// fresh: the run replaced the test left by the case before (a new UID).
		fresh bool
		// gone: the test no longer exists afterwards.
		gone bool
	}{{
		name:   "first run installs the CRD and passes",
		answer: asExpected,
		want:   ExitOK,
		wantStdout: []string{
			"gate PASSED: 3 edges, 3 passed, 0 failed, 0 inconclusive",
			"D1 = host 10.0.0.1:80", "D2 = host 10.0.0.2:5432",
		},
		wantRows: [][]string{
			{"from", `\`, "to", "D1", "D2"},
			{"netconform-gate/app=web", "✓", "✓"},
			{"netconform-gate/app=other", "✗", "."},
		},
		wantStderr: []string{
			"installed the ReachabilityTest CRD (reachabilitytests.netconform.io), which was missing",
			"applied 1 ReachabilityTests",
			"waiting for gate:", "probe pods",
			"1 of 1 tests complete",
		},
		notStderr: []string{"replacing"},
		wantJUnit: map[string]string{"web-to-api": "", "web-to-db": "", "other-to-api": ""},
	}, {
		name:   "second run replaces the test and fails on an unexpected allow",
		answer: wideOpen,
		want:   ExitFail,
		wantStdout: []string{
			"gate FAILED: 3 edges, 2 passed, 1 failed, 0 inconclusive",
			"FAIL other-to-api: expected Deny, observed Connected (10.0.0.1:80)",
		},
		wantRows: [][]string{
			{"netconform-gate/app=web", "✓", "✓"},
			{"netconform-gate/app=other", "X!", "."},
		},
		wantStderr: []string{"replacing the existing ReachabilityTest gate for a fresh run", "probe pods", "1 of 1 tests complete"},
		notStderr:  []string{"installed the ReachabilityTest CRD"},
		wantJUnit:  map[string]string{"web-to-api": "", "web-to-db": "", "other-to-api": "UnexpectedAllow"},
		fresh:      true,
	}, {
		name:       "cleanup deletes the test afterwards",
		args:       []string{"--cleanup"},
		answer:     asExpected,
		want:       ExitOK,
		wantStdout: []string{"gate PASSED"},
		wantStderr: []string{"replacing the existing ReachabilityTest gate", "deleted 1 ReachabilityTests"},
		wantJUnit:  map[string]string{"web-to-api": "", "web-to-db": "", "other-to-api": ""},
		gone:       true,
	}, {
		name: "nobody finishes the probe pods: give up at the timeout, and delete the test",
		args: []string{"--timeout", "2s"},
		want: ExitUsage,
		wantStderr: []string{"applied 1 ReachabilityTests", "gave up waiting for [gate]", "--timeout",
			"--keep-on-error and see kubectl describe reachabilitytest gate", "deleted 1 ReachabilityTests"},
		gone: true,
	}}

	var lastUID types.UID
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "junit.xml")
			args := append([]string{"run", "-f", gateFile, "--kubeconfig", envKubeconf, "--junit", junit,
				"--timeout", "60s", "--probe-settle-time", "0s"}, tc.args...)

			got := runGate(t, args, tc.answer)
			if got.code != tc.want {
				t.Errorf("exit code %d, want %d", got.code, tc.want)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(got.stdout, want) {
					t.Errorf("stdout lacks %q", want)
				}
			}
			for _, row := range tc.wantRows {
				if !hasRow(got.stdout, row...) {
					t.Errorf("stdout lacks the truth table row %q", strings.Join(row, "  "))
				}
			}
			if len(tc.wantStdout)+len(tc.wantRows) == 0 && got.stdout != "" {
				t.Errorf("stdout should be empty")
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(got.stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
			for _, not := range tc.notStderr {
				if strings.Contains(got.stderr, not) {
					t.Errorf("stderr should not say %q", not)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", got.stdout, got.stderr)
			}

			if tc.wantJUnit == nil {
				if _, err := os.Stat(junit); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("no JUnit file should be written, stat says %v", err)
				}
			} else if failures := junitFailures(t, junit); !reflect.DeepEqual(failures, map[string]map[string]string{gateTest: tc.wantJUnit}) {
				t.Errorf("JUnit suites → edges → failure types %v, want %v", failures, map[string]map[string]string{gateTest: tc.wantJUnit})
			}

			var rt v1alpha1.ReachabilityTest
			err := envClient.Get(ctx, client.ObjectKey{Name: gateTest}, &rt)
			switch {
			case tc.gone:
				eventually(t, 10*time.Second, "test gate to be deleted", func(ctx context.Context) (bool, error) {
					return apierrors.IsNotFound(envClient.Get(ctx, client.ObjectKey{Name: gateTest}, &rt)), nil
				})
			case err != nil:
				t.Fatalf("reading test gate: %v", err)
			case tc.fresh && rt.UID == lastUID:
				t.Errorf("test gate still has UID %s: the run did not replace it", rt.UID)
			}
			lastUID = rt.UID
		})
	}
}
