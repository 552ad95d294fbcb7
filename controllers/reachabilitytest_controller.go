// Package controllers holds the ReachabilityTest reconciler.
package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/prediction"
	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/internal/provenance"
	"github.com/netconform/netconform/internal/schedule"
	"github.com/netconform/netconform/probes"
)

// Event reasons.
const (
	EventRunStarted     = "RunStarted"
	EventRunPassed      = "RunPassed"
	EventRunFailed      = "RunFailed"
	EventProbePodFailed = "ProbePodFailed"
	EventEdgeRegressed  = "EdgeRegressed"
	EventEdgeRecovered  = "EdgeRecovered"
	// EventPredictionChanged: a change to the cluster flipped what the NetworkPolicies
	// allow for an edge; a run follows to confirm it on the dataplane.
	EventPredictionChanged = "PredictionChanged"
	// EventTooManyChecks: a run would make more checks than the manager's caps allow,
	// and makes none.
	EventTooManyChecks = "TooManyChecks"
)

// ReachabilityTestReconciler runs ReachabilityTests: it plans probe pods, starts them
// within the global cap, reads their results, judges every edge and reports.
type ReachabilityTestReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Events    events.EventRecorder
	PodLogs   PodLogs
	Metrics   *Metrics
	// Pool creates the probe pods that runs share.
	Pool    *probepool.Pool
	Options Options
	Now     func() time.Time
	// Only, when set, limits the reconciler to the tests whose UIDs it accepts (the
	// gate's: those it applied); see only.go.
	Only func(types.UID) bool

	// plans caches the plan of each active run; a restarted manager plans again.
	plans sync.Map
	// pods decodes probe pods once for all the runs that read them.
	pods podReader
	// snapshots shares the policies as read between runs that complete together.
	snapshots snapshots
	// recentReads shares the ready pods of destinations between runs planned together.
	recentReads recentReads[[]probes.PodTarget]
	// completed holds each test's last completed run: a cache that still shows it as
	// active is stale, and acting on it would start its pods again.
	completed sync.Map
	// canaries holds the canary state of each active run.
	canaries canaries
	// changes follows the changes that can affect tests' edges; nil when the manager does
	// not follow changes.
	changes *changes
	// trust tells the probe pods the manager made from pods made to look like them.
	trust *provenance.Ledger
	// reports holds the OpenReports report last written for each test.
	reports reportsWritten
}

// +kubebuilder:rbac:groups=netconform.io,resources=reachabilitytests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=netconform.io,resources=reachabilitytests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=netconform.io,resources=reachabilitytests/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=list;watch;create;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler; it watches tests and the probe pods they own.
func (r *ReachabilityTestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.trust == nil {
		r.trust = provenance.New(nil)
	}
	if err := mgr.Add(r.Pool); err != nil {
		return err
	}
	if err := r.forgetGonePods(mgr); err != nil {
		return err
	}
	if r.snapshots.kinds == nil {
		kinds, err := policykinds.NewDiscoverer(mgr.GetConfig())
		if err != nil {
			return err
		}
		r.snapshots.kinds = kinds
	}
	if r.Options.FollowChanges && r.changes == nil {
		r.changes = newChanges(r.Client, r.Options.Rerun, func() time.Time { return r.Now() }, mgr.GetLogger().WithName("changes"))
	}
	if err := r.followPolicyChanges(mgr); err != nil {
		return err
	}
	if err := r.followDefinitions(mgr); err != nil {
		return err
	}
	if err := r.followClusterPolicies(mgr); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ReachabilityTest{}, builder.WithPredicates(r.onlyTests())).
		Owns(&corev1.Pod{}, builder.MatchEveryOwner, builder.WithPredicates(probePodChanges, r.onlyPodsOfTests())).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.testsFromNodes), builder.WithPredicates(nodeChanges)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles})
	if r.changes != nil {
		b = b.WatchesRawSource(r.changes.source())
	}
	return b.Complete(r)
}

