// Package probepool creates the probe pods that test runs share, within a cap on the
// probe pods running at once.
//
// Tests that probe from the same source identity at the same time share probe pods. A
// run hands the pool the checks it still needs; the pool gathers, per identity and pod
// settings, the checks of every run that asks within a short window (a wave), chunks
// them into pods (probes.Chunk), and creates the pods once, as the cap allows.
//
// The state the pool holds (open waves, pods the cap held back, what each active run
// asked for and which of its pods the API server refused) lives in this process only:
// it is bookkeeping for pods not yet made. The pods are the record: each lists its
// members and each check names its member, so a restarted manager reads what every run
// was given from the pods, and its runs ask again only for checks that no pod carries.
// A restart loses the waves still gathering and the pods not yet created, which the
// runs ask for again, and the refusals not yet read, whose runs ask again and are
// refused again.
package probepool

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// DefaultWaveWindow is how long a wave waits for another run to join before it creates
// its pods: long enough for tests applied together to share, short beside a probe
// pod's life.
const DefaultWaveWindow = 150 * time.Millisecond

// maxWaveGather bounds how long runs that keep joining hold a wave back.
const maxWaveGather = time.Second

// lostPodGrace is how long a pod the waves created may stay out of the cache before
// the runs it served ask again for its checks.
const lostPodGrace = 30 * time.Second

// CapacityRecheck is how often the pool, or a run waiting for it, looks again while the
// cap is full: pods of other tests free the capacity, and nothing says when.
const CapacityRecheck = time.Second

// Options configure a pool.
type Options struct {
	// Pod holds the manager-wide probe pod settings.
	Pod probes.PodSettings
	// MaxChecksPerPod is the most connections one pod makes (see probes.Chunk).
	MaxChecksPerPod int
	// MaxConcurrentPods caps the probe pods running at once; below 1, no cap.
	MaxConcurrentPods int
	// Window is how long a wave waits for another run to join; DefaultWaveWindow when zero.
	Window time.Duration
	// Log receives the pool's own messages.
	Log logr.Logger
	// Creating is told of each pod before the pool creates it, and Made of the pod the
	// API server returned, or Failed when it was not created.
	Creating, Made, Failed func(*corev1.Pod)
	// Ours says whether the manager made a pod that carries probe labels; only those
	// count against the cap, so that pods made to look like probe pods cannot fill
	// it. Nil counts every such pod.
	Ours func(context.Context, *corev1.Pod) bool
}

// Pool batches the checks of runs into shared probe pods and creates them.
type Pool struct {
	client                 client.Client
	limiter                *limiter
	pod                    probes.PodSettings
	perPod                 int
	window                 time.Duration
	log                    logr.Logger
	creating, made, failed func(*corev1.Pod)
	ours                   func(context.Context, *corev1.Pod) bool
	now                    func() time.Time
	wake                   chan struct{}

	mu sync.Mutex
	// open gathers checks per group until its window has passed and the cap allows.
	open map[string]*waveGroup
	// queue holds pods rendered from a group that the cap held back.
	queue []*wavePod
	// runs holds the state of every active run, by member key.
	runs map[string]*runRequests
	// blockedAt is when the cap or an error last stopped creation; zero when not.
	blockedAt time.Time
	// seq numbers the waves, for their names; opened numbers the groups.
	seq, opened int
}

// waveGroup is the checks of runs that may share pods: same identity, same settings.
type waveGroup struct {
	key      string
	identity probes.Identity
	spec     v1alpha1.ReachabilityTestSpec
	// since is when the first run joined, last when the latest did.
	since, last time.Time
	// opened numbers the groups in the order they opened.
	opened   int
	requests []waveRequest
}

type waveRequest struct {
	member probes.Member
	checks []probes.Check
}

// wavePod is a rendered pod waiting to be created, with the members and checks it
// holds, to account for its creation or its refusal.
type wavePod struct {
	group   string
	pod     *corev1.Pod
	members []probes.Member
	checks  []probes.Check
}

