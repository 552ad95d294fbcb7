package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// TestScheduledRunsRepeatAndSurviveARestart: a scheduled test runs again when due; a
// manager that was down when the run fell due starts it once, not twice; suspend stops it.
func TestScheduledRunsRepeatAndSurviveARestart(t *testing.T) {
	ns := newNamespace(t, "sched")
	first := startManager(t, SetupOptions{})
	rt := createTest(t, "scheduled", v1alpha1.ReachabilityTestSpec{
		Schedule: "@every 2s",
		Edges:    []v1alpha1.Edge{hostEdge("a", ns, map[string]string{"app": "a"}, "10.0.0.1", 80, v1alpha1.ExpectAllow)},
	})
	run1 := finishNextRun(t, rt, "")
	rt = waitForCompleted(t, rt.Name)
	if rt.Status.NextRunTime == nil || !rt.Status.NextRunTime.Time.Equal(rt.Status.LastRunStartTime.Add(2*time.Second)) {
		t.Fatalf("nextRunTime %v, want 2s after the run's start %v", rt.Status.NextRunTime, rt.Status.LastRunStartTime)
	}

	// The manager is down when the next run falls due.
	first.stop()
	due := rt.Status.NextRunTime.Time
	eventually(t, 10*time.Second, "the next run to fall due", func(context.Context) (bool, error) {
		return time.Now().After(due), nil
	})
	startManager(t, SetupOptions{})
	run2 := finishNextRun(t, rt, run1)
	rt = waitForCompleted(t, rt.Name)
	if n := countEvents(t, rt, EventRunStarted); n != 2 {
		t.Errorf("%d runs started after the restart, want 2 in all: the due run once", n)
	}
	if rt.Status.NextRunTime == nil || !rt.Status.NextRunTime.After(due) {
		t.Errorf("nextRunTime %v after run %s, want later than %v", rt.Status.NextRunTime, run2, due)
	}

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