// followPolicyChanges tells the snapshots of each change to a NetworkPolicy and, when
// the manager follows changes, the tests a change to a policy or to labels can affect.
func (r *ReachabilityTestReconciler) followPolicyChanges(mgr ctrl.Manager) error {
	changed := func() { r.snapshots.policyChanged(r.Now()) }
	if r.changes == nil {
		// Without tests to re-run (the gate), a change is all the snapshots need to know:
		// the policies' metadata is enough, and costs less memory than the policies.
		policies := &metav1.PartialObjectMetadata{}
		policies.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"))
		informer, err := mgr.GetCache().GetInformer(context.Background(), policies)
		if err != nil {
			return fmt.Errorf("watching NetworkPolicies: %w", err)
		}
		_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { changed() },
			UpdateFunc: func(any, any) { changed() },
			DeleteFunc: func(any) { changed() },
		})
		return err
	}
	informer, err := mgr.GetCache().GetInformer(context.Background(), &networkingv1.NetworkPolicy{})
	if err != nil {
		return fmt.Errorf("watching NetworkPolicies: %w", err)
	}
	if _, err := informer.AddEventHandler(r.changes.policyHandler(changed)); err != nil {
		return err
	}
	return r.changes.followLabels(mgr)
}

// probePodChanges passes the pod updates a test acts on. A shared probe pod has many
// tests, and a pod's start-up alone updates it several times: waking them all for each
// update would be work for nothing. Canary pods pass whole, each phase follows them.
var probePodChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*corev1.Pod)
		pod, ok := e.ObjectNew.(*corev1.Pod)
		return !ok || !okOld || isCanaryPod(pod) || probeStage(old) != probeStage(pod)
	},
}

// probeStage is what a run reads from a probe pod: whether it ended, has reported its
// results, cannot start, or is being deleted.
func probeStage(pod *corev1.Pod) [4]bool {
	return [4]bool{podEnded(pod), probeReported(pod), neverRecovers(pod) != nil, pod.DeletionTimestamp != nil}
}

// Reconcile predicts the edges again when changes wait, and advances a test's run by
// one step.
func (r *ReachabilityTestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	test := &v1alpha1.ReachabilityTest{}
	if err := r.Client.Get(ctx, req.NamespacedName, test); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.Forget(req.Name)
			r.completed.Delete(req.Name)
			r.reports.Delete(req.Name)
			for _, m := range r.Pool.ForgetTest(req.Name) {
				r.forgetRunKey(runKey(m.UID, m.Run))
			}
			if r.changes != nil {
				r.changes.forget(req.Name)
			}
			return ctrl.Result{}, r.releaseOrphans(ctx, req.Name)
		}
		return ctrl.Result{}, err
	}
	if test.DeletionTimestamp != nil || !r.runs(test.UID) {
		return ctrl.Result{}, nil
	}
	predictAgain, err := r.followChanges(ctx, test)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.reconcileRun(ctx, test)
	if err == nil {
		r.syncReport(ctx, test) // from the status as this reconcile wrote it
	}
	if predictAgain > 0 && (res.RequeueAfter == 0 || predictAgain < res.RequeueAfter) {
		res.RequeueAfter = predictAgain
	}
	return res, err
}

// reconcileRun starts a run when one is due and advances the run in progress.
func (r *ReachabilityTestReconciler) reconcileRun(ctx context.Context, test *v1alpha1.ReachabilityTest) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	pods, err := r.probePods(ctx, test)
	if err != nil {
		return ctrl.Result{}, err
	}
	pods = r.trustedPods(ctx, test, pods)
	run := test.Status.ActiveRun
	if last, ok := r.completed.Load(test.Name); ok && run != nil && run.ID == last {
		return ctrl.Result{}, nil // the status update that completed it is on its way
	}
	// A run of an older generation is abandoned for one of the new spec, unless the new
	// spec suspends the test: then the run in progress finishes.
	if run == nil || (run.Generation != test.Generation && !suspended(test)) {
		if run != nil {
			r.forgetRun(test, *run)
		}
		if err := r.releasePods(ctx, test, pods, ""); err != nil {
			return ctrl.Result{}, err
		}
		if refused, err := r.refuseSchedule(ctx, test); refused || err != nil {
			return ctrl.Result{}, err // a new spec wakes the test again
		}
		wait, err := r.untilNextRun(ctx, test)
		if err != nil || wait != 0 {
			return ctrl.Result{RequeueAfter: max(wait, 0)}, err
		}
		if refused, err := r.refusedOutOfBounds(ctx, test); refused || err != nil {
			return ctrl.Result{}, err
		}
		if refused, err := r.refusedNoNodes(ctx, test); refused || err != nil {
			return ctrl.Result{}, err // a change to the nodes wakes the test again
		}
		if run, err = r.startRun(ctx, test); err != nil {
			return ctrl.Result{}, err
		}
		log.Info("Run started", "reachabilityTest", klog.KObj(test), "run", run.ID, "generation", run.Generation)
	}
	if err := r.releasePods(ctx, test, pods, run.ID); err != nil {
		return ctrl.Result{}, err
	}
	return r.advanceRun(ctx, test, *run, pods)
}