// runRequests is what one run asked the pool for, and what became of it.
type runRequests struct {
	member     probes.Member
	asked      map[string]*request // by group
	rejections []Rejection
}

// request follows one run's checks for one group from the wave to the pods.
type request struct {
	// waiting counts the pods, or the open group, holding its checks that do not exist yet.
	waiting int
	// created holds the pods created with its checks, and when.
	created map[types.NamespacedName]time.Time
	// gone holds the pods created with its checks that will never report (see Lost).
	gone map[types.NamespacedName]bool
}

// Rejection is checks of a run whose pod the API server refused (admission, an invalid
// spec, a missing namespace or service account): they have no result to wait for.
type Rejection struct {
	Checks  []probes.Check
	Message string
}

// New returns a pool that creates pods through c; add it to the manager as a Runnable.
func New(c client.Client, opts Options) *Pool {
	window := opts.Window
	if window <= 0 {
		window = DefaultWaveWindow
	}
	return &Pool{
		client: c, limiter: newLimiter(opts.MaxConcurrentPods), pod: opts.Pod, perPod: opts.MaxChecksPerPod,
		window: window, log: opts.Log, now: time.Now, creating: opts.Creating, made: opts.Made, failed: opts.Failed, ours: opts.Ours,
		wake: make(chan struct{}, 1),
		open: map[string]*waveGroup{}, runs: map[string]*runRequests{},
	}
}

func memberKey(m probes.Member) string {
	return string(m.UID) + "/" + m.Run
}

func groupKey(spec v1alpha1.ReachabilityTestSpec, id probes.Identity) string {
	return id.Key() + "\x00" + probes.SettingsKey(spec)
}

// Track marks a run active: its checks are worth creating pods for.
func (w *Pool) Track(m probes.Member) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.runs[memberKey(m)]; !ok {
		w.runs[memberKey(m)] = &runRequests{member: m, asked: map[string]*request{}}
	}
}

// Forget drops a run that completed or was abandoned; checks of it not yet in a pod
// are left out of the pods still to create.
func (w *Pool) Forget(m probes.Member) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.runs, memberKey(m))
}

// ForgetTest drops every run of a test that is gone, and returns them, so that the
// caller can drop what it holds for them too.
func (w *Pool) ForgetTest(name string) []probes.Member {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gone []probes.Member
	for key, run := range w.runs {
		if run.member.Test == name {
			gone = append(gone, run.member)
			delete(w.runs, key)
		}
	}
	w.Signal() // the next flush drops the test's checks from the waves and the queue
	return gone
}

// Size counts what the pool holds: tracked runs, open waves, held-back pods and
// reservations. For tests that show it returns to nothing.
func (w *Pool) Size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.runs) + len(w.open) + len(w.queue) + w.limiter.size()
}

// Active reports whether a run is tracked in this process.
func (w *Pool) Active(m probes.Member) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.runs[memberKey(m)]
	return ok
}

// Rejections returns the checks of a run whose pods the API server refused.
func (w *Pool) Rejections(m probes.Member) []Rejection {
	w.mu.Lock()
	defer w.mu.Unlock()
	if run, ok := w.runs[memberKey(m)]; ok {
		return slices.Clone(run.rejections)
	}
	return nil
}

