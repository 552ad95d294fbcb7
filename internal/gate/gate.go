// Package gate is `netconform run`: it applies ReachabilityTests, waits for the runs of
// their current generation with progress on the way, and renders what they found.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/config/crd"
	"github.com/netconform/netconform/internal/report"
)

// pollInterval is how often the gate looks at the tests while they run.
const pollInterval = 500 * time.Millisecond

// Gate talks to one cluster on behalf of `netconform run`.
type Gate struct {
	client   client.Client
	progress io.Writer
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

func (g *Gate) say(format string, args ...any) {
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

// Apply creates the tests. A test that exists already is replaced, so that every
// `netconform run` is a fresh run.
func (g *Gate) Apply(ctx context.Context, tests []v1alpha1.ReachabilityTest) error {
	for i := range tests {
		t := tests[i].DeepCopy()
		err := g.client.Create(ctx, t)
		if apierrors.IsAlreadyExists(err) {
			g.say("replacing the existing ReachabilityTest %s for a fresh run", t.Name)
			if err = g.deleteAndWait(ctx, t.Name); err == nil {
				t = tests[i].DeepCopy()
				err = g.client.Create(ctx, t)
			}
		}
		if err != nil {
			return fmt.Errorf("applying ReachabilityTest %s: %w", t.Name, err)
		}
		tests[i].UID, tests[i].Generation = t.UID, t.Generation
	}
	g.say("applied %d ReachabilityTests", len(tests))
	return nil
}

func (g *Gate) deleteAndWait(ctx context.Context, name string) error {
	t := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := g.client.Delete(ctx, t, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		err := g.client.Get(ctx, client.ObjectKey{Name: name}, t)
		return apierrors.IsNotFound(err), nil
	})
}

// Delete removes the tests, for --cleanup.
func (g *Gate) Delete(ctx context.Context, tests []v1alpha1.ReachabilityTest) {
	for i := range tests {
		t := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: tests[i].Name}}
		if err := g.client.Delete(ctx, t); client.IgnoreNotFound(err) != nil {
			g.say("could not delete ReachabilityTest %s: %v", t.Name, err)
		}
	}
	g.say("deleted %d ReachabilityTests", len(tests))
}

// Wait returns the tests once the run of each one's current generation completed.
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
			if err := g.client.Get(ctx, client.ObjectKey{Name: tests[i].Name}, &done[i]); err != nil {
				if ctx.Err() != nil {
					return false, ctx.Err() // out of time mid-look: reported as a timeout, with the last pending
				}
				return false, fmt.Errorf("reading ReachabilityTest %s: %w", tests[i].Name, err)
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
	if wait.Interrupted(err) {
		return nil, fmt.Errorf("gave up waiting for %v: their runs did not complete in time (raise --timeout, or see kubectl describe reachabilitytest %s)", pending, pending[0])
	}
	return done, err
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
	"markdown": report.Markdown,
}

// KnownOutput tells whether Render knows a format.
func KnownOutput(format string) bool {
	_, ok := renderers[format]
	return ok
}

// Render prints the tests in a format: table, json or markdown.
func Render(w io.Writer, format string, tests []v1alpha1.ReachabilityTest) error {
	render, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown output %q: use table, json or markdown", format)
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