// refuseSchedule says whether the test's schedule can never work (one an older CRD let
// through: it never fires, or fires too often) and, the first time, reports it on the
// Completed condition and as an event. Such a test does not run at all: running it once
// would hide the problem, and running it by the schedule is impossible.
func (r *ReachabilityTestReconciler) refuseSchedule(ctx context.Context, test *v1alpha1.ReachabilityTest) (bool, error) {
	if test.Spec.Schedule == "" {
		return false, nil
	}
	problem := schedule.Check(test.Spec.Schedule, r.Now())
	if problem == nil {
		return false, nil
	}
	msg := "spec.schedule: " + problem.Error()
	if !invalidScheduleStatus(&test.Status, test.Generation, msg) {
		return true, nil
	}
	if err := r.Client.Status().Update(ctx, test); err != nil {
		return true, fmt.Errorf("recording the invalid schedule: %w", err)
	}
	r.Events.Eventf(test, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSchedule, "Schedule", "%s", msg)
	return true, nil
}

// untilNextRun says how long until the test's next run is due: zero for now, negative
// for never (suspended, or done with its generation and no schedule). It keeps the
// status's nextRunTime current, writing it only when it changes.
func (r *ReachabilityTestReconciler) untilNextRun(ctx context.Context, test *v1alpha1.ReachabilityTest) (time.Duration, error) {
	next := nextRunTime(test, r.Events)
	if !next.Equal(test.Status.NextRunTime) {
		test.Status.NextRunTime = next
		if err := r.Client.Status().Update(ctx, test); err != nil {
			return 0, fmt.Errorf("recording the next run time: %w", err)
		}
	}
	var wait time.Duration
	switch {
	case suspended(test):
		return -1, nil
	case test.Status.ObservedGeneration != test.Generation:
		return 0, nil // a new generation runs at once
	case next == nil:
		wait = -1
	default:
		wait = max(next.Sub(r.Now()), 0)
	}
	if r.changes != nil && len(test.Spec.RerunOn) > 0 {
		if at, ok := r.changes.runAt(test); ok {
			if d := max(at.Sub(r.Now()), 0); wait < 0 || d < wait {
				wait = d
			}
		}
	}
	return wait, nil
}

