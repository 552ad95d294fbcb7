package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/probes"
)

var unitNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// probePod is a probe pod created age before unitNow with a 30 s active deadline.
func unitPod(age time.Duration, phase corev1.PodPhase, mutate ...func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              "rt-probe-0",
			Namespace:         "frontend",
			CreationTimestamp: metav1.NewTime(unitNow.Add(-age)),
		},
		Spec:   corev1.PodSpec{ActiveDeadlineSeconds: ptr.To[int64](30)},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, m := range mutate {
		m(pod)
	}
	return pod
}

func unitTerminated(message string, exitCode int32, reason string) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: probes.ContainerName,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exitCode, Reason: reason, Message: message,
			}},
		}}
	}
}

func unitWaiting(reason, message string) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name:  probes.ContainerName,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
		}}
	}
}

func unitUnschedulable(message string) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		pod.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: message,
		}}
	}
}

func unitPodReason(reason, message string) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		pod.Status.Reason, pod.Status.Message = reason, message
	}
}

func unitEncode(t *testing.T, results []probes.Result) string {
	t.Helper()
	msg, err := probes.EncodeResults(results)
	if err != nil {
		t.Fatalf("EncodeResults: %v", err)
	}
	return msg
}

func TestAssessPod(t *testing.T) {
	const startTimeout = 2 * time.Minute
	results := []probes.Result{
		{Observation: v1alpha1.ObservedConnected, Attempts: 1, Latency: 3 * time.Millisecond, Target: "10.0.0.7:8080"},
		{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Latency: 2 * time.Second, Target: "10.0.0.8:5432", Message: "no reply within 2s"},
	}
	valid := unitEncode(t, results)
	const scheduler = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."

	tests := []struct {
		name   string
		pod    *corev1.Pod
		checks int
		// want: Done, Results, failure reason and message fragments, RecheckAfter.
		wantDone     bool
		wantResults  []probes.Result
		wantReason   string
		wantContains []string
		wantRecheck  time.Duration
	}{
		{
			name:        "succeeded with results",
			pod:         unitPod(10*time.Second, corev1.PodSucceeded, unitTerminated(valid, 0, "Completed")),
			checks:      2,
			wantDone:    true,
			wantResults: results,
		},
		{
			name:        "failed with results: the probe's exit code does not hide them",
			pod:         unitPod(10*time.Second, corev1.PodFailed, unitTerminated(valid, 1, "Error")),
			checks:      2,
			wantDone:    true,
			wantResults: results,
		},
		{
			name: "results from a probe container that was restarted: its spec was changed in place",
			pod: unitPod(10*time.Second, corev1.PodSucceeded, unitTerminated(valid, 0, "Completed"), func(p *corev1.Pod) {
				p.Status.ContainerStatuses[0].RestartCount = 1
			}),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureNoResults,
			wantContains: []string{"restarted 1 times", "not trusted"},
		},
		{
			name:        "probe exited with results while the pod still shows running: read at once",
			pod:         unitPod(10*time.Second, corev1.PodRunning, unitTerminated(valid, 0, "Completed")),
			checks:      2,
			wantDone:    true,
			wantResults: results,
		},
		{
			name:        "probe exited without results while the pod still shows running: wait for the phase",
			pod:         unitPod(10*time.Second, corev1.PodRunning, unitTerminated("", 137, "Error")),
			checks:      2,
			wantRecheck: startTimeout + 20*time.Second,
		},
		{
			name:         "deadline exceeded without a container status",
			pod:          unitPod(40*time.Second, corev1.PodFailed, unitPodReason("DeadlineExceeded", "Pod was active on the node longer than the specified deadline")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureDeadlineExceeded,
			wantContains: []string{"frontend/rt-probe-0", "ended without results", "DeadlineExceeded", "longer than the specified deadline"},
		},
		{
			name: "deadline exceeded, container killed without a message",
			pod: unitPod(40*time.Second, corev1.PodFailed, unitPodReason("DeadlineExceeded", ""),
				unitTerminated("", 137, "Error")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureDeadlineExceeded,
			wantContains: []string{"ended without results", "Error, exit code 137"},
		},
		{
			name:         "succeeded without a message",
			pod:          unitPod(10*time.Second, corev1.PodSucceeded, unitTerminated("", 0, "Completed")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureNoResults,
			wantContains: []string{"ended without results", "Completed, exit code 0"},
		},
		{
			name:         "garbage termination message",
			pod:          unitPod(10*time.Second, corev1.PodFailed, unitTerminated("panic: runtime error: index out of range", 2, "Error")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureNoResults,
			wantContains: []string{"unreadable", "exit code 2", "nc1."},
		},
		{
			name:         "corrupt payload after the prefix",
			pod:          unitPod(10*time.Second, corev1.PodSucceeded, unitTerminated("nc1.!!!", 0, "Completed")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureNoResults,
			wantContains: []string{"unreadable"},
		},
		{
			name:         "fewer results than checks",
			pod:          unitPod(10*time.Second, corev1.PodSucceeded, unitTerminated(valid, 0, "Completed")),
			checks:       3,
			wantDone:     true,
			wantReason:   FailureNoResults,
			wantContains: []string{"unreadable", "2 results for 3 checks"},
		},
		{
			name:         "more results than checks",
			pod:          unitPod(10*time.Second, corev1.PodSucceeded, unitTerminated(valid, 0, "Completed")),
			checks:       1,
			wantDone:     true,
			wantReason:   FailureNoResults,
			wantContains: []string{"2 results for 1 checks"},
		},
		{
			name:         "image never pulled fails at once",
			pod:          unitPod(time.Second, corev1.PodPending, unitWaiting("ErrImageNeverPull", `Container image "netconform:dev" is not present with pull policy of Never`)),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureCannotStart,
			wantContains: []string{"cannot start", "ErrImageNeverPull", "is not present with pull policy of Never"},
		},
		{
			name:         "image pull back-off fails at once",
			pod:          unitPod(time.Second, corev1.PodPending, unitWaiting("ImagePullBackOff", "Back-off pulling image")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureCannotStart,
			wantContains: []string{"cannot start", "ImagePullBackOff", "Back-off pulling image"},
		},
		{
			name:         "config error fails at once",
			pod:          unitPod(time.Second, corev1.PodPending, unitWaiting("CreateContainerConfigError", "secret not found")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureCannotStart,
			wantContains: []string{"CreateContainerConfigError"},
		},
		{
			name:        "transient pull error waits",
			pod:         unitPod(5*time.Second, corev1.PodPending, unitWaiting("ErrImagePull", "rpc error: i/o timeout")),
			checks:      2,
			wantRecheck: startTimeout - 5*time.Second,
		},
		{
			name:        "unschedulable, younger than the start timeout",
			pod:         unitPod(20*time.Second, corev1.PodPending, unitUnschedulable(scheduler)),
			checks:      2,
			wantRecheck: startTimeout - 20*time.Second,
		},
		{
			name:         "unschedulable past the start timeout",
			pod:          unitPod(startTimeout+time.Second, corev1.PodPending, unitUnschedulable(scheduler)),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureStartTimeout,
			wantContains: []string{"did not start within 2m0s", "Unschedulable", scheduler},
		},
		{
			name:         "unschedulable exactly at the start timeout",
			pod:          unitPod(startTimeout, corev1.PodPending, unitUnschedulable(scheduler)),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureStartTimeout,
			wantContains: []string{scheduler},
		},
		{
			name:         "transient pull error past the start timeout",
			pod:          unitPod(3*time.Minute, corev1.PodPending, unitWaiting("ErrImagePull", "rpc error: i/o timeout")),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureStartTimeout,
			wantContains: []string{"ErrImagePull", "i/o timeout"},
		},
		{
			name:         "never scheduled, no condition yet",
			pod:          unitPod(3*time.Minute, corev1.PodPending),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureStartTimeout,
			wantContains: []string{"not scheduled to a node yet"},
		},
		{
			name:        "running, young",
			pod:         unitPod(10*time.Second, corev1.PodRunning),
			checks:      2,
			wantRecheck: startTimeout + 30*time.Second - 10*time.Second,
		},
		{
			name:         "running past the start timeout and active deadline",
			pod:          unitPod(startTimeout+30*time.Second, corev1.PodRunning),
			checks:       2,
			wantDone:     true,
			wantReason:   FailureDeadlineExceeded,
			wantContains: []string{"did not finish within 2m30s"},
		},
		{
			name:        "running past the active deadline but within the grace",
			pod:         unitPod(time.Minute, corev1.PodRunning),
			checks:      2,
			wantRecheck: startTimeout + 30*time.Second - time.Minute,
		},
		{
			name: "running without an active deadline",
			pod: unitPod(3*time.Minute, corev1.PodRunning, func(p *corev1.Pod) {
				p.Spec.ActiveDeadlineSeconds = nil
			}),
			checks:     2,
			wantDone:   true,
			wantReason: FailureDeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := assessPod(tt.pod, tt.checks, unitNow, startTimeout)
			if got.Done != tt.wantDone {
				t.Fatalf("Done = %v, want %v (outcome %+v)", got.Done, tt.wantDone, got)
			}
			if got.RecheckAfter != tt.wantRecheck {
				t.Errorf("RecheckAfter = %s, want %s", got.RecheckAfter, tt.wantRecheck)
			}
			if tt.wantReason == "" {
				if got.Failure != nil {
					t.Fatalf("Failure = %+v, want none", got.Failure)
				}
			} else {
				if got.Failure == nil {
					t.Fatalf("Failure = nil, want reason %s", tt.wantReason)
				}
				if got.Failure.Reason != tt.wantReason {
					t.Errorf("Failure.Reason = %s, want %s (message %q)", got.Failure.Reason, tt.wantReason, got.Failure.Message)
				}
				for _, s := range tt.wantContains {
					if !strings.Contains(got.Failure.Message, s) {
						t.Errorf("Failure.Message = %q, want it to contain %q", got.Failure.Message, s)
					}
				}
				if got.Results != nil {
					t.Errorf("Results = %+v with a failure, want none", got.Results)
				}
			}
			if !unitEqualResults(got.Results, tt.wantResults) {
				t.Errorf("Results = %+v, want %+v", got.Results, tt.wantResults)
			}
		})
	}
}

// TestAssessPodIgnoresOtherContainers: only the probe container's termination counts.
func TestAssessPodIgnoresOtherContainers(t *testing.T) {
	msg := unitEncode(t, []probes.Result{{Observation: v1alpha1.ObservedConnected, Attempts: 1}})
	pod := unitPod(10*time.Second, corev1.PodSucceeded)
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  "sidecar",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: msg}},
	}}
	got := assessPod(pod, 1, unitNow, time.Minute)
	if !got.Done || got.Failure == nil || got.Failure.Reason != FailureNoResults {
		t.Fatalf("outcome = %+v, want a NoResults failure", got)
	}
}

func TestAssessErrorResults(t *testing.T) {
	f := &podFailure{Reason: FailureCannotStart, Message: "probe pod a/b cannot start: ImagePullBackOff: x"}
	for _, n := range []int{0, 1, 3} {
		got := errorResults(n, f)
		if len(got) != n {
			t.Fatalf("errorResults(%d) returned %d results", n, len(got))
		}
		for i, r := range got {
			want := probes.Result{Observation: v1alpha1.ObservedError, Message: f.Message}
			if r != want {
				t.Errorf("errorResults(%d)[%d] = %+v, want %+v", n, i, r, want)
			}
		}
	}
}

func unitEqualResults(a, b []probes.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Tests sharing a probe pod wake for the updates that change what they read from it,
// not for each step of its start-up.
func TestProbePodChangesPassOnlyWhatRunsActOn(t *testing.T) {
	valid := unitEncode(t, []probes.Result{{Observation: v1alpha1.ObservedConnected, Attempts: 1}})
	pending := unitPod(time.Second, corev1.PodPending)
	running := unitPod(2*time.Second, corev1.PodRunning)
	canaryPending, canaryRunning := pending.DeepCopy(), running.DeepCopy()
	canaryPending.Labels = map[string]string{canary.LabelCanary: "server"}
	canaryRunning.Labels = canaryPending.Labels
	deleting := running.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: unitNow}
	tests := []struct {
		name     string
		old, pod *corev1.Pod
		want     bool
	}{
		{"scheduled, then running", pending, running, false},
		{"the probe reported its results", running, unitPod(3*time.Second, corev1.PodRunning, unitTerminated(valid, 0, "Completed")), true},
		{"the pod ended", unitPod(3*time.Second, corev1.PodRunning, unitTerminated(valid, 0, "Completed")), unitPod(4*time.Second, corev1.PodSucceeded, unitTerminated(valid, 0, "Completed")), true},
		{"the pod cannot start", pending, unitPod(time.Second, corev1.PodPending, unitWaiting("ErrImageNeverPull", "")), true},
		{"the pod is being deleted", running, deleting, true},
		{"a canary pod starts", canaryPending, canaryRunning, true},
	}
	for _, tt := range tests {
		if got := probePodChanges.Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.pod}); got != tt.want {
			t.Errorf("%s: enqueued %v, want %v", tt.name, got, tt.want)
		}
	}
}
