package controllers

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// TestScheduledRunsRepeatAndSurviveARestart: a scheduled test runs again when due; a
// manager that was down when the run fell due starts it once, not twice; suspend stops it.
// The schedule is the shortest allowed, and the test moves the reconciler's clock
// forward instead of waiting for it.
func TestScheduledRunsRepeatAndSurviveARestart(t *testing.T) {
	ns := newNamespace(t, "sched")
	clock := &movableClock{}
	opts := SetupOptions{Options: Options{PodStartTimeout: time.Hour}, Now: clock.Now}
	first := startManager(t, opts)
	rt := createTest(t, "scheduled", v1alpha1.ReachabilityTestSpec{
		Schedule: "@every 1m",
		Edges:    []v1alpha1.Edge{hostEdge("a", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow)},
	})
	run1 := finishNextRun(t, rt, "")
	rt = waitForCompleted(t, rt.Name)
	if rt.Status.NextRunTime == nil || !rt.Status.NextRunTime.Time.Equal(rt.Status.LastRunStartTime.Add(time.Minute)) {
		t.Fatalf("nextRunTime %v, want 1m after the run's start %v", rt.Status.NextRunTime, rt.Status.LastRunStartTime)
	}

	// The manager is down when the next run falls due.
	first.stop()
	due := rt.Status.NextRunTime.Time
	clock.moveTo(due)
	startManager(t, opts)
	run2 := finishNextRun(t, rt, run1)
	rt = waitForCompleted(t, rt.Name)
	if n := countEvents(t, rt, EventRunStarted); n != 2 {
		t.Errorf("%d runs started after the restart, want 2 in all: the due run once", n)
	}
	if rt.Status.NextRunTime == nil || !rt.Status.NextRunTime.After(due) {
		t.Errorf("nextRunTime %v after run %s, want later than %v", rt.Status.NextRunTime, run2, due)
	}

	// The next run falls due while the manager runs; a touch of the test makes the
	// reconciler look at the clock it was told to wait a minute for.
	clock.moveTo(rt.Status.NextRunTime.Time)
	touch(t, rt.Name)
	// Suspended while a run is in progress: that run finishes; then no next run time,
	// and no new run.
	finishing := waitForActiveRun(t, rt, run2)
	rt = getTest(t, rt.Name)
	rt.Spec.Suspend = ptr.To(true)
	if err := k8s.Update(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	if got := finishNextRun(t, rt, run2); got != finishing {
		t.Errorf("after suspending, run %s went on, want the run in progress %s to finish", got, finishing)
	}
	eventually(t, 10*time.Second, "the last run to complete and nextRunTime to clear", func(context.Context) (bool, error) {
		rt = getTest(t, rt.Name)
		return rt.Status.ActiveRun == nil && rt.Status.NextRunTime == nil && rt.Status.LastRunStartTime != nil, nil
	})
	if len(rt.Status.Results) != 1 || rt.Status.Results[0].Verdict != v1alpha1.VerdictPass {
		t.Errorf("the run that finished after suspending left results %+v", rt.Status.Results)
	}
	eventually(t, 10*time.Second, "the RunStarted events of three runs", func(context.Context) (bool, error) {
		return countEvents(t, rt, EventRunStarted) == 3, nil
	})
}

// TestScheduleThatNeverFiresStopsTheTest: a schedule the CRD lets through (its rules
// read plain numbers only) that never fires ends in a Completed condition and an event
// that name spec.schedule and the fix, with no run; it used to make the reconciler run
// the test back to back. A corrected schedule runs.
func TestScheduleThatNeverFiresStopsTheTest(t *testing.T) {
	ns := newNamespace(t, "never")
	startManager(t, SetupOptions{})
	rt := createTest(t, "never-fires", v1alpha1.ReachabilityTestSpec{
		Schedule: "0 0 30,31 FEB *",
		Edges:    []v1alpha1.Edge{hostEdge("a", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow)},
	})
	waitForEvent(t, rt, v1alpha1.ReasonInvalidSchedule)
	rt = getTest(t, rt.Name)
	c := meta.FindStatusCondition(rt.Status.Conditions, v1alpha1.ConditionCompleted)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonInvalidSchedule {
		t.Fatalf("Completed condition %+v, want False with reason %s", c, v1alpha1.ReasonInvalidSchedule)
	}
	for _, want := range []string{`spec.schedule: schedule "0 0 30,31 FEB *" never fires`, `such as "0 3 * * *"`} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Completed message %q does not contain %q", c.Message, want)
		}
	}
	// The reconciler is woken again and again; it must start nothing.
	for range 3 {
		touch(t, rt.Name)
	}
	rt = getTest(t, rt.Name)
	rt.Spec.Schedule = "@hourly"
	if err := k8s.Update(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	finishNextRun(t, rt, "")
	rt = waitForCompleted(t, rt.Name)
	eventually(t, 10*time.Second, "the RunStarted event of the corrected schedule's run", func(context.Context) (bool, error) {
		return countEvents(t, rt, EventRunStarted) >= 1, nil
	})
	if n := countEvents(t, rt, EventRunStarted); n != 1 {
		t.Errorf("%d runs started, want 1: none for the schedule that never fires", n)
	}
	if n := countEvents(t, rt, v1alpha1.ReasonInvalidSchedule); n != 1 {
		t.Errorf("%d InvalidSchedule events, want 1", n)
	}
}

// movableClock is the real time, moved forward by the test.
type movableClock struct{ ahead atomic.Int64 }

func (c *movableClock) Now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

// moveTo moves the clock forward to t, if it is not there yet.
func (c *movableClock) moveTo(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		c.ahead.Add(int64(d))
	}
}

// touch changes an annotation of the test, which wakes its reconciler.
func touch(t *testing.T, name string) {
	t.Helper()
	rt := getTest(t, name)
	patch := client.MergeFrom(rt.DeepCopy())
	metav1.SetMetaDataAnnotation(&rt.ObjectMeta, "netconform.io/touched", time.Now().Format(time.RFC3339Nano))
	if err := k8s.Patch(context.Background(), rt, patch); err != nil {
		t.Fatal(err)
	}
}

// waitForActiveRun waits until a run other than previous is in progress and returns it.
func waitForActiveRun(t *testing.T, rt *v1alpha1.ReachabilityTest, previous string) string {
	t.Helper()
	var id string
	eventually(t, 20*time.Second, "the next scheduled run to start", func(context.Context) (bool, error) {
		if run := getTest(t, rt.Name).Status.ActiveRun; run != nil && run.ID != previous {
			id = run.ID
			return true, nil
		}
		return false, nil
	})
	return id
}

// finishNextRun waits for a probe pod of a run other than previous, finishes it as
// expected, and returns the run's ID.
func finishNextRun(t *testing.T, rt *v1alpha1.ReachabilityTest, previous string) string {
	t.Helper()
	var pod corev1.Pod
	eventually(t, 20*time.Second, "a probe pod of a new run", func(context.Context) (bool, error) {
		for _, p := range probePodsOf(t, rt) {
			if p.Labels[probes.TestLabel(rt.UID)] != previous && p.Status.Phase != corev1.PodSucceeded {
				pod = p
				return true, nil
			}
		}
		return false, nil
	})
	finishPod(t, &pod, asExpected)
	return pod.Labels[probes.TestLabel(rt.UID)]
}
