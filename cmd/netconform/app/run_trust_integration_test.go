package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/gate"
	"github.com/netconform/netconform/probes"
)

// These tests prove what the gate must not do where others share the cluster: run
// another team's tests, replace them, report a test that is no longer the one it applied,
// or leave its tests behind when it cannot finish.

// oneEdgeTest is a test of one host edge from the gate namespace, named name.
func oneEdgeTest(name string) v1alpha1.ReachabilityTest {
	return v1alpha1.ReachabilityTest{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ReachabilityTest"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{{
			Name:   "web-to-api",
			From:   v1alpha1.Source{Namespace: gateNamespace, PodLabels: map[string]string{"app": "web"}},
			To:     v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.1", Port: 80}},
			Expect: v1alpha1.ExpectAllow,
		}}},
	}
}

// testsFile writes a file of one-edge tests with these names and returns its path.
func testsFile(t *testing.T, names ...string) string {
	t.Helper()
	var docs []string
	for _, n := range names {
		docs = append(docs, fmt.Sprintf(`apiVersion: netconform.io/v1alpha1
kind: ReachabilityTest
metadata:
  name: %s
spec:
  edges:
    - name: web-to-api
      from: {namespace: %s, podLabels: {app: web}}
      to: {host: {host: 10.0.0.1, port: 80}}
      expect: Allow
`, n, gateNamespace))
	}
	path := filepath.Join(t.TempDir(), "tests.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// gateArgs are the arguments of a run of file against the test API server.
func gateArgs(file string, more ...string) []string {
	return append([]string{"run", "-f", file, "--kubeconfig", envKubeconf, "--timeout", "60s", "--probe-settle-time", "0s"}, more...)
}

// setUpTrust starts the API server with the CRD and the gate namespace, and deletes at
// the end what the test leaves: tests of these names and the namespace's pods.
func setUpTrust(t *testing.T, names ...string) {
	t.Helper()
	requireAPIServer(t)
	requireGateNamespace(t)
	// A run installs the CRD when it is missing; these tests create tests before any run.
	if code := Run(gateArgs(testsFile(t, "crd-probe"), "--timeout", "1s"), &strings.Builder{}, &strings.Builder{}); code == ExitOK {
		t.Fatal("a run with nobody to finish its pods passed")
	}
	names = append(names, "crd-probe")
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range names {
			_ = envClient.Delete(ctx, &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: n}})
		}
		_ = envClient.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(gateNamespace), client.GracePeriodSeconds(0))
	})
}

// create creates a test as another team would: without the gate's mark.
func create(t *testing.T, rt v1alpha1.ReachabilityTest) v1alpha1.ReachabilityTest {
	t.Helper()
	if err := envClient.Create(context.Background(), &rt); err != nil {
		t.Fatalf("creating test %s: %v", rt.Name, err)
	}
	return rt
}

func get(t *testing.T, name string) (v1alpha1.ReachabilityTest, bool) {
	t.Helper()
	var rt v1alpha1.ReachabilityTest
	err := envClient.Get(context.Background(), client.ObjectKey{Name: name}, &rt)
	if apierrors.IsNotFound(err) {
		return rt, false
	}
	if err != nil {
		t.Fatalf("reading test %s: %v", name, err)
	}
	return rt, true
}

// probePodsOf counts the probe pods that make checks for the test with this UID.
func probePodsOf(t *testing.T, rt v1alpha1.ReachabilityTest) int {
	t.Helper()
	var pods corev1.PodList
	if err := envClient.List(context.Background(), &pods, client.HasLabels{probes.TestLabel(rt.UID)}); err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

// untouched fails unless nothing ran the test: no run on its status, no probe pod.
func untouched(t *testing.T, rt v1alpha1.ReachabilityTest) {
	t.Helper()
	now, ok := get(t, rt.Name)
	switch {
	case !ok:
		t.Errorf("test %s was deleted", rt.Name)
	case now.UID != rt.UID:
		t.Errorf("test %s was replaced: UID %s, now %s", rt.Name, rt.UID, now.UID)
	case now.Status.ActiveRun != nil || now.Status.LastRunStartTime != nil || len(now.Status.Conditions) > 0:
		t.Errorf("test %s was run: status %+v", rt.Name, now.Status)
	}
	if n := probePodsOf(t, rt); n > 0 {
		t.Errorf("test %s has %d probe pods", rt.Name, n)
	}
}

func wantAll(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, text)
		}
	}
}

