package controllers

import (
	"testing"
	"time"
)

func TestOptionsWithDefaults(t *testing.T) {
	d := DefaultOptions()
	got := Options{}.withDefaults()
	want := d
	// A zero settle time and a zero cap mean none: they are not defaulted.
	want.Pod.Settle, want.Pod.MaxSettle, want.MaxConcurrentProbePods = 0, 0, 0
	if got != want {
		t.Errorf("zero options became %+v, want %+v", got, want)
	}
	set := Options{MaxChecksPerPod: 7, PodStartTimeout: time.Second, MaxConcurrentReconciles: 2, CanaryNamespace: "c", WaveWindow: time.Millisecond, MaxConcurrentProbePods: 3}
	set.Plan.ClusterDomain = "corp.example"
	if kept := set.withDefaults(); kept != set {
		t.Errorf("options that were set became %+v, want them kept: %+v", kept, set)
	}
}