// probePods lists the probe pods that carry checks of the test, from the cache. They
// are the cache's own objects, shared with every reader: read them, never change them.
func (r *ReachabilityTestReconciler) probePods(ctx context.Context, test *v1alpha1.ReachabilityTest) ([]corev1.Pod, error) {
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.HasLabels{probes.TestLabel(test.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing probe pods: %w", err)
	}
	return list.Items, nil
}

// startRun records a new run on the status before any pod exists, so that a restarted
// manager resumes this run instead of starting another.
func (r *ReachabilityTestReconciler) startRun(ctx context.Context, test *v1alpha1.ReachabilityTest) (*v1alpha1.Run, error) {
	now := metav1.NewTime(r.Now().Truncate(time.Second))
	run := v1alpha1.Run{
		ID:         fmt.Sprintf("g%d-%s", test.Generation, strconv.FormatInt(now.Unix(), 36)),
		Generation: test.Generation,
		StartTime:  now,
	}
	r.canaries.forget(test)
	startRunStatus(&test.Status, run)
	if err := r.Client.Status().Update(ctx, test); err != nil {
		return nil, fmt.Errorf("recording run %s: %w", run.ID, err)
	}
	after := ""
	if r.changes != nil {
		if p := r.changes.take(test.Name, planKey(test, run)); p.Changes > 0 {
			r.Metrics.RunTriggered(test.Name, p.Causes)
			after = ", after " + p.Describe()
		}
	}
	r.Events.Eventf(test, nil, corev1.EventTypeNormal, EventRunStarted, "StartRun", "Run %s started for generation %d with %d edges%s", run.ID, run.Generation, len(test.Spec.Edges), after)
	return test.Status.ActiveRun, nil
}

// advanceRun reads the run's checks from the pods that carry them, hands the checks no
// pod carries to the pool, and completes the run once every check has an outcome.
func (r *ReachabilityTestReconciler) advanceRun(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, pods []corev1.Pod) (ctrl.Result, error) {
	self := probes.MemberOf(test, run.ID)
	r.Pool.Track(self)
	plan := r.planFor(ctx, test, run)
	progress := runProgress{results: map[string][]probes.Result{}, checks: map[string][]probes.Check{}}
	carried := r.readPods(ctx, self, plan, pods, &progress)
	for _, rej := range r.Pool.Rejections(self) {
		progress.add(rej.Checks, podOutcome{Done: true, Failure: &podFailure{Reason: FailureRejected, Message: rej.Message}})
		carried = append(carried, rej.Checks...)
	}
	visible := make(map[types.NamespacedName]bool, len(pods))
	for i := range pods {
		visible[client.ObjectKeyFromObject(&pods[i])] = true
	}
	isVisible := func(key types.NamespacedName) bool { return visible[key] }
	waiting := false
	for _, source := range plan.Sources {
		missing := withoutChecks(source.Checks, carried)
		if r.Pool.Need(self, test.Spec, source.Identity, missing, isVisible) {
			waiting = true
		}
	}
	finding, canaryRecheck, err := r.advanceCanary(ctx, test, run, pods)
	if err != nil {
		return ctrl.Result{}, err
	}
	if progress.pending > 0 || waiting || canaryRecheck > 0 {
		return ctrl.Result{RequeueAfter: lookAgainAfter(progress, waiting, canaryRecheck)}, nil
	}
	return ctrl.Result{}, r.completeRun(ctx, test, run, plan, progress, pods, finding)
}

// lookAgainAfter is the soonest the probe pods or the canary need another look.
func lookAgainAfter(progress runProgress, waiting bool, canaryRecheck time.Duration) time.Duration {
	if progress.pending == 0 && !waiting {
		return canaryRecheck
	}
	d := progress.recheckAfter(waiting)
	if canaryRecheck > 0 {
		d = min(d, canaryRecheck)
	}
	return d
}

// readPods adds to the progress what the run's pods say about its checks, and returns
// the checks they carry.
func (r *ReachabilityTestReconciler) readPods(ctx context.Context, self probes.Member, plan probes.Plan, pods []corev1.Pod, progress *runProgress) []probes.Check {
	var carried []probes.Check
	now := r.Now()
	for i := range pods {
		pod := &pods[i]
		if pod.Labels[probes.TestLabel(self.UID)] != self.Run || isCanaryPod(pod) {
			continue
		}
		content, err := r.pods.content(pod)
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Cannot read a probe pod", "pod", klog.KObj(pod))
			continue
		}
		member := content.memberIndex(self)
		if member < 0 {
			continue
		}
		if abandoned(pod) {
			// Its checks are not carried: the run asks for them again.
			r.Pool.Lost(self, client.ObjectKeyFromObject(pod))
			continue
		}
		checks, places := content.checksOf(member)
		if !r.trust.IsMade(pod.UID) && !planned(plan, pod, checks) {
			ctrl.LoggerFrom(ctx).Info("A probe pod from before the manager started carries checks the run does not plan; asking for them again", "pod", klog.KObj(pod), "run", self.Run)
			continue
		}
		outcome := r.pods.outcome(pod, content.made, now, r.Options.PodStartTimeout)
		if !outcome.Done {
			if f := r.nodeFailure(ctx, pod); f != nil {
				outcome = podOutcome{Done: true, Failure: f}
			}
		}
		if podEnded(pod) {
			r.Pool.Signal() // its place under the cap is free
		}
		progress.add(checks, outcome.only(places))
		progress.from(pod, checks)
		carried = append(carried, checks...)
	}
	return carried
}