// Need hands the pool the checks from one identity that no pod of the run carries,
// unless the pool already holds them. It reports whether the run must wait for them.
// visible says whether the cache shows a pod.
func (w *Pool) Need(m probes.Member, spec v1alpha1.ReachabilityTestSpec, id probes.Identity, missing []probes.Check, visible func(types.NamespacedName) bool) bool {
	if len(missing) == 0 {
		return false
	}
	key := groupKey(spec, id)
	w.mu.Lock()
	defer w.mu.Unlock()
	run, ok := w.runs[memberKey(m)]
	if !ok {
		return false // forgotten: the run is over
	}
	if req, ok := run.asked[key]; ok && !w.lost(req, visible) {
		return true
	}
	g, ok := w.open[key]
	if !ok {
		w.opened++
		g = &waveGroup{key: key, identity: id, spec: spec, since: w.now(), opened: w.opened}
		w.open[key] = g
	}
	g.last = w.now()
	g.requests = append(g.requests, waveRequest{member: m, checks: missing})
	run.asked[key] = &request{waiting: 1, created: map[types.NamespacedName]time.Time{}}
	w.Signal()
	return true
}

// lost is a request whose pods all exist yet one will never report: the run said so
// (Lost), or it has stayed out of the cache too long and was deleted before it was read.
func (w *Pool) lost(req *request, visible func(types.NamespacedName) bool) bool {
	if req.waiting > 0 {
		return false
	}
	for pod, at := range req.created {
		if req.gone[pod] || (!visible(pod) && w.now().Sub(at) > lostPodGrace) {
			return true
		}
	}
	return false
}

// Lost tells the pool that a pod made with checks of the run will never report: it was
// deleted or evicted before it did. The run's next Need asks again for its checks,
// without waiting for the pod to leave the cache.
func (w *Pool) Lost(m probes.Member, pod types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	run, ok := w.runs[memberKey(m)]
	if !ok {
		return
	}
	for _, req := range run.asked {
		if _, ok := req.created[pod]; ok {
			if req.gone == nil {
				req.gone = map[types.NamespacedName]bool{}
			}
			req.gone[pod] = true
		}
	}
}

// Signal wakes the pool: there is new work, or capacity may have come free.
func (w *Pool) Signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start creates the pods of each wave once its window has passed, as the cap allows,
// until ctx ends.
func (w *Pool) Start(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Stop()
		if d, ok := w.untilDue(); ok {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-timer.C:
		}
		w.flush(ctx)
	}
}

