//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// clusterScript is the local cluster's script, from the e2e package's folder: the fault
// suite breaks the cluster's own processes through it.
const clusterScript = "cluster/cluster.sh"

// localCluster skips the test unless the local cluster runs with the enforcing profile:
// the faults kill its processes, which no other cluster lets a test do.
func localCluster(t *testing.T) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), clusterScript, "status").CombinedOutput()
	status := string(out)
	if err != nil || !strings.Contains(status, "kube-apiserver: running") || !strings.Contains(status, "kube-router: running") {
		t.Skipf("the fault suite needs the local cluster up with the enforcing profile (make cluster-up PROFILE=enforcing): it kills the cluster's own processes; %s status says: %s %v", clusterScript, status, err)
	}
}

// breakCluster runs a fault verb of the local cluster's script.
func breakCluster(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, clusterScript, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", clusterScript, strings.Join(args, " "), err, out)
	}
}

// probePodWatch follows every probe pod of the cluster from an informer, so that a
// fault can strike a pod within milliseconds of its creation, and records every run
// any probe pod was made for, even pods long deleted.
type probePodWatch struct {
	store toolscache.Store
	mu    sync.Mutex
	runs  map[string]map[string]bool // test label → runs
	made  map[string]map[string]bool // test label → pods
}

func watchProbePods(t *testing.T) *probePodWatch {
	t.Helper()
	factory := informers.NewSharedInformerFactoryWithOptions(clientset, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = probes.LabelRun }))
	informer := factory.Core().V1().Pods().Informer()
	w := &probePodWatch{store: informer.GetStore(), runs: map[string]map[string]bool{}, made: map[string]map[string]bool{}}
	record := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			w.record(pod)
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		t.Fatalf("watching probe pods: %v", err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	factory.Start(stop)
	if !toolscache.WaitForCacheSync(t.Context().Done(), informer.HasSynced) {
		t.Fatalf("the probe pod watch did not sync")
	}
	return w
}

func (w *probePodWatch) record(pod *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range pod.Labels {
		if !strings.HasPrefix(k, probes.TestLabel("")) {
			continue
		}
		if w.runs[k] == nil {
			w.runs[k], w.made[k] = map[string]bool{}, map[string]bool{}
		}
		w.runs[k][v] = true
		w.made[k][pod.Namespace+"/"+pod.Name] = true
	}
}

// runsOf lists the runs that probe pods were made for, for a test.
func (w *probePodWatch) runsOf(test *v1alpha1.ReachabilityTest) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var runs []string
	for run := range w.runs[probes.TestLabel(test.UID)] {
		runs = append(runs, run)
	}
	slices.Sort(runs)
	return runs
}

// podsMade counts the probe pods ever made for a test.
func (w *probePodWatch) podsMade(test *v1alpha1.ReachabilityTest) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.made[probes.TestLabel(test.UID)])
}

// unreported returns a probe pod of the test that is scheduled, not being deleted, has
// not reported its results yet (a pod a fault can still take results from) and is as
// far as ready wants.
func (w *probePodWatch) unreported(test *v1alpha1.ReachabilityTest, ready func(*corev1.Pod) bool) *corev1.Pod {
	for _, obj := range w.store.List() {
		pod := obj.(*corev1.Pod)
		if _, ok := pod.Labels[probes.TestLabel(test.UID)]; !ok || pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
			continue
		}
		if !probeEnded(pod) && (ready == nil || ready(pod)) {
			return pod.DeepCopy()
		}
	}
	return nil
}

// probeEnded says whether a probe pod's container has ended (with results or not).
func probeEnded(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return true
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == probes.ContainerName && cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

// midRun waits, polling the watch every few milliseconds, until a run of the test is
// in progress and one of its probe pods has not reported yet (and is as far as ready
// wants), and returns the run and the pod. The test's status is read after the pod was
// found: the run was still in progress then.
func (s *scenario) midRun(w *probePodWatch, name string, ready func(*corev1.Pod) bool) (*v1alpha1.ReachabilityTest, *corev1.Pod) {
	s.t.Helper()
	rt := &v1alpha1.ReachabilityTest{}
	var pod *corev1.Pod
	last, tooLate := "", false
	step := func(ctx context.Context) (bool, string, error) {
		if rt.UID == "" {
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, rt); err != nil {
				return false, "", err
			}
		}
		if pod = w.unreported(rt, ready); pod == nil {
			return false, "no probe pod that has not reported yet", nil
		}
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, rt); err != nil {
			return false, "", err
		}
		if tooLate = rt.Status.LastRunCompletionTime != nil; tooLate {
			return true, "", nil
		}
		if run := rt.Status.ActiveRun; run == nil || run.ID != pod.Labels[probes.TestLabel(rt.UID)] {
			return false, fmt.Sprintf("probe pod %s belongs to no run in progress (activeRun %+v)", pod.Name, run), nil
		}
		return true, "", nil
	}
	err := wait.PollUntilContextTimeout(s.ctx, 10*time.Millisecond, waitTimeout, true, func(ctx context.Context) (bool, error) {
		done, state, err := step(ctx)
		last = state
		if err != nil {
			last = err.Error() // retried: the API server may be coming back
		}
		return done && err == nil, nil
	})
	switch {
	case err != nil:
		s.fatalf("timed out after %s waiting for a run of %s in progress with a probe pod that has not reported: %s", waitTimeout, name, last)
	case tooLate:
		s.fatalf("the run of %s completed before the fault could strike: its probe pods reported too fast to catch one", name)
	}
	return rt, pod
}

// runsStarted lists the runs the test's RunStarted events name. Events are written
// asynchronously and a crash can lose one: they add evidence of runs, never remove it.
func runsStarted(ctx context.Context, test *v1alpha1.ReachabilityTest) ([]string, error) {
	var events corev1.EventList
	if err := k8s.List(ctx, &events, client.MatchingFields{"involvedObject.name": test.Name, "reason": "RunStarted"}); err != nil {
		return nil, fmt.Errorf("listing the RunStarted events of %s: %w", test.Name, err)
	}
	var runs []string
	for _, e := range events.Items {
		var run string
		if e.InvolvedObject.UID != test.UID {
			continue
		}
		if _, err := fmt.Sscanf(e.Message, "Run %s started", &run); err == nil {
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// probePodsLeft waits until no probe pod of the test is left, and returns those still
// there when the wait gives up.
func probePodsLeft(ctx context.Context, test *v1alpha1.ReachabilityTest, within time.Duration) []string {
	var left []string
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, within, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.HasLabels{probes.TestLabel(test.UID)}); err == nil {
			left = left[:0]
			for _, p := range pods.Items {
				left = append(left, p.Namespace+"/"+p.Name)
			}
			return len(left) == 0, nil
		}
		left = append(left[:0], "(cannot list probe pods)") // retried
		return false, nil
	})
	return left
}

// managerPod returns the running manager pod.
func managerPod(ctx context.Context) (*corev1.Pod, error) {
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.MatchingLabels{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"}); err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && podReady(p) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no ready manager pod among %d", len(pods.Items))
}

// containerState returns a container's ID (without its runtime's prefix) and restarts.
func containerState(pod *corev1.Pod, name string) (string, int32) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == name {
			_, id, _ := strings.Cut(cs.ContainerID, "://")
			return id, cs.RestartCount
		}
	}
	return "", 0
}