// completeRun judges every edge, writes the status once, reports, and only then deletes
// the run's pods, so that a crash in between loses no results.
func (r *ReachabilityTestReconciler) completeRun(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, plan probes.Plan, progress runProgress, pods []corev1.Pod, finding *canary.Finding) error {
	results := judgeRun(test.Spec.Edges, plan, progress, r.listens(ctx, test, run, progress))
	cluster := r.predict(ctx, test, run, results, progress)
	previous := test.Status.Results
	now := metav1.NewTime(r.Now())
	completeRunStatus(&test.Status, run, results, now)
	recordPredictionsComplete(&test.Status, cluster, prediction.NamespacesOf(test.Spec.Edges), run.Generation)
	recordCanary(&test.Status, finding, run.Generation)
	test.Status.NextRunTime = nextRunTime(test, r.Events)
	if err := r.Client.Status().Update(ctx, test); err != nil {
		return fmt.Errorf("recording the results of run %s: %w", run.ID, err)
	}
	r.report(test, run, results, previous, progress.failures, now.Sub(run.StartTime.Time))
	r.reportCanary(test, finding)
	if r.changes != nil {
		if p, ok := r.changes.completed(test.Name, planKey(test, run)); ok {
			r.Metrics.ChangeToVerdict(StageProbed, r.Now().Sub(p.First))
		}
	}
	r.completed.Store(test.Name, run.ID)
	r.forgetRun(test, run)
	if err := r.cleanUpCanary(ctx, test, run); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Run completed", "reachabilityTest", klog.KObj(test), "run", run.ID, "passed", test.Status.Summary.Passed, "failed", test.Status.Summary.Failed, "inconclusive", test.Status.Summary.Inconclusive)
	return r.releasePods(ctx, test, pods, "")
}

// predict adds to each result what the cluster's policies allow, and a diagnosis where
// intent, policies and dataplane disagree, and returns the view it predicted from. A
// prediction is extra: when the policies cannot be read, the results stand without it
// (and the view is nil).
func (r *ReachabilityTestReconciler) predict(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, results []v1alpha1.EdgeResult, progress runProgress) *netpol.Cluster {
	// The start time is kept to the second: a view read a second after it was read after
	// the run started.
	since := run.StartTime.Add(time.Second)
	cluster, err := r.snapshots.get(ctx, r.APIReader, prediction.NamespacesOf(test.Spec.Edges), since, r.Now())
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Cannot predict the edges from the policies", "reachabilityTest", klog.KObj(test), "err", err.Error())
		return nil
	}
	for i, edge := range test.Spec.Edges {
		checks, res := progress.checks[edge.Name], progress.results[edge.Name]
		if len(checks) == 0 || len(checks) != len(res) || results[i].Observed == v1alpha1.ObservedError {
			continue
		}
		source := prediction.Source(edge.From, "probe", progress.sourceIPs[edge.Name])
		predicted, why := prediction.Predict(cluster, edge, source, checks, res)
		results[i].Predicted = predicted
		results[i].Explanation = truncateMessage(why)
		results[i].Diagnosis = prediction.Diagnose(edge.Expect, predicted, results[i].Observed)
	}
	return cluster
}

