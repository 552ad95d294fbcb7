package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// Tests that probe from the same source identity at the same time share probe pods. A
// run hands the checks it still needs to the waves; the waves gather, per identity and
// pod settings, the checks of every run that asks within a short window, and create
// pods for them once, within the cap. The pods are the record: each lists its members
// and each check names its member, so a restarted manager reads what every run was
// given from the pods, and runs ask again only for checks that no pod carries.

// DefaultWaveWindow is how long a wave waits for another run to join before it creates
// its pods: long enough for tests applied together to share, short beside a probe
// pod's life.
const DefaultWaveWindow = 150 * time.Millisecond

// maxWaveGather bounds how long runs that keep joining hold a wave back.
const maxWaveGather = time.Second

// lostPodGrace is how long a pod the waves created may stay out of the cache before
// the runs it served ask again for its checks.
const lostPodGrace = 30 * time.Second

// waves batches the checks of runs into shared probe pods.
type waves struct {
	client  client.Client
	limiter *PodLimiter
	pod     probes.PodSettings
	perPod  int
	window  time.Duration
	now     func() time.Time
	wake    chan struct{}

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

// runRequests is what one run asked the waves for, and what became of it.
type runRequests struct {
	member   probes.Member
	asked    map[string]*request // by group
	failures []failedChecks
}

// request follows one run's checks for one group from the wave to the pods.
type request struct {
	// waiting counts the pods, or the open group, holding its checks that do not exist yet.
	waiting int
	// created holds the pods created with its checks, and when.
	created map[string]time.Time
}

// failedChecks are checks whose pod the API server refused.
type failedChecks struct {
	checks  []probes.Check
	failure podFailure
}

func newWaves(c client.Client, limiter *PodLimiter, opts Options) *waves {
	perPod := opts.Plan.MaxChecksPerPod
	if perPod <= 0 || perPod > probes.MaxChecksPerPod {
		perPod = probes.MaxChecksPerPod
	}
	window := opts.WaveWindow
	if window <= 0 {
		window = DefaultWaveWindow
	}
	return &waves{
		client: c, limiter: limiter, pod: opts.Pod, perPod: perPod, window: window, now: time.Now,
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

// track marks a run active: its checks are worth creating pods for.
func (w *waves) track(m probes.Member) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.runs[memberKey(m)]; !ok {
		w.runs[memberKey(m)] = &runRequests{member: m, asked: map[string]*request{}}
	}
}

// forget drops a run that completed or was abandoned; checks of it not yet in a pod
// are left out of the pods still to create.
func (w *waves) forget(m probes.Member) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.runs, memberKey(m))
}

// forgetTest drops every run of a test that is gone.
func (w *waves) forgetTest(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, run := range w.runs {
		if run.member.Test == name {
			delete(w.runs, key)
		}
	}
}

// active reports whether a run is tracked in this process.
func (w *waves) active(m probes.Member) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.runs[memberKey(m)]
	return ok
}

// failures returns the checks of a run whose pods the API server refused.
func (w *waves) failures(m probes.Member) []failedChecks {
	w.mu.Lock()
	defer w.mu.Unlock()
	if run, ok := w.runs[memberKey(m)]; ok {
		return slices.Clone(run.failures)
	}
	return nil
}

// need hands the waves the checks of one group that no pod of the run carries, unless
// the waves already hold them. It reports whether the run must wait for them. visible
// says whether the cache shows a pod.
func (w *waves) need(m probes.Member, spec v1alpha1.ReachabilityTestSpec, id probes.Identity, missing []probes.Check, visible func(string) bool) bool {
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
	run.asked[key] = &request{waiting: 1, created: map[string]time.Time{}}
	w.signal()
	return true
}

// lost is a request whose pods all exist yet one has stayed out of the cache too long:
// it was deleted before it was read.
func (w *waves) lost(req *request, visible func(string) bool) bool {
	if req.waiting > 0 {
		return false
	}
	for pod, at := range req.created {
		if !visible(pod) && w.now().Sub(at) > lostPodGrace {
			return true
		}
	}
	return false
}

