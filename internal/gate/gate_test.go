package gate

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/netconform/netconform/api/v1alpha1"
)

// rt is a test of generation 1 with the given conditions.
func rt(name string, conds ...metav1.Condition) v1alpha1.ReachabilityTest {
	t := v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1}}
	t.Spec.Edges = []v1alpha1.Edge{{
		Name:   "web-to-api",
		From:   v1alpha1.Source{Namespace: "shop"},
		To:     v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "10.0.0.1", Port: 80}},
		Expect: v1alpha1.ExpectAllow,
	}}
	t.Status.ObservedGeneration = 1
	t.Status.Conditions = conds
	return t
}

func cond(typ string, status metav1.ConditionStatus, generation int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, ObservedGeneration: generation, Reason: "Test", LastTransitionTime: metav1.Now()}
}

var (
	passed    = cond(v1alpha1.ConditionPassed, metav1.ConditionTrue, 1)
	failed    = cond(v1alpha1.ConditionPassed, metav1.ConditionFalse, 1)
	unknown   = cond(v1alpha1.ConditionPassed, metav1.ConditionUnknown, 1)
	completes = cond(v1alpha1.ConditionCompleted, metav1.ConditionTrue, 1)
)

func TestPassed(t *testing.T) {
	tests := []struct {
		name  string
		tests []v1alpha1.ReachabilityTest
		want  bool
	}{
		{"all passed", []v1alpha1.ReachabilityTest{rt("a", completes, passed), rt("b", completes, passed)}, true},
		{"one failed", []v1alpha1.ReachabilityTest{rt("a", completes, passed), rt("b", completes, failed)}, false},
		{"one unknown", []v1alpha1.ReachabilityTest{rt("a", completes, unknown)}, false},
		{"one without a verdict", []v1alpha1.ReachabilityTest{rt("a", completes, passed), rt("b")}, false},
		{"no tests", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Passed(tc.tests); got != tc.want {
				t.Errorf("Passed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompleted(t *testing.T) {
	tests := []struct {
		name string
		test func() v1alpha1.ReachabilityTest
		want bool
	}{
		{"run of the current generation completed", func() v1alpha1.ReachabilityTest { return rt("a", completes) }, true},
		{"no Completed condition", func() v1alpha1.ReachabilityTest { return rt("a", passed) }, false},
		{"Completed is False", func() v1alpha1.ReachabilityTest {
			return rt("a", cond(v1alpha1.ConditionCompleted, metav1.ConditionFalse, 1))
		}, false},
		{"the condition is of an older generation", func() v1alpha1.ReachabilityTest {
			t := rt("a", completes)
			t.Generation = 2
			t.Status.ObservedGeneration = 2
			return t
		}, false},
		{"the status is of an older generation", func() v1alpha1.ReachabilityTest {
			t := rt("a", cond(v1alpha1.ConditionCompleted, metav1.ConditionTrue, 2))
			t.Generation = 2
			return t
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			test := tc.test()
			if got := completed(&test); got != tc.want {
				t.Errorf("completed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := []v1alpha1.ReachabilityTest{rt("a", completes, passed)}
	cases := []struct {
		format  string
		known   bool
		wantOut string // a part of the output
		wantErr string
	}{
		{format: "table", known: true, wantOut: "a "},
		{format: "json", known: true, wantOut: "{"},
		{format: "yaml", known: true, wantOut: "- name: a\n"},
		{format: "markdown", known: true, wantOut: "a"},
		{format: "xml", wantErr: `unknown output "xml": use table, json, yaml, markdown`},
		{format: "", wantErr: `unknown output ""`},
		{format: "Table", wantErr: `unknown output "Table"`},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			if got := KnownOutput(tc.format); got != tc.known {
				t.Errorf("KnownOutput(%q) = %v, want %v", tc.format, got, tc.known)
			}
			var out bytes.Buffer
			err := Render(&out, tc.format, tests)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Render error %v, want one containing %q", err, tc.wantErr)
				}
				if out.Len() > 0 {
					t.Errorf("Render wrote %q for an unknown format", out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
}

func TestWriteJUnit(t *testing.T) {
	tests := []v1alpha1.ReachabilityTest{rt("a", completes, passed)}
	cases := []struct {
		name string
		// path is relative to a fresh directory.
		path    string
		wantErr string
		// wantFiles are the files the directory holds afterwards.
		wantFiles []string
	}{
		{name: "empty path writes nothing", path: "", wantFiles: nil},
		{name: "a path is written", path: "junit.xml", wantFiles: []string{"junit.xml"}},
		{name: "a path that cannot be created", path: filepath.Join("missing", "dir", "junit.xml"), wantErr: "--junit: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			err := WriteJUnit(tc.path, tests)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.path) {
					t.Errorf("error %v, want one naming --junit and %s", err, tc.path)
				}
			case err != nil:
				t.Fatalf("WriteJUnit: %v", err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, e := range entries {
				files = append(files, e.Name())
			}
			if fmt.Sprint(files) != fmt.Sprint(tc.wantFiles) {
				t.Errorf("the directory holds %v, want %v", files, tc.wantFiles)
			}
			for _, f := range tc.wantFiles {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					XMLName xml.Name `xml:"testsuites"`
					Suites  []struct {
						Name string `xml:"name,attr"`
					} `xml:"testsuite"`
				}
				if err := xml.Unmarshal(data, &doc); err != nil {
					t.Fatalf("%s does not parse: %v\n%s", f, err, data)
				}
				if len(doc.Suites) != 1 || doc.Suites[0].Name != "a" {
					t.Errorf("%s holds suites %+v, want one named a", f, doc.Suites)
				}
			}
		})
	}
}

// TestWait waits on a fake API server whose reads fail once the context is done, as a
// real client's do.
func TestWait(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	done, pending := rt("done", completes, passed), rt("pending")
	noNodes := cond(v1alpha1.ConditionCompleted, metav1.ConditionFalse, 1)
	noNodes.Reason, noNodes.Message = v1alpha1.ReasonNoMatchingNodes, "No run starts: spec.edges[0].from.nodes: edge web-to-api: from.nodes.selector pool=gpu matches no node"
	stuck := rt("no-node", noNodes)
	cases := []struct {
		name  string
		tests []string
		// timeout of the wait; 0: the context is done before Wait starts.
		timeout time.Duration
		wantErr []string // parts of the error; none: Wait returns the tests
	}{
		{name: "all completed", tests: []string{"done"}, timeout: 10 * time.Second},
		// A test no node can run fails the wait at once, not at the timeout.
		{name: "one selects no node", tests: []string{"done", "no-node"}, timeout: time.Hour,
			wantErr: []string{"ReachabilityTest no-node cannot run: No run starts: spec.edges[0].from.nodes", "matches no node"}},
		{name: "one does not complete in time", tests: []string{"done", "pending"}, timeout: 100 * time.Millisecond,
			wantErr: []string{"gave up waiting for [pending]", "raise --timeout", "kubectl describe reachabilitytest pending"}},
		// Out of time before the first read: Wait must name the tests, not panic.
		{name: "out of time before the first read", tests: []string{"done", "pending"}, timeout: 0,
			wantErr: []string{"gave up waiting for [done pending]", "kubectl describe reachabilitytest done"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(done.DeepCopy(), pending.DeepCopy(), stuck.DeepCopy()).
				WithInterceptorFuncs(interceptor.Funcs{
					Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
						if err := ctx.Err(); err != nil {
							return fmt.Errorf("client rate limiter Wait returned an error: %w", err)
						}
						return c.Get(ctx, key, obj, opts...)
					},
				}).Build()
			var progress bytes.Buffer
			g := &Gate{client: c, progress: &progress}
			var tests []v1alpha1.ReachabilityTest
			for _, name := range tc.tests {
				tests = append(tests, v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}})
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			got, err := g.Wait(ctx, tests)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Wait: %v", err)
				}
				if len(got) != len(tc.tests) || !Passed(got) {
					t.Errorf("Wait returned %d tests, passed %v; want %d passed", len(got), Passed(got), len(tc.tests))
				}
				if !strings.Contains(progress.String(), fmt.Sprintf("%d of %d tests complete", len(tc.tests), len(tc.tests))) {
					t.Errorf("progress lacks the final count:\n%s", progress.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("Wait returned no error, want %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestLeaseHeld(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	lease := func(holder string, renewedAgo time.Duration, seconds int32) *coordinationv1.Lease {
		l := &coordinationv1.Lease{}
		if holder != "-" {
			l.Spec.HolderIdentity = &holder
		}
		if renewedAgo >= 0 {
			l.Spec.RenewTime = &metav1.MicroTime{Time: now.Add(-renewedAgo)}
		}
		if seconds >= 0 {
			l.Spec.LeaseDurationSeconds = &seconds
		}
		return l
	}
	tests := []struct {
		name  string
		lease *coordinationv1.Lease
		want  bool
	}{
		{"held and renewed within its duration", lease("manager-abc", 5*time.Second, 15), true},
		{"expired", lease("manager-abc", 16*time.Second, 15), false},
		{"released: no holder", lease("", time.Second, 1), false},
		{"never held", lease("-", -1, -1), false},
		{"no renew time", lease("manager-abc", -1, 15), false},
		{"no duration", lease("manager-abc", time.Second, -1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := leaseHeld(tc.lease, now); got != tc.want {
				t.Errorf("leaseHeld = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWaitFollowsByUID: the name of an applied test may come to hold another test, or
// none; Wait says so instead of reporting what it finds there.
func TestWaitFollowsByUID(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	inCluster := rt("gate", completes, passed)
	inCluster.UID = "uid-now"
	cases := []struct {
		name    string
		applied v1alpha1.ReachabilityTest
		exists  bool
		wantErr []string
	}{
		{name: "the same test", applied: appliedTest("uid-now", 1), exists: true},
		{name: "replaced under the same name", applied: appliedTest("uid-applied", 1), exists: true,
			wantErr: []string{"ReachabilityTest gate was replaced", "UID uid-applied, now uid-now", "not this run's"}},
		{name: "edited", applied: appliedTest("uid-now", 2), exists: true,
			wantErr: []string{"ReachabilityTest gate was edited", "generation 2, now 1"}},
		{name: "deleted", applied: appliedTest("uid-now", 1),
			wantErr: []string{"ReachabilityTest gate was deleted while the gate waited"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme)
			if tc.exists {
				b = b.WithObjects(inCluster.DeepCopy())
			}
			var progress bytes.Buffer
			g := &Gate{client: b.Build(), progress: &progress}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := g.Wait(ctx, []v1alpha1.ReachabilityTest{tc.applied})
			if len(tc.wantErr) == 0 {
				if err != nil || !Passed(got) {
					t.Fatalf("Wait: %v, passed %v", err, Passed(got))
				}
				return
			}
			if err == nil {
				t.Fatalf("Wait returned %d tests and no error, want %q", len(got), tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// appliedTest is test gate as Apply recorded it.
func appliedTest(uid types.UID, generation int64) v1alpha1.ReachabilityTest {
	return v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: "gate", UID: uid, Generation: generation}}
}

// TestSayEscapes: progress lines carry names and API errors, which come from the cluster.
func TestSayEscapes(t *testing.T) {
	var progress bytes.Buffer
	g := &Gate{progress: &progress}
	g.say("could not delete ReachabilityTest %s: %v (%d)", "x\x1b[2J", errors.New("denied\n::error::forged ##vso[task.complete]"), 3)
	want := "could not delete ReachabilityTest x\\x1b[2J: denied\\n::error::forged #\\x23vso[task.complete] (3)\n"
	if progress.String() != want {
		t.Errorf("say wrote %q, want %q", progress.String(), want)
	}
}
