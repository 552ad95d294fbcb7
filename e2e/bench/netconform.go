//go:build bench

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
	"github.com/netconform/netconform/internal/metricsserving"
	"github.com/netconform/netconform/internal/scrape"
	"github.com/netconform/netconform/probes"
)

// runTest applies a ReachabilityTest and returns the time until its Completed condition,
// with the test as it then was.
func (b *bench) runTest(test *v1alpha1.ReachabilityTest) (time.Duration, *v1alpha1.ReachabilityTest, error) {
	test.Labels = map[string]string{benchLabel: "true"}
	start := time.Now()
	if err := b.k8s.Create(b.ctx, test); err != nil {
		return 0, nil, fmt.Errorf("creating ReachabilityTest %s: %w", test.Name, err)
	}
	got := &v1alpha1.ReachabilityTest{}
	err := b.waitFor("ReachabilityTest "+test.Name+" to complete", func(ctx context.Context) (bool, string, error) {
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(test), got); err != nil {
			return false, "", err
		}
		return completed(got), conditionText(got), nil
	})
	return time.Since(start), got, err
}

func completed(t *v1alpha1.ReachabilityTest) bool {
	return t.Status.ObservedGeneration == t.Generation && meta.IsStatusConditionTrue(t.Status.Conditions, v1alpha1.ConditionCompleted)
}

func conditionText(t *v1alpha1.ReachabilityTest) string {
	c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionCompleted)
	if c == nil {
		return "no Completed condition yet"
	}
	return c.Reason + ": " + c.Message
}

// checkPassed notes a test that did not pass: its figure stands, but says less.
func (b *bench) checkPassed(t *v1alpha1.ReachabilityTest) {
	c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionPassed)
	if c != nil && c.Status == metav1.ConditionTrue {
		return
	}
	msg := "no Passed condition"
	if c != nil {
		msg = c.Message
	}
	b.report.Note("ReachabilityTest %s did not pass: %s", t.Name, msg)
	b.logf("ReachabilityTest %s did not pass: %s", t.Name, msg)
}

// deleteTests deletes ReachabilityTests and waits until they and their probe pods are gone.
func (b *bench) deleteTests(names ...string) error {
	for _, name := range names {
		t := &v1alpha1.ReachabilityTest{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := client.IgnoreNotFound(b.k8s.Delete(b.ctx, t, client.PropagationPolicy(metav1.DeletePropagationBackground))); err != nil {
			return err
		}
	}
	return b.waitFor("the tests and their probe pods to be gone", func(ctx context.Context) (bool, string, error) {
		for _, name := range names {
			err := b.k8s.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.ReachabilityTest{})
			if !apierrors.IsNotFound(err) {
				return false, "test " + name + " still there", client.IgnoreNotFound(err)
			}
		}
		var pods corev1.PodList
		if err := b.k8s.List(ctx, &pods, client.HasLabels{probes.LabelRun}); err != nil {
			return false, "", err
		}
		return len(pods.Items) == 0, fmt.Sprintf("%d probe pods left", len(pods.Items)), nil
	})
}

// manager is the running netconform manager: its pod, for metrics and logs, and its
// process on this node, for memory and CPU.
type manager struct {
	cs        kubernetes.Interface
	namespace string
	pod       string
	podIP     string
	pid       int
	scraper   scraper
	// maxProbePods is its --max-concurrent-probe-pods.
	maxProbePods int
}

