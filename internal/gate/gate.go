// Package gate is `netconform run`: it applies ReachabilityTests, waits for the runs of
// their current generation with progress on the way, and renders what they found.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/config/crd"
	"github.com/netconform/netconform/internal/logsafe"
	"github.com/netconform/netconform/internal/report"
)

// pollInterval is how often the gate looks at the tests while they run.
const pollInterval = 500 * time.Millisecond

// cleanupTimeout bounds Cleanup, which runs after an interrupt or a timeout.
const cleanupTimeout = 30 * time.Second

// What marks the tests a gate creates: a label, which Apply checks before it replaces a
// test, and the field manager of the create.
const (
	CreatedByLabel = "netconform.io/created-by"
	CreatedByValue = "netconform-run"
	FieldManager   = "netconform-run"
)

// Gate talks to one cluster on behalf of `netconform run`.
type Gate struct {
	client   client.Client
	progress io.Writer
	// applied are the tests Apply created, for Cleanup.
	applied []applied
}

type applied struct {
	name string
	uid  types.UID
}

// New connects to the cluster; progress receives what the gate is doing.
func New(cfg *rest.Config, scheme *runtime.Scheme, progress io.Writer) (*Gate, error) {
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return &Gate{client: c, progress: progress}, nil
}

// say prints a progress line; its strings and errors may come from the cluster, and are
// escaped (see logsafe).
func (g *Gate) say(format string, args ...any) {
	for i, a := range args {
		switch a := a.(type) {
		case string:
			args[i] = logsafe.Text(a)
		case error:
			args[i] = logsafe.Error(a)
		}
	}
	fmt.Fprintf(g.progress, format+"\n", args...)
}

// EnsureCRD makes sure the ReachabilityTest API exists, installing it when allowed.
func (g *Gate) EnsureCRD(ctx context.Context, install bool) error {
	want, err := crd.ReachabilityTest()
	if err != nil {
		return err
	}
	var have apiextensionsv1.CustomResourceDefinition
	err = g.client.Get(ctx, client.ObjectKey{Name: want.Name}, &have)
	switch {
	case err == nil:
		return nil
	case apierrors.IsForbidden(err):
		return nil // cannot look; creating a test will say whether the API exists
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("cannot reach the cluster: %w", err)
	case !install:
		return errors.New("the ReachabilityTest CRD is not installed: install the operator (kubectl apply -k config/default) or run without --wait-only")
	}
	if err := g.client.Create(ctx, want); err != nil {
		return fmt.Errorf("installing the ReachabilityTest CRD: %w", err)
	}
	g.say("installed the ReachabilityTest CRD (%s), which was missing", want.Name)
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		err := g.client.Get(ctx, client.ObjectKey{Name: want.Name}, &have)
		return err == nil && apihelpers.IsCRDConditionTrue(&have, apiextensionsv1.Established), nil
	})
}

// Apply creates the tests, marked as the gate's (CreatedByLabel, FieldManager), and
// records their UIDs on tests. A test of the same name that a gate created is replaced,
// so that every run is fresh; one the gate did not create is another team's, and is
// replaced only when replace is set. Check refuses those up front; Apply refuses one that
// appeared since. What Apply created stays recorded for Cleanup even when it fails.
func (g *Gate) Apply(ctx context.Context, tests []v1alpha1.ReachabilityTest, replace bool) error {
	for i := range tests {
		t, err := g.apply(ctx, &tests[i], replace)
		if err != nil {
			return fmt.Errorf("applying ReachabilityTest %s (%d of %d): %w", tests[i].Name, i+1, len(tests), err)
		}
		g.applied = append(g.applied, applied{name: t.Name, uid: t.UID})
		tests[i].UID, tests[i].Generation = t.UID, t.Generation
	}
	g.say("applied %d ReachabilityTests", len(tests))
	return nil
}