func (r *ReachabilityTestReconciler) report(test *v1alpha1.ReachabilityTest, run v1alpha1.Run, results, previous []v1alpha1.EdgeResult, failures []podFailure, took time.Duration) {
	r.Metrics.RunCompleted(test.Name, took, results)
	for _, f := range failures {
		r.Metrics.ProbeErrors(f.Reason, 1)
		r.Events.Eventf(test, nil, corev1.EventTypeWarning, EventProbePodFailed, "RunProbe", "%s", f.Message)
	}
	for _, c := range verdictChanges(previous, results) {
		reason, kind := EventEdgeRecovered, corev1.EventTypeNormal
		if c.Regressed {
			reason, kind = EventEdgeRegressed, corev1.EventTypeWarning
		}
		r.Events.Eventf(test, nil, kind, reason, "JudgeEdge", "Edge %s went from %s to %s (expected %s, observed %s): %s", c.Edge, c.Before, c.Now.Verdict, c.Now.Expected, c.Now.Observed, c.Now.Message)
	}
	r.reportDiagnoses(test, results)
	cond := meta.FindStatusCondition(test.Status.Conditions, v1alpha1.ConditionPassed)
	if cond.Status == metav1.ConditionTrue {
		r.Events.Eventf(test, nil, corev1.EventTypeNormal, EventRunPassed, "JudgeRun", "Run %s: %s", run.ID, cond.Message)
		return
	}
	r.Events.Eventf(test, nil, corev1.EventTypeWarning, EventRunFailed, "JudgeRun", "Run %s: %s", run.ID, cond.Message)
}

// releasePods deletes the test's probe pods that do not belong to keepRun (pods already
// read, or left from an earlier run or generation) once no other run needs them either.
func (r *ReachabilityTestReconciler) releasePods(ctx context.Context, test *v1alpha1.ReachabilityTest, pods []corev1.Pod, keepRun string) error {
	for i := range pods {
		pod := &pods[i]
		if pod.Labels[probes.TestLabel(test.UID)] == keepRun || pod.DeletionTimestamp != nil {
			continue
		}
		if err := r.deleteIfDone(ctx, pod); err != nil {
			return err
		}
	}
	return nil
}

// releaseOrphans deletes the probe pods that a deleted test was the last to need.
func (r *ReachabilityTestReconciler) releaseOrphans(ctx context.Context, testName string) error {
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.HasLabels{probes.LabelRun}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing probe pods: %w", err)
	}
	for i := range list.Items {
		pod := &list.Items[i]
		ownedByTest := slices.ContainsFunc(pod.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Name == testName })
		if pod.DeletionTimestamp != nil || !ownedByTest || r.ours(ctx, pod) != nil {
			continue
		}
		if err := r.deleteIfDone(ctx, pod); err != nil {
			return err
		}
	}
	return nil
}

// deleteIfDone deletes a probe pod once every run it serves is over. A pod whose
// members cannot be read serves nobody; a canary pod serves its own run only, which
// the caller knows to be over.
func (r *ReachabilityTestReconciler) deleteIfDone(ctx context.Context, pod *corev1.Pod) error {
	if over, err := r.membersOver(ctx, pod); err != nil || !over {
		return err
	}
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name}}
	err := r.Client.Delete(ctx, gone, client.Preconditions{UID: &pod.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting probe pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	r.pods.forget(pod.UID)
	return nil
}

// membersOver says whether every run a probe pod serves is over.
func (r *ReachabilityTestReconciler) membersOver(ctx context.Context, pod *corev1.Pod) (bool, error) {
	if isCanaryPod(pod) {
		return true, nil
	}
	content, err := r.pods.content(pod)
	if err != nil {
		return true, nil //nolint:nilerr // a pod whose members cannot be read serves nobody
	}
	for _, m := range content.members {
		if over, err := r.runOver(ctx, m); err != nil || !over {
			return false, err
		}
	}
	return true, nil
}

// runOver says whether a member's run has completed or been abandoned. What this
// process knows comes first: the cache may not show its own latest status writes.
func (r *ReachabilityTestReconciler) runOver(ctx context.Context, m probes.Member) (bool, error) {
	if last, ok := r.completed.Load(m.Test); ok && last == m.Run {
		return true, nil
	}
	if r.Pool.Active(m) {
		return false, nil
	}
	test := &v1alpha1.ReachabilityTest{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: m.Test}, test); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
	return test.UID != m.UID || test.Status.ActiveRun == nil || test.Status.ActiveRun.ID != m.Run, nil
}