func TestRunReconcilesOnlyItsOwnTests(t *testing.T) {
	setUpTrust(t, "own", "foreign")
	// Another team's test, from the same source: the gate's reconciler would share its
	// probe pods with the gate's own test if it ran it.
	foreign := create(t, oneEdgeTest("foreign"))

	got := runGate(t, gateArgs(testsFile(t, "own")), asExpected)
	if got.code != ExitOK {
		t.Fatalf("exit code %d, want %d\n%s%s", got.code, ExitOK, got.stdout, got.stderr)
	}
	untouched(t, foreign)
}

func TestRunRefusesToReplaceAnotherTeamsTest(t *testing.T) {
	setUpTrust(t, "shared")
	theirs := create(t, oneEdgeTest("shared"))
	file := testsFile(t, "shared")

	got := runGate(t, gateArgs(file), asExpected)
	if got.code != ExitUsage {
		t.Errorf("exit code %d, want %d", got.code, ExitUsage)
	}
	wantAll(t, "stderr", got.stderr, "ReachabilityTest shared exists and was not created by netconform run",
		gate.CreatedByLabel+"="+gate.CreatedByValue, "rename the test in your files, or pass --replace")
	if got.stdout != "" {
		t.Errorf("stdout should be empty:\n%s", got.stdout)
	}
	untouched(t, theirs)

	got = runGate(t, gateArgs(file, "--replace"), asExpected)
	if got.code != ExitOK {
		t.Fatalf("with --replace: exit code %d, want %d\n%s", got.code, ExitOK, got.stderr)
	}
	wantAll(t, "stderr", got.stderr, "replacing the existing ReachabilityTest shared")
	ours, ok := get(t, "shared")
	switch {
	case !ok:
		t.Fatal("test shared is gone")
	case ours.UID == theirs.UID:
		t.Error("test shared was not replaced")
	case ours.Labels[gate.CreatedByLabel] != gate.CreatedByValue:
		t.Errorf("the replacement lacks the gate's label: %v", ours.Labels)
	}
	if !managedBy(ours, gate.FieldManager) {
		t.Errorf("the replacement's fields are not managed by %s: %v", gate.FieldManager, ours.ManagedFields)
	}
}

func managedBy(rt v1alpha1.ReachabilityTest, manager string) bool {
	for _, f := range rt.ManagedFields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationUpdate {
			return true
		}
	}
	return false
}

// startGate runs the gate on file with nobody to finish its probe pods, and returns
// the outcome once the run of its test name has started.
func startGate(t *testing.T, file, name string, more ...string) (<-chan runOutcome, v1alpha1.ReachabilityTest) {
	t.Helper()
	ran := make(chan runOutcome, 1)
	go func() {
		var stdout, stderr strings.Builder
		code := Run(gateArgs(file, more...), &stdout, &stderr)
		ran <- runOutcome{code, stdout.String(), stderr.String()}
	}()
	var rt v1alpha1.ReachabilityTest
	eventually(t, 30*time.Second, "the run of "+name+" to start", func(ctx context.Context) (bool, error) {
		err := envClient.Get(ctx, client.ObjectKey{Name: name}, &rt)
		return err == nil && rt.Status.ActiveRun != nil, client.IgnoreNotFound(err)
	})
	return ran, rt
}

func wait90s(t *testing.T, ran <-chan runOutcome) runOutcome {
	t.Helper()
	select {
	case got := <-ran:
		return got
	case <-time.After(90 * time.Second):
		t.Fatal("netconform run did not return within 90s")
	}
	return runOutcome{}
}