func (g *Gate) apply(ctx context.Context, want *v1alpha1.ReachabilityTest, replace bool) (*v1alpha1.ReachabilityTest, error) {
	t := marked(want)
	err := g.client.Create(ctx, t, client.FieldOwner(FieldManager))
	if !apierrors.IsAlreadyExists(err) {
		return t, err
	}
	var have v1alpha1.ReachabilityTest
	if err := g.client.Get(ctx, client.ObjectKey{Name: want.Name}, &have); err != nil {
		return nil, err
	}
	if !createdByGate(&have) && !replace {
		return nil, notOurs([]string{want.Name})
	}
	g.say("replacing the existing ReachabilityTest %s for a fresh run", want.Name)
	if err := g.deleteAndWait(ctx, &have); err != nil {
		return nil, err
	}
	t = marked(want)
	return t, g.client.Create(ctx, t, client.FieldOwner(FieldManager))
}

// marked is a copy of the test to create, labelled as the gate's.
func marked(t *v1alpha1.ReachabilityTest) *v1alpha1.ReachabilityTest {
	t = t.DeepCopy()
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Labels[CreatedByLabel] = CreatedByValue
	return t
}

func createdByGate(t *v1alpha1.ReachabilityTest) bool {
	return t.Labels[CreatedByLabel] == CreatedByValue
}

// Check refuses, before anything is applied, to replace tests that exist and that no
// gate created, unless replace is set.
func (g *Gate) Check(ctx context.Context, tests []v1alpha1.ReachabilityTest, replace bool) error {
	if replace {
		return nil
	}
	var foreign []string
	for i := range tests {
		var have v1alpha1.ReachabilityTest
		err := g.client.Get(ctx, client.ObjectKey{Name: tests[i].Name}, &have)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading ReachabilityTest %s: %w", tests[i].Name, err)
		case !createdByGate(&have):
			foreign = append(foreign, tests[i].Name)
		}
	}
	if len(foreign) > 0 {
		return notOurs(foreign)
	}
	return nil
}

func notOurs(names []string) error {
	return fmt.Errorf("ReachabilityTest %s exists and was not created by netconform run (it lacks the label %s=%s), so another team may own it; nothing was replaced: rename the test in your files, or pass --replace to delete and replace it",
		strings.Join(names, ", "), CreatedByLabel, CreatedByValue)
}

// deleteAndWait deletes this very test (not one created since under its name) and waits
// until its name is free.
func (g *Gate) deleteAndWait(ctx context.Context, t *v1alpha1.ReachabilityTest) error {
	err := g.client.Delete(ctx, t, client.Preconditions{UID: &t.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if client.IgnoreNotFound(err) != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		var now v1alpha1.ReachabilityTest
		err := g.client.Get(ctx, client.ObjectKey{Name: t.Name}, &now)
		return apierrors.IsNotFound(err) || (err == nil && now.UID != t.UID), nil
	})
}

// Applied are the UIDs of the tests Apply created.
func (g *Gate) Applied() map[types.UID]bool {
	uids := make(map[types.UID]bool, len(g.applied))
	for _, a := range g.applied {
		uids[a.uid] = true
	}
	return uids
}

// Cleanup deletes the tests Apply created, and only those: a test that was replaced
// since under the same name is someone else's and stays. Their probe pods go with them
// (garbage collection). It has a context of its own, for it runs when the run's is done.
func (g *Gate) Cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	deleted := 0
	for _, a := range g.applied {
		t := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: a.name}}
		err := g.client.Delete(ctx, t, client.Preconditions{UID: &a.uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		switch {
		case err == nil:
			deleted++
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err): // gone, or another's now
		default:
			g.say("could not delete ReachabilityTest %s: %v (delete it with kubectl delete reachabilitytest %s)", a.name, err, a.name)
		}
	}
	g.say("deleted %d ReachabilityTests", deleted)
}

