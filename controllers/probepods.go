package controllers

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// Reasons a probe pod gave no results; they label the probe error metric.
const (
	FailureRejected         = "PodRejected"
	FailureCannotStart      = "CannotStart"
	FailureStartTimeout     = "StartTimeout"
	FailureDeadlineExceeded = "DeadlineExceeded"
	FailureNoResults        = "NoResults"
	FailureUnresolved       = "Unresolved"
)

// waitingReasonsThatNeverRecover end a probe pod at once: the kubelet keeps retrying,
// but a probe pod that cannot start now is already an answer.
var waitingReasonsThatNeverRecover = map[string]bool{
	"ErrImageNeverPull":          true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
}

// podFailure is why a probe pod produced no results.
type podFailure struct {
	Reason  string
	Message string
}

// podOutcome is what a probe pod has to say so far.
type podOutcome struct {
	// Done is true once the pod has ended or has been given up.
	Done    bool
	Results []probes.Result
	Failure *podFailure
	// RecheckAfter is when to look again if nothing else happens first.
	RecheckAfter time.Duration
}

// assessPod reads a probe pod: its results once it has ended, a failure when it cannot
// start or overran its deadline, otherwise when to look again.
func assessPod(pod *corev1.Pod, checks int, now time.Time, startTimeout time.Duration) podOutcome {
	if podEnded(pod) || probeReported(pod) {
		return endedPod(pod, checks)
	}
	if w := neverRecovers(pod); w != nil {
		return failed(FailureCannotStart, fmt.Sprintf("probe pod %s/%s cannot start: %s: %s", pod.Namespace, pod.Name, w.Reason, w.Message))
	}
	age := now.Sub(pod.CreationTimestamp.Time)
	if pod.Status.Phase != corev1.PodRunning {
		if age >= startTimeout {
			return failed(FailureStartTimeout, fmt.Sprintf("probe pod %s/%s did not start within %s%s", pod.Namespace, pod.Name, startTimeout, pendingDetail(pod)))
		}
		return podOutcome{RecheckAfter: startTimeout - age}
	}
	// A running pod is bounded by its activeDeadlineSeconds; if the kubelet never
	// reports the end, give up a start timeout after that.
	limit := startTimeout
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		limit += time.Duration(*d) * time.Second
	}
	if age >= limit {
		return failed(FailureDeadlineExceeded, fmt.Sprintf("probe pod %s/%s did not finish within %s", pod.Namespace, pod.Name, limit))
	}
	return podOutcome{RecheckAfter: limit - age}
}

func endedPod(pod *corev1.Pod, checks int) podOutcome {
	if n := probeRestarts(pod); n > 0 {
		// restartPolicy Never: the kubelet restarts the probe only when its spec was
		// changed in place, by someone else, so what it reports is not netconform's.
		return failed(FailureNoResults, fmt.Sprintf("probe pod %s/%s: its probe container was restarted %d times, which only a change to its spec after creation does; its results are not trusted", pod.Namespace, pod.Name, n))
	}
	term := probeTermination(pod)
	if term == nil || term.Message == "" {
		detail := pod.Status.Reason
		if term != nil {
			detail = fmt.Sprintf("%s, exit code %d", term.Reason, term.ExitCode)
		}
		reason := FailureNoResults
		if pod.Status.Reason == "DeadlineExceeded" {
			reason = FailureDeadlineExceeded
		}
		return failed(reason, fmt.Sprintf("probe pod %s/%s ended without results (%s)%s", pod.Namespace, pod.Name, detail, messageSuffix(pod.Status.Message)))
	}
	results, err := probes.DecodeResults(term.Message)
	if err == nil && len(results) != checks {
		err = fmt.Errorf("%d results for %d checks", len(results), checks)
	}
	if err != nil {
		return failed(FailureNoResults, fmt.Sprintf("probe pod %s/%s ended with an unreadable result (exit code %d): %v", pod.Namespace, pod.Name, term.ExitCode, err))
	}
	return podOutcome{Done: true, Results: results}
}

func failed(reason, message string) podOutcome {
	return podOutcome{Done: true, Failure: &podFailure{Reason: reason, Message: message}}
}

// probeReported says whether the probe has exited with its results. They are read then:
// the pod's phase turns terminal only after the kubelet has torn the pod down, a second
// or more later. A probe that exited without a message waits for the phase, which says
// why (a deadline, an eviction).
func probeReported(pod *corev1.Pod) bool {
	term := probeTermination(pod)
	return term != nil && term.Message != ""
}