// TestRunDetectsAReplacedTest: someone deletes the gate's test mid-run and creates another
// of the same name, even with the gate's label. The gate reports neither that test's
// verdict nor runs it, and leaves it be.
func TestRunDetectsAReplacedTest(t *testing.T) {
	setUpTrust(t, "swapped")
	ran, applied := startGate(t, testsFile(t, "swapped"), "swapped")

	if err := envClient.Delete(context.Background(), &applied); err != nil {
		t.Fatal(err)
	}
	impostor := oneEdgeTest("swapped")
	impostor.Labels = applied.Labels
	impostor = create(t, impostor)

	got := wait90s(t, ran)
	if got.code != ExitUsage {
		t.Errorf("exit code %d, want %d", got.code, ExitUsage)
	}
	wantAll(t, "stderr", got.stderr, "ReachabilityTest swapped was replaced while the gate waited for its run",
		fmt.Sprintf("UID %s, now %s", applied.UID, impostor.UID), "not this run's")
	if got.stdout != "" {
		t.Errorf("stdout should be empty:\n%s", got.stdout)
	}
	untouched(t, impostor)
}

// TestRunCleansUpAfterAPartWayFailure: the API server refuses the third of five tests,
// with a message that tries to write to the CI log; the two applied before are deleted.
func TestRunCleansUpAfterAPartWayFailure(t *testing.T) {
	names := []string{"part-1", "part-2", "part-3", "part-4", "part-5"}
	setUpTrust(t, names...)
	const hostile = "refused \x1b[31m ##vso[task.complete result=Succeeded] ::set-output name=passed::true"
	refuseCreating(t, "part-3", hostile)

	got := runGate(t, gateArgs(testsFile(t, names...)), asExpected)
	if got.code != ExitUsage {
		t.Errorf("exit code %d, want %d", got.code, ExitUsage)
	}
	wantAll(t, "stderr", got.stderr, "applying ReachabilityTest part-3 (3 of 5)", `refused \x1b[31m #\x23vso[task.complete`, "deleted 2 ReachabilityTests")
	noControlsOrCommands(t, "stderr", got.stderr)
	for _, n := range names {
		if _, ok := get(t, n); ok {
			t.Errorf("test %s is left behind", n)
		}
	}
}

// refuseCreating makes the API server refuse to create the test of this name, with this
// message, through a ValidatingAdmissionPolicy, and waits until it does.
func refuseCreating(t *testing.T, name, message string) {
	t.Helper()
	ctx := context.Background()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "refuse-" + name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"reachabilitytests"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: fmt.Sprintf("object.metadata.name != %q", name), Message: message}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := envClient.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
		t.Cleanup(func() { _ = envClient.Delete(context.Background(), o) })
	}
	eventually(t, 30*time.Second, "the policy to refuse test "+name, func(ctx context.Context) (bool, error) {
		probe := oneEdgeTest(name)
		err := envClient.Create(ctx, &probe, client.DryRunAll)
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err), nil
	})
}

// noControlsOrCommands fails when text holds a control character other than a line
// break, or a line that a CI system reads as a command.
func noControlsOrCommands(t *testing.T, what, text string) {
	t.Helper()
	for line := range strings.Lines(text) {
		if strings.ContainsFunc(strings.TrimSuffix(line, "\n"), func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
			t.Errorf("%s holds a control character: %q", what, line)
		}
		if strings.HasPrefix(strings.TrimSpace(line), "::") || strings.Contains(line, "##vso[") {
			t.Errorf("%s holds a line a CI system reads as a command: %q", what, line)
		}
	}
}

func TestRunCleansUpWhenInterrupted(t *testing.T) {
	setUpTrust(t, "interrupted")
	ran, _ := startGate(t, testsFile(t, "interrupted"), "interrupted")
	// The run catches SIGINT until it returns, and it waits for pods nobody finishes.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	got := wait90s(t, ran)
	if got.code != ExitUsage {
		t.Errorf("exit code %d, want %d", got.code, ExitUsage)
	}
	wantAll(t, "stderr", got.stderr, "stopped waiting for [interrupted]", "deleted 1 ReachabilityTests")
	if _, ok := get(t, "interrupted"); ok {
		t.Error("test interrupted is left behind")
	}
}

