package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/netconform/netconform/internal/bounds"
	"github.com/netconform/netconform/internal/trigger"
)

func TestOptionsWithDefaults(t *testing.T) {
	d := DefaultOptions()
	got := Options{}.withDefaults()
	want := d
	// A zero settle time and a zero cap mean none, and following changes is a choice:
	// they are not defaulted.
	want.Pod.Settle, want.Pod.MaxSettle, want.MaxConcurrentProbePods, want.FollowChanges = 0, 0, 0, false
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("zero options became %+v, want %+v", got, want)
	}
	set := Options{MaxChecksPerPod: 7, PodStartTimeout: time.Second, MaxConcurrentReconciles: 2, CanaryNamespace: "c", WaveWindow: time.Millisecond, MaxConcurrentProbePods: 3, MaxChecksPerEdge: 4, MaxChecksPerRun: 9}
	set.Plan.ClusterDomain = "corp.example"
	set.Bounds = bounds.Default()
	set.Bounds.MaxCPU = resource.MustParse("300m")
	set.Rerun = trigger.Timing{Quiet: time.Millisecond, MaxDelay: time.Second, MinInterval: time.Minute, PredictEvery: time.Second}
	if kept := set.withDefaults(); !equality.Semantic.DeepEqual(kept, set) {
		t.Errorf("options that were set became %+v, want them kept: %+v", kept, set)
	}
}

// TestMinRerunIntervalHasAFloor: a manager told a shorter minimum interval than
// MinRerunInterval uses the floor, so no setting lets changes re-run a test every instant.
func TestMinRerunIntervalHasAFloor(t *testing.T) {
	o := Options{Rerun: trigger.Timing{MinInterval: time.Millisecond}}.withDefaults()
	if o.Rerun.MinInterval != MinRerunInterval {
		t.Errorf("minimum interval %s, want the floor %s", o.Rerun.MinInterval, MinRerunInterval)
	}
}