func probeTermination(pod *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == probes.ContainerName {
			return cs.State.Terminated
		}
	}
	return nil
}

// abandoned is a probe pod deleted or evicted before it reported: whatever ends it
// (SIGTERM, the kubelet tearing it down) says nothing of the network, and it will never
// report. Its checks belong in a new pod, not in Error results.
func abandoned(pod *corev1.Pod) bool {
	if probeReported(pod) {
		return false
	}
	if pod.DeletionTimestamp != nil {
		return true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func probeRestarts(pod *corev1.Pod) int32 {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == probes.ContainerName {
			return cs.RestartCount
		}
	}
	return 0
}

func neverRecovers(pod *corev1.Pod) *corev1.ContainerStateWaiting {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && waitingReasonsThatNeverRecover[w.Reason] {
			return w
		}
	}
	return nil
}

// pendingDetail says why a pod has not started, as the scheduler or kubelet put it.
func pendingDetail(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return fmt.Sprintf(": %s: %s", c.Reason, c.Message)
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			return fmt.Sprintf(": %s%s", w.Reason, messageSuffix(w.Message))
		}
	}
	if pod.Spec.NodeName == "" {
		return ": not scheduled to a node yet"
	}
	return ""
}

func messageSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// errorResults stands in for the results of checks whose pod gave none.
func errorResults(n int, f *podFailure) []probes.Result {
	results := make([]probes.Result, n)
	for i := range results {
		results[i] = probes.Result{Observation: v1alpha1.ObservedError, Message: f.Message}
	}
	return results
}

// podContent is what a probe pod carries: the runs it serves and its checks. A pod's
// spec never changes, so it is decoded once.
type podContent struct {
	members []probes.Member
	checks  []probes.Check
	// results maps each check to its result; made counts the results.
	results []int
	made    int
}

func decodePodContent(pod *corev1.Pod) (*podContent, error) {
	members, err := probes.MembersOf(pod)
	if err != nil {
		return nil, err
	}
	checks, err := probes.ChecksOf(pod)
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		if c.Member >= len(members) {
			return nil, fmt.Errorf("pod %s/%s: check of edge %s names member %d of %d", pod.Namespace, pod.Name, c.Edge, c.Member, len(members))
		}
	}
	return &podContent{members: members, checks: checks, results: probes.ResultIndexes(checks), made: len(probes.Made(checks))}, nil
}

// memberIndex is the index of a run among the pod's members, or -1.
func (c *podContent) memberIndex(m probes.Member) int {
	for i, member := range c.members {
		if member.UID == m.UID && member.Run == m.Run {
			return i
		}
	}
	return -1
}

// checksOf returns the checks of one member, as planned, and the places of their
// results.
func (c *podContent) checksOf(member int) ([]probes.Check, []int) {
	var checks []probes.Check
	var places []int
	for i, check := range c.checks {
		if check.Member == member {
			check.Member, check.Same = 0, 0
			checks = append(checks, check)
			places = append(places, c.results[i])
		}
	}
	return checks, places
}

// only keeps the results at the given places.
func (o podOutcome) only(places []int) podOutcome {
	if o.Results == nil {
		return o
	}
	picked := make([]probes.Result, len(places))
	for i, p := range places {
		picked[i] = o.Results[p]
	}
	o.Results = picked
	return o
}

// podReader decodes probe pods once: their checks on first sight, their results once
// they have ended. Many runs read the same shared pod.
type podReader struct {
	contents sync.Map // pod UID → *podContent
	endings  sync.Map // pod UID → podOutcome
}

func (pr *podReader) content(pod *corev1.Pod) (*podContent, error) {
	if c, ok := pr.contents.Load(pod.UID); ok {
		return c.(*podContent), nil
	}
	c, err := decodePodContent(pod)
	if err != nil {
		return nil, err
	}
	pr.contents.Store(pod.UID, c)
	return c, nil
}

func (pr *podReader) outcome(pod *corev1.Pod, checks int, now time.Time, startTimeout time.Duration) podOutcome {
	if !podEnded(pod) && !probeReported(pod) {
		return assessPod(pod, checks, now, startTimeout)
	}
	if o, ok := pr.endings.Load(pod.UID); ok {
		return o.(podOutcome)
	}
	o := assessPod(pod, checks, now, startTimeout)
	pr.endings.Store(pod.UID, o)
	return o
}

func (pr *podReader) forget(uid types.UID) {
	pr.contents.Delete(uid)
	pr.endings.Delete(uid)
}

func podEnded(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