// planFor returns the run's plan, planning it on first use.
func (r *ReachabilityTestReconciler) planFor(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run) probes.Plan {
	key := planKey(test, run)
	if p, ok := r.plans.Load(key); ok {
		return p.(probes.Plan)
	}
	plan := probes.BuildPlan(ctx, test.Spec.Edges, apiResolver{reader: r.APIReader, recent: &r.recentReads, now: r.Now}, r.planOptions(test))
	caps := probes.Caps{PerEdge: r.Options.MaxChecksPerEdge, PerRun: r.Options.MaxChecksPerRun}
	if err := caps.Exceeded(plan); err != nil {
		r.Events.Eventf(test, nil, corev1.EventTypeWarning, EventTooManyChecks, "PlanRun", "Run %s makes no check: %v", run.ID, err)
		plan = probes.Refused(test.Spec.Edges, err)
	}
	r.addPolicyVerdicts(ctx, test, run, plan)
	r.plans.Store(key, plan)
	return plan
}

// addPolicyVerdicts marks each check with what the policies allow, so that a new probe
// pod waits for its enforcer only while the dataplane disagrees with them. Without the
// policies, checks go unmarked and wait the fixed settle time.
func (r *ReachabilityTestReconciler) addPolicyVerdicts(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, plan probes.Plan) {
	cluster, err := r.snapshots.get(ctx, r.APIReader, prediction.NamespacesOf(test.Spec.Edges), run.StartTime.Time, r.Now())
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Cannot read the policies: probe pods wait the settle time", "reachabilityTest", klog.KObj(test), "err", err.Error())
		return
	}
	edges := make(map[string]v1alpha1.Edge, len(test.Spec.Edges))
	for _, e := range test.Spec.Edges {
		edges[e.Name] = e
	}
	for _, source := range plan.Sources {
		for i := range source.Checks {
			source.Checks[i].Policy = prediction.Before(cluster, edges[source.Checks[i].Edge], source.Checks[i])
		}
	}
}

// forgetRun drops what this process holds for a run that completed or was abandoned.
func (r *ReachabilityTestReconciler) forgetRun(test *v1alpha1.ReachabilityTest, run v1alpha1.Run) {
	r.Pool.Forget(probes.MemberOf(test, run.ID))
	r.plans.Delete(planKey(test, run))
	if r.changes != nil {
		r.changes.forgetRun(planKey(test, run))
	}
}

// forgetRunKey drops what this process holds for a run of a test that is gone.
func (r *ReachabilityTestReconciler) forgetRunKey(key string) {
	r.plans.Delete(key)
	r.canaries.Delete(key)
	if r.changes != nil {
		r.changes.forgetRun(key)
	}
}

func planKey(test *v1alpha1.ReachabilityTest, run v1alpha1.Run) string {
	return runKey(test.UID, run.ID)
}

func runKey(uid types.UID, run string) string {
	return string(uid) + "/" + run
}

// reportDiagnoses says, once per run, which edges the policies or the dataplane got wrong.
func (r *ReachabilityTestReconciler) reportDiagnoses(test *v1alpha1.ReachabilityTest, results []v1alpha1.EdgeResult) {
	byDiagnosis := map[v1alpha1.Diagnosis][]string{}
	for _, res := range results {
		if res.Diagnosis != "" {
			byDiagnosis[res.Diagnosis] = append(byDiagnosis[res.Diagnosis], res.Edge)
		}
	}
	if edges := byDiagnosis[v1alpha1.DiagnosisDataplaneMismatch]; len(edges) > 0 {
		r.Events.Eventf(test, nil, corev1.EventTypeWarning, string(v1alpha1.DiagnosisDataplaneMismatch), "Diagnose",
			"%d edges did not do what the NetworkPolicies say (is the CNI enforcing them?): %s", len(edges), listNames(edges))
	}
	if edges := byDiagnosis[v1alpha1.DiagnosisPolicyMismatch]; len(edges) > 0 {
		r.Events.Eventf(test, nil, corev1.EventTypeWarning, string(v1alpha1.DiagnosisPolicyMismatch), "Diagnose",
			"%d edges are not what the NetworkPolicies implement (a policy bug): %s", len(edges), listNames(edges))
	}
}