// signal wakes the loop: there is new work, or capacity may have come free.
func (w *waves) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start creates the pods of each wave once its window has passed, as the cap allows.
func (w *waves) Start(ctx context.Context) error {
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
func (w *waves) untilDue() (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	retry := now
	if !w.blockedAt.IsZero() {
		retry = w.blockedAt.Add(waitForCapacityRecheck)
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
func (w *waves) flush(ctx context.Context) {
	seen, running, err := listProbePods(ctx, w.client)
	if err != nil {
		w.block(err)
		return
	}
	for {
		batch := w.take(seen, running)
		if len(batch) == 0 {
			return
		}
		for i, p := range batch {
			if err := w.create(ctx, p); err != nil {
				for _, later := range batch[i+1:] {
					w.limiter.Release(podKey(later.pod))
				}
				w.requeue(batch[i:])
				w.block(err)
				return
			}
		}
	}
}

func (w *waves) block(err error) {
	ctrl.Log.WithName("waves").Error(err, "Cannot create probe pods; retrying")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.blockedAt = w.now()
}

// take returns the next pods to create: the held-back pods first, then those of the
// group that has waited longest, as far as the cap allows. A group the cap holds back
// entirely stays open, and runs that ask meanwhile still join it.
func (w *waves) take(seen map[string]bool, running int) []*wavePod {
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
	if len(w.limiter.Reserve([]string{g.identity.Namespace + "/" + first}, seen, running)) == 0 {
		w.blockedAt = w.now()
		return nil
	}
	w.seq++
	delete(w.open, g.key)
	pods := w.render(g, wave)
	w.settle(g, pods)
	ctrl.Log.WithName("waves").V(4).Info("Wave closed", "wave", wave, "namespace", g.identity.Namespace, "runs", len(g.requests), "pods", len(pods), "waited", w.now().Sub(g.since))
	granted := 1 + w.reserve(pods[1:], seen, running)
	w.queue = pods[granted:]
	return pods[:granted:granted]
}

// reserve takes capacity for a prefix of pods and says how many.
func (w *waves) reserve(pods []*wavePod, seen map[string]bool, running int) int {
	if len(pods) == 0 {
		return 0
	}
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = podKey(p.pod)
	}
	granted := len(w.limiter.Reserve(names, seen, running))
	if granted < len(pods) {
		w.blockedAt = w.now()
	}
	return granted
}

// dropIdle leaves out the checks of runs no longer active, and pods only they need.
func (w *waves) dropIdle() {
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
func (w *waves) due(g *waveGroup) time.Time {
	byLast, bySince := g.last.Add(w.window), g.since.Add(max(w.window, maxWaveGather))
	if byLast.Before(bySince) {
		return byLast
	}
	return bySince
}

func (w *waves) oldestDue() *waveGroup {
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

// render merges the group's checks into as few pods as the per-pod limit allows. A
// connection that several checks share is made once per pod, and counts once against
// the limit. Each pod lists only the members whose checks it holds, and each check
// names its member.
func (w *waves) render(g *waveGroup, wave string) []*wavePod {
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
	for index, chunk := range w.chunks(checks) {
		used, rebased := rebase(members, chunk)
		plan := probes.PodPlan{Identity: g.identity, Index: index, Checks: rebased}
		pod := probes.RenderPod(probes.SharedPod{Wave: wave, Members: used, Spec: g.spec, Plan: plan}, w.pod)
		pods = append(pods, &wavePod{group: g.key, pod: pod, members: used, checks: rebased})
	}
	return pods
}

// maxListedBytes bounds the encoded checks of a pod, made or answered by another,
// whatever the number of runs that share it: they travel in one argument of the probe,
// and the kernel refuses an argument of more than 128 KiB.
const maxListedBytes = 96 << 10

// listedBytes is at least what a check takes in the probe's argument.
func listedBytes(c probes.Check) int {
	return len(c.Edge) + len(c.Host) + 72
}

// chunks splits checks into pods of at most perPod connections each: a check joins the
// pod that already makes its connection, and marks the check there that makes it.
func (w *waves) chunks(checks []probes.Check) [][]probes.Check {
	var pods []*chunk
	for _, c := range checks {
		p := findChunk(pods, c)
		if p == nil {
			if last := len(pods) - 1; last >= 0 && pods[last].fits(c, w.perPod) {
				p = pods[last]
			} else {
				p = &chunk{made: map[probes.Connection]int{}}
				pods = append(pods, p)
			}
		}
		p.add(c)
	}
	out := make([][]probes.Check, len(pods))
	for i, p := range pods {
		out[i] = p.checks
	}
	return out
}

// chunk is one pod's checks, where each of its connections is first made, and the
// size of its checks in the probe's argument.
type chunk struct {
	checks []probes.Check
	made   map[probes.Connection]int
	bytes  int
}

// fits says whether the chunk can take a check with a new connection.
func (c *chunk) fits(check probes.Check, perPod int) bool {
	return len(c.made) < perPod && c.lists(check)
}

// lists says whether the chunk's argument has room for one more check.
func (c *chunk) lists(check probes.Check) bool {
	return c.bytes+listedBytes(check) <= maxListedBytes
}

func (c *chunk) add(check probes.Check) {
	c.bytes += listedBytes(check)
	check.Same = 0
	if first, ok := c.made[check.Connection()]; ok {
		check.Same = first + 1
	} else {
		c.made[check.Connection()] = len(c.checks)
	}
	c.checks = append(c.checks, check)
}

// findChunk returns the chunk that makes the check's connection and can list it.
func findChunk(pods []*chunk, check probes.Check) *chunk {
	for _, p := range pods {
		if _, ok := p.made[check.Connection()]; ok && p.lists(check) {
			return p
		}
	}
	return nil
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
func (w *waves) settle(g *waveGroup, pods []*wavePod) {
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

func (w *waves) requestOf(m probes.Member, group string) *request {
	if run, ok := w.runs[memberKey(m)]; ok {
		return run.asked[group]
	}
	return nil
}

// create creates one pod. A pod the API server refuses fails its checks; other errors
// are returned, and the pod is tried again later.
func (w *waves) create(ctx context.Context, p *wavePod) error {
	err := w.client.Create(ctx, p.pod)
	switch {
	case err == nil || apierrors.IsAlreadyExists(err):
		w.created(p)
		return nil
	case isRejection(err):
		w.limiter.Release(podKey(p.pod))
		w.rejected(p, podFailure{Reason: FailureRejected, Message: fmt.Sprintf("probe pod %s/%s was rejected: %v", p.pod.Namespace, p.pod.Name, err)})
		return nil
	}
	w.limiter.Release(podKey(p.pod))
	return fmt.Errorf("creating probe pod %s/%s: %w", p.pod.Namespace, p.pod.Name, err)
}

func (w *waves) created(p *wavePod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range p.members {
		if req := w.requestOf(m, p.group); req != nil {
			req.waiting--
			req.created[podKey(p.pod)] = w.now()
		}
	}
}

func (w *waves) rejected(p *wavePod, f podFailure) {
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
		run.failures = append(run.failures, failedChecks{checks: checks, failure: f})
		if req := run.asked[p.group]; req != nil {
			req.waiting--
		}
	}
}

func (w *waves) requeue(pods []*wavePod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(slices.Clone(pods), w.queue...)
}

// listProbePods returns every probe pod the cache knows, and how many still run.
func listProbePods(ctx context.Context, c client.Reader) (map[string]bool, int, error) {
	var list corev1.PodList
	if err := c.List(ctx, &list, client.HasLabels{probes.LabelRun}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, 0, fmt.Errorf("listing probe pods: %w", err)
	}
	seen := make(map[string]bool, len(list.Items))
	running := 0
	for i := range list.Items {
		pod := &list.Items[i]
		seen[podKey(pod)] = true
		if !podEnded(pod) {
			running++
		}
	}
	return seen, running, nil
}

func podEnded(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