// Wait returns the tests once the run of each one's current generation completed. It
// follows the tests it applied by UID: a test deleted, replaced or edited meanwhile is
// an error naming it, never someone else's verdict.
func (g *Gate) Wait(ctx context.Context, tests []v1alpha1.ReachabilityTest) ([]v1alpha1.ReachabilityTest, error) {
	done := make([]v1alpha1.ReachabilityTest, len(tests))
	// pending is what the last full look found incomplete: all tests until there was one.
	pending := make([]string, 0, len(tests))
	for i := range tests {
		pending = append(pending, tests[i].Name)
	}
	last := ""
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		var now []string
		for i := range tests {
			if err := g.read(ctx, &tests[i], &done[i]); err != nil {
				if ctx.Err() != nil {
					return false, ctx.Err() // out of time mid-look: reported as a timeout, with the last pending
				}
				return false, err
			}
			if err := cannotStart(&done[i]); err != nil {
				return false, err
			}
			if !completed(&done[i]) {
				now = append(now, tests[i].Name)
			}
		}
		pending = now
		if line := g.progressLine(ctx, done, pending); line != last {
			g.say("%s", line)
			last = line
		}
		return len(pending) == 0, nil
	})
	switch {
	case err == nil:
		return done, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("gave up waiting for %v: their runs did not complete in time (raise --timeout, or keep the tests with --keep-on-error and see kubectl describe reachabilitytest %s)", pending, pending[0])
	case ctx.Err() != nil:
		return nil, fmt.Errorf("stopped waiting for %v: %w", pending, context.Cause(ctx))
	}
	return nil, err
}

// read reads the test that Apply created into into, and fails when the name now holds
// another test or another spec.
func (g *Gate) read(ctx context.Context, applied, into *v1alpha1.ReachabilityTest) error {
	err := g.client.Get(ctx, client.ObjectKey{Name: applied.Name}, into)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("ReachabilityTest %s was deleted while the gate waited for its run: someone else deleted it; run again", applied.Name)
	case err != nil:
		return fmt.Errorf("reading ReachabilityTest %s: %w", applied.Name, err)
	case applied.UID != "" && into.UID != applied.UID:
		return fmt.Errorf("ReachabilityTest %s was replaced while the gate waited for its run (UID %s, now %s): someone deleted and recreated it, and its results are not this run's; run again", applied.Name, applied.UID, into.UID)
	case applied.Generation != 0 && into.Generation != applied.Generation:
		return fmt.Errorf("ReachabilityTest %s was edited while the gate waited for its run (generation %d, now %d): its results would not be of the test in your files; run again", applied.Name, applied.Generation, into.Generation)
	}
	return nil
}

// cannotStart says why a test's run will not start while the gate waits: its
// from.nodes selects no node, which no wait fixes in a CI run. Nil otherwise.
func cannotStart(t *v1alpha1.ReachabilityTest) error {
	c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionCompleted)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonNoMatchingNodes || c.ObservedGeneration != t.Generation {
		return nil
	}
	return fmt.Errorf("ReachabilityTest %s cannot run: %s", t.Name, logsafe.Text(c.Message))
}

// completed: the run of the test's current generation finished.
func completed(t *v1alpha1.ReachabilityTest) bool {
	c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionCompleted)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == t.Generation &&
		t.Status.ObservedGeneration == t.Generation
}

// Passed is true when every edge of every test passed.
func Passed(tests []v1alpha1.ReachabilityTest) bool {
	for i := range tests {
		c := meta.FindStatusCondition(tests[i].Status.Conditions, v1alpha1.ConditionPassed)
		if c == nil || c.Status != metav1.ConditionTrue {
			return false
		}
	}
	return len(tests) > 0
}

var renderers = map[string]func(io.Writer, []v1alpha1.ReachabilityTest) error{
	"table":    report.Table,
	"json":     report.JSON,
	"yaml":     report.YAML,
	"markdown": report.Markdown,
}

// Outputs are the formats Render knows, in the order help text names them.
func Outputs() []string {
	return []string{"table", "json", "yaml", "markdown"}
}

// KnownOutput tells whether Render knows a format.
func KnownOutput(format string) bool {
	_, ok := renderers[format]
	return ok
}

// Render prints the tests in one of the Outputs.
func Render(w io.Writer, format string, tests []v1alpha1.ReachabilityTest) error {
	render, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown output %q: use %s", format, strings.Join(Outputs(), ", "))
	}
	return render(w, tests)
}

// WriteJUnit writes JUnit XML to path; an empty path writes nothing.
func WriteJUnit(path string, tests []v1alpha1.ReachabilityTest) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := report.JUnit(f, tests); err != nil {
		f.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	return f.Close()
}