// untilDue says when the next group or held-back pod may be created.
func (w *Pool) untilDue() (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	retry := now
	if !w.blockedAt.IsZero() {
		retry = w.blockedAt.Add(CapacityRecheck)
	}
	next, ok := time.Time{}, false
	consider := func(at time.Time) {
		if !ok || at.Before(next) {
			next, ok = at, true
		}
	}
	if len(w.queue) > 0 {
		consider(retry)
	}
	for _, g := range w.open {
		consider(latest(w.due(g), retry))
	}
	return max(next.Sub(now), 0), ok
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// flush creates every pod that is due, as far as the cap allows.
func (w *Pool) flush(ctx context.Context) {
	seen, running, err := listProbePods(ctx, w.client, w.ours)
	if err != nil {
		w.block(err)
		return
	}
	w.limiter.settle(seen)
	for {
		batch := w.take(seen, running)
		if len(batch) == 0 {
			return
		}
		for i, p := range batch {
			if err := w.create(ctx, p); err != nil {
				for _, later := range batch[i+1:] {
					w.limiter.release(client.ObjectKeyFromObject(later.pod))
				}
				w.requeue(batch[i:])
				w.block(err)
				return
			}
		}
	}
}

func (w *Pool) block(err error) {
	w.log.Error(err, "Cannot create probe pods; retrying")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.blockedAt = w.now()
}

// take returns the next pods to create: the held-back pods first, then those of the
// group that has waited longest, as far as the cap allows. A group the cap holds back
// entirely stays open, and runs that ask meanwhile still join it.
func (w *Pool) take(seen map[types.NamespacedName]bool, running int) []*wavePod {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropIdle()
	if len(w.queue) > 0 {
		granted := w.reserve(w.queue, seen, running)
		batch := w.queue[:granted:granted]
		w.queue = w.queue[granted:]
		return batch
	}
	g := w.oldestDue()
	if g == nil {
		w.blockedAt = time.Time{}
		return nil
	}
	wave := strconv.FormatInt(w.now().UnixMilli(), 36) + "-" + strconv.Itoa(w.seq+1)
	first := probes.PodName(g.requests[0].member.Test, wave, probes.PodPlan{Identity: g.identity})
	if len(w.limiter.reserve([]types.NamespacedName{{Namespace: g.identity.Namespace, Name: first}}, seen, running)) == 0 {
		w.blockedAt = w.now()
		return nil
	}
	w.seq++
	delete(w.open, g.key)
	pods := w.render(g, wave)
	w.settle(g, pods)
	w.log.V(4).Info("Wave closed", "wave", wave, "namespace", g.identity.Namespace, "runs", len(g.requests), "pods", len(pods), "waited", w.now().Sub(g.since))
	granted := 1 + w.reserve(pods[1:], seen, running)
	w.queue = pods[granted:]
	return pods[:granted:granted]
}

// reserve takes capacity for a prefix of pods and says how many.
func (w *Pool) reserve(pods []*wavePod, seen map[types.NamespacedName]bool, running int) int {
	if len(pods) == 0 {
		return 0
	}
	names := make([]types.NamespacedName, len(pods))
	for i, p := range pods {
		names[i] = client.ObjectKeyFromObject(p.pod)
	}
	granted := len(w.limiter.reserve(names, seen, running))
	if granted < len(pods) {
		w.blockedAt = w.now()
	}
	return granted
}

// dropIdle leaves out the checks of runs no longer active, and pods only they need.
func (w *Pool) dropIdle() {
	for key, g := range w.open {
		g.requests = slices.DeleteFunc(g.requests, func(r waveRequest) bool {
			_, ok := w.runs[memberKey(r.member)]
			return !ok
		})
		if len(g.requests) == 0 {
			delete(w.open, key)
		}
	}
	w.queue = slices.DeleteFunc(w.queue, func(p *wavePod) bool {
		return !slices.ContainsFunc(p.members, func(m probes.Member) bool {
			_, ok := w.runs[memberKey(m)]
			return ok
		})
	})
}

// due is when a group stops gathering: a window after the latest run joined, and no
// later than maxWaveGather after the first.
func (w *Pool) due(g *waveGroup) time.Time {
	byLast, bySince := g.last.Add(w.window), g.since.Add(max(w.window, maxWaveGather))
	if byLast.Before(bySince) {
		return byLast
	}
	return bySince
}

func (w *Pool) oldestDue() *waveGroup {
	var oldest *waveGroup
	now := w.now()
	for _, g := range w.open {
		if w.due(g).After(now) {
			continue
		}
		if oldest == nil || g.opened < oldest.opened {
			oldest = g
		}
	}
	return oldest
}

// render merges the group's checks into as few pods as probes.Chunk allows. Each pod
// lists only the members whose checks it holds, and each check names its member.
func (w *Pool) render(g *waveGroup, wave string) []*wavePod {
	members := make([]probes.Member, len(g.requests))
	var checks []probes.Check
	for i, r := range g.requests {
		members[i] = r.member
		for _, c := range r.checks {
			c.Member = i
			checks = append(checks, c)
		}
	}
	var pods []*wavePod
	for index, chunk := range probes.Chunk(checks, w.perPod) {
		used, rebased := rebase(members, chunk)
		plan := probes.PodPlan{Identity: g.identity, Index: index, Checks: rebased}
		pod := probes.RenderPod(probes.SharedPod{Wave: wave, Members: used, Spec: g.spec, Plan: plan}, w.pod)
		pods = append(pods, &wavePod{group: g.key, pod: pod, members: used, checks: rebased})
	}
	return pods
}

// rebase keeps the members whose checks a chunk holds and numbers them anew.
func rebase(members []probes.Member, checks []probes.Check) ([]probes.Member, []probes.Check) {
	var used []probes.Member
	out := make([]probes.Check, len(checks))
	index := map[int]int{}
	for i, c := range checks {
		n, ok := index[c.Member]
		if !ok {
			n = len(used)
			index[c.Member] = n
			used = append(used, members[c.Member])
		}
		c.Member = n
		out[i] = c
	}
	return used, out
}

// settle moves each request of a group from the open group to the pods rendered from it.
func (w *Pool) settle(g *waveGroup, pods []*wavePod) {
	for _, r := range g.requests {
		if req := w.requestOf(r.member, g.key); req != nil {
			req.waiting--
		}
	}
	for _, p := range pods {
		for _, m := range p.members {
			if req := w.requestOf(m, g.key); req != nil {
				req.waiting++
			}
		}
	}
}

func (w *Pool) requestOf(m probes.Member, group string) *request {
	if run, ok := w.runs[memberKey(m)]; ok {
		return run.asked[group]
	}
	return nil
}

// create creates one pod. A pod the API server refuses fails its checks; other errors
// are returned, and the pod is tried again later.
func (w *Pool) create(ctx context.Context, p *wavePod) error {
	w.tell(w.creating, p.pod)
	err := w.client.Create(ctx, p.pod)
	if err == nil {
		w.tell(w.made, p.pod)
	} else {
		w.tell(w.failed, p.pod)
	}
	switch {
	case err == nil || apierrors.IsAlreadyExists(err):
		w.created(p)
		return nil
	case IsRejection(err):
		w.limiter.release(client.ObjectKeyFromObject(p.pod))
		w.rejected(p, fmt.Sprintf("probe pod %s/%s was rejected: %v", p.pod.Namespace, p.pod.Name, err))
		return nil
	}
	w.limiter.release(client.ObjectKeyFromObject(p.pod))
	return fmt.Errorf("creating probe pod %s/%s: %w", p.pod.Namespace, p.pod.Name, err)
}

func (w *Pool) tell(f func(*corev1.Pod), pod *corev1.Pod) {
	if f != nil {
		f(pod)
	}
}

// IsRejection is an error that retrying the same object will not fix: admission denied,
// an invalid spec, a missing namespace or service account.
func IsRejection(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsNotFound(err) || apierrors.IsBadRequest(err)
}

func (w *Pool) created(p *wavePod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range p.members {
		if req := w.requestOf(m, p.group); req != nil {
			req.waiting--
			req.created[client.ObjectKeyFromObject(p.pod)] = w.now()
		}
	}
}

func (w *Pool) rejected(p *wavePod, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	byMember := map[int][]probes.Check{}
	for _, c := range p.checks {
		i := c.Member
		c.Member, c.Same = 0, 0
		byMember[i] = append(byMember[i], c)
	}
	for i, checks := range byMember {
		run, ok := w.runs[memberKey(p.members[i])]
		if !ok {
			continue
		}
		run.rejections = append(run.rejections, Rejection{Checks: checks, Message: message})
		if req := run.asked[p.group]; req != nil {
			req.waiting--
		}
	}
}

func (w *Pool) requeue(pods []*wavePod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(slices.Clone(pods), w.queue...)
}

// listProbePods returns the probe pods the cache knows that ours accepts, and how many
// of them still run.
func listProbePods(ctx context.Context, c client.Reader, ours func(context.Context, *corev1.Pod) bool) (map[types.NamespacedName]bool, int, error) {
	var list corev1.PodList
	if err := c.List(ctx, &list, client.HasLabels{probes.LabelRun}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, 0, fmt.Errorf("listing probe pods: %w", err)
	}
	seen := make(map[types.NamespacedName]bool, len(list.Items))
	running := 0
	for i := range list.Items {
		pod := &list.Items[i]
		if ours != nil && !ours(ctx, pod) {
			continue
		}
		seen[client.ObjectKeyFromObject(pod)] = true
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			running++
		}
	}
	return seen, running, nil
}