// TestRunWaitsOnARunningOperator: where the operator's lease is held, the gate applies
// its tests and waits for the operator's runs; it runs nothing itself. --keep-on-error
// keeps the test it gave up on.
func TestRunWaitsOnARunningOperator(t *testing.T) {
	setUpTrust(t, "operated")
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "netconform-system"}}
	if err := envClient.Create(ctx, ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: leaderElectionID},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("netconform-manager-7d9f_1"), LeaseDurationSeconds: ptr.To[int32](600),
			RenewTime: &metav1.MicroTime{Time: time.Now()},
		},
	}
	if err := envClient.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = envClient.Delete(context.Background(), lease) })

	got := runGate(t, gateArgs(testsFile(t, "operated"), "--timeout", "3s", "--keep-on-error"), nil)
	if got.code != ExitUsage {
		t.Errorf("exit code %d, want %d", got.code, ExitUsage)
	}
	wantAll(t, "stderr", got.stderr,
		"the operator is running (lease netconform-system/netconform-manager.netconform.io held by netconform-manager-7d9f_1): waiting for its runs",
		"gave up waiting for [operated]")
	if strings.Contains(got.stderr, "deleted") {
		t.Errorf("--keep-on-error: the test should stay:\n%s", got.stderr)
	}
	rt, ok := get(t, "operated")
	if !ok {
		t.Fatal("test operated is gone despite --keep-on-error")
	}
	untouched(t, rt)
}

// TestRunEscapesHostileResults: a probe (or whoever forged its results) reports a target
// and a message written to take over the terminal and the CI log.
func TestRunEscapesHostileResults(t *testing.T) {
	setUpTrust(t, "hostile")
	const hostile = "x\x1b]0;owned\x07\r\n::add-mask::secret\n##vso[task.setvariable variable=PASSED]true\u202e"
	forged := func(c probes.Check) probes.Result {
		return probes.Result{Observation: v1alpha1.ObservedTimeout, Attempts: 1, Target: hostile, Message: hostile, Latency: time.Millisecond}
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	got := runGate(t, gateArgs(testsFile(t, "hostile"), "--junit", junit), forged)
	if got.code != ExitFail {
		t.Errorf("exit code %d, want %d\n%s", got.code, ExitFail, got.stderr)
	}
	wantAll(t, "stdout", got.stdout, `x\x1b]0;owned\x07\r\n::add-mask::secret\n#\x23vso[task.setvariable`)
	noControlsOrCommands(t, "stdout", got.stdout)
	noControlsOrCommands(t, "stderr", got.stderr)
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	wantAll(t, "the JUnit file", string(data), `\x1b]0;owned`)
	noControlsOrCommands(t, "the JUnit file", string(data))
}

// TestRunWithTheJobsRBAC runs the gate as the in-cluster Job's service account, with the
// rights of config/job/rbac.yaml and no others: they are enough for a run, its lease
// check and its cleanup.
func TestRunWithTheJobsRBAC(t *testing.T) {
	setUpTrust(t, "as-job")
	applyJobRBAC(t)
	kubeconfig := impersonating(t, "system:serviceaccount:netconform-gate:netconform-gate")

	args := []string{"run", "-f", testsFile(t, "as-job"), "--kubeconfig", kubeconfig, "--timeout", "60s", "--probe-settle-time", "0s", "--cleanup"}
	got := runGate(t, args, asExpected)
	if got.code != ExitOK {
		t.Fatalf("exit code %d, want %d\n%s%s", got.code, ExitOK, got.stdout, got.stderr)
	}
	if strings.Contains(got.stderr, "forbidden") {
		t.Errorf("the Job's rights fall short:\n%s", got.stderr)
	}
	wantAll(t, "stderr", got.stderr, "deleted 1 ReachabilityTests")
}

// applyJobRBAC creates the objects of config/job/rbac.yaml (and the canary namespace
// its Role lives in), and deletes them at the end.
func applyJobRBAC(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	canaryNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "netconform-canary"}}
	if err := envClient.Create(ctx, canaryNS); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../../config/job/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for doc := range strings.SplitSeq(string(data), "\n---\n") {
		var o unstructured.Unstructured
		if err := sigsyaml.Unmarshal([]byte(doc), &o.Object); err != nil {
			t.Fatalf("config/job/rbac.yaml: %v", err)
		}
		if err := envClient.Create(ctx, &o); client.IgnoreAlreadyExists(err) != nil {
			t.Fatalf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		t.Cleanup(func() { _ = envClient.Delete(context.Background(), &o) })
	}
}

// impersonating writes a kubeconfig of the test API server that acts as user.
func impersonating(t *testing.T, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(envKubeconf)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