func findManager(ctx context.Context, cs kubernetes.Interface) (*manager, error) {
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=netconform,app.kubernetes.io/component=manager"})
	if err != nil {
		return nil, fmt.Errorf("looking for the netconform manager: %w", err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
			continue
		}
		m := &manager{cs: cs, namespace: pod.Namespace, pod: pod.Name, podIP: pod.Status.PodIP, maxProbePods: probePodCap(pod)}
		if m.pid, err = managerPID(); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("no running netconform manager pod: deploy it first (make deploy)")
}

// probePodCap reads --max-concurrent-probe-pods from the manager's arguments.
func probePodCap(pod *corev1.Pod) int {
	for _, arg := range pod.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(arg, "--max-concurrent-probe-pods="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return 20 // the manager's default
}

// managerPID finds the manager's process on this node by its command line.
func managerPID() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(string(raw), "\x00")
		if len(argv) > 1 && filepath.Base(argv[0]) == "netconform" && argv[1] == "manager" {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("want exactly one `netconform manager` process on this node, found %d: run the benchmark on the cluster's node", len(found))
	}
	return found[0], nil
}

// writes is how many API requests that change something the manager has made.
func (m *manager) writes(ctx context.Context) (float64, error) {
	raw, err := m.metrics(ctx)
	if err != nil {
		return 0, err
	}
	return figures.Writes(raw), nil
}

// metrics reads the manager's metrics as an authorised scraper, from this node. It reads
// twice: the first read lets the manager review the token (a TokenReview and a
// SubjectAccessReview, which its request counters count, cached for a minute), so that
// the second shows only the manager's own requests.
func (m *manager) metrics(ctx context.Context) (string, error) {
	if m.scraper.token == "" {
		if err := m.scraper.grant(ctx, m.cs); err != nil {
			return "", err
		}
	}
	url := "https://" + net.JoinHostPort(m.podIP, strconv.Itoa(metricsserving.Port)) + "/metrics"
	var resp scrape.Response
	for range 2 {
		var err error
		if resp, err = scrape.Get(ctx, url, m.scraper.token); err != nil {
			return "", fmt.Errorf("reading the manager's metrics: %w", err)
		}
		if resp.Status != http.StatusOK {
			return "", fmt.Errorf("reading the manager's metrics: %d %s", resp.Status, resp.Body)
		}
	}
	return string(resp.Body), nil
}

// scraper is the benchmark's identity for reading metrics, made on first use in a
// namespace of its own, which the clean-up removes.
type scraper struct {
	token string
}

func (s *scraper) grant(ctx context.Context, cs kubernetes.Interface) error {
	labels := map[string]string{benchLabel: "true"}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench-metrics", Labels: labels}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns.Name, err)
	}
	id := scrape.Identity{Namespace: ns.Name, Name: "bench", Labels: labels}
	if err := scrape.Grant(ctx, cs, id); err != nil {
		return err
	}
	token, err := scrape.Token(ctx, cs, id, 12*time.Hour)
	s.token = token
	return err
}

// throttled counts the manager's log lines since a time that say client-go delayed a
// request on its own rate limiter.
func (m *manager) throttled(ctx context.Context, since time.Time) (int, error) {
	raw, err := m.cs.CoreV1().Pods(m.namespace).GetLogs(m.pod, &corev1.PodLogOptions{SinceTime: &metav1.Time{Time: since}}).DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the manager's log: %w", err)
	}
	return bytes.Count(raw, []byte("client-side throttling")), nil
}

// usage samples the manager's resident memory and reads its CPU time.
type usage struct {
	pid     int
	mu      sync.Mutex
	peakRSS int64 // bytes
	stop    chan struct{}
	done    chan struct{}
	cpu0    float64
}

func (m *manager) watchUsage() *usage {
	u := &usage{pid: m.pid, stop: make(chan struct{}), done: make(chan struct{})}
	u.cpu0, _ = cpuSeconds(m.pid)
	go func() {
		defer close(u.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := statusKB(u.pid, "VmRSS:"); err == nil {
				u.mu.Lock()
				u.peakRSS = max(u.peakRSS, rss*1024)
				u.mu.Unlock()
			}
			select {
			case <-u.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return u
}

// end stops sampling and returns the peak RSS in MiB and the CPU seconds used.
func (u *usage) end() (peakMiB, cpu float64) {
	close(u.stop)
	<-u.done
	cpu1, _ := cpuSeconds(u.pid)
	u.mu.Lock()
	defer u.mu.Unlock()
	return float64(u.peakRSS) / (1 << 20), cpu1 - u.cpu0
}

// statusKB reads a kB field of /proc/PID/status, such as VmRSS: or VmHWM:.
func statusKB(pid int, field string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// cpuSeconds is the process's user and system time (/proc/PID/stat, clock ticks of 1/100 s).
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	return (utime + stime) / 100, nil
}

// podCensus watches the probe pods of a namespace: how many were created, and the most
// that were starting or running at once.
type podCensus struct {
	mu      sync.Mutex
	created map[string]bool
	active  map[string]bool
	peak    int
	stop    func()
	done    chan struct{}
}

func (b *bench) watchProbePods(namespace string) (*podCensus, error) {
	ctx, cancel := context.WithCancel(b.ctx)
	w, err := b.cs.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{LabelSelector: probes.LabelRun})
	if err != nil {
		cancel()
		return nil, err
	}
	c := &podCensus{created: map[string]bool{}, active: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer w.Stop()
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			c.observe(pod, ev.Type == watch.Deleted)
		}
	}()
	return c, nil
}

func (c *podCensus) observe(pod *corev1.Pod, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created[pod.Name] = true
	ended := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if deleted || ended {
		delete(c.active, pod.Name)
		return
	}
	c.active[pod.Name] = true
	c.peak = max(c.peak, len(c.active))
}

// end stops watching and returns the pods created and the peak.
func (c *podCensus) end() (created, peak int) {
	c.stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.created), c.peak
}
