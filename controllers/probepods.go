package controllers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

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
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
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

func probeTermination(pod *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == probes.ContainerName {
			return cs.State.Terminated
		}
	}
	return nil
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
