package controllers

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/trigger"
)

// changes follows the changes that can change tests' edges: NetworkPolicies from the
// manager's cache, and the labels of namespaces and (non-probe) pods from a cache of
// their metadata. Each change is matched against the scope of every test that follows
// its kind (internal/trigger decides); an affected test records it and is enqueued.
// Watches only: a cluster where nothing changes costs no request.
type changes struct {
	reader client.Reader
	timing trigger.Timing
	now    func() time.Time
	log    logr.Logger

	mu sync.Mutex
	// queue is the controller's, once it started; changes seen before are picked up by
	// the reconcile of every test at start.
	queue workqueue.TypedRateLimitingInterface[reconcile.Request]
	// tests holds what each test that follows changes has waiting.
	tests map[string]*trigger.State
	// scopes caches each test's scope for its UID and generation.
	scopes map[string]cachedScope
	// runs holds the changes each triggered run covers, by plan key, until it completes.
	runs map[string]trigger.Pending
	// observed counts the changes that affected each test, for the tests of this package.
	observed map[string]int
}

type cachedScope struct {
	uid        types.UID
	generation int64
	scope      trigger.Scope
}

func newChanges(reader client.Reader, timing trigger.Timing, now func() time.Time, log logr.Logger) *changes {
	return &changes{reader: reader, timing: timing, now: now, log: log,
		tests: map[string]*trigger.State{}, scopes: map[string]cachedScope{}, runs: map[string]trigger.Pending{}, observed: map[string]int{}}
}

// source hands the controller's queue to the changes.
func (c *changes) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.queue = q
		return nil
	})
}

// observe records a change for every test it can affect, and enqueues them.
func (c *changes) observe(ch trigger.Change) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The list is read under the lock (from the cache, in memory): a test deleted after
	// it was read would otherwise be recorded again after forget dropped it.
	c.mu.Lock()
	defer c.mu.Unlock()
	var tests v1alpha1.ReachabilityTestList
	if err := c.reader.List(ctx, &tests, client.UnsafeDisableDeepCopy); err != nil {
		c.log.Error(err, "Cannot list the tests a change may affect", "change", ch.String())
		return
	}
	now := c.now()
	for i := range tests.Items {
		t := &tests.Items[i]
		if t.DeletionTimestamp != nil || suspended(t) || !ch.Cause.Follows(t.Spec.RerunOn) {
			continue
		}
		affected, why := c.scopeOf(t).Affects(ch)
		if !affected {
			continue
		}
		c.stateOf(t.Name).Observe(ch, now)
		c.observed[t.Name]++
		c.log.V(4).Info("Change affects a test", "reachabilityTest", t.Name, "change", ch.String(), "why", why)
		if c.queue != nil {
			c.queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: t.Name}})
		}
	}
}

// scopeOf is the test's scope, computed once per generation; c.mu is held.
func (c *changes) scopeOf(t *v1alpha1.ReachabilityTest) trigger.Scope {
	if s, ok := c.scopes[t.Name]; ok && s.uid == t.UID && s.generation == t.Generation {
		return s.scope
	}
	s := cachedScope{uid: t.UID, generation: t.Generation, scope: trigger.ScopeOf(t.Spec.Edges)}
	c.scopes[t.Name] = s
	return s.scope
}

// stateOf is the test's state; c.mu is held.
func (c *changes) stateOf(test string) *trigger.State {
	s, ok := c.tests[test]
	if !ok {
		s = &trigger.State{}
		c.tests[test] = s
	}
	return s
}

// with runs f on the test's state under the lock.
func with[T any](c *changes, test string, f func(*trigger.State) T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f(c.stateOf(test))
}

// predictAt says when the test's edges should be predicted again, if at all.
func (c *changes) predictAt(test string) (time.Time, bool) {
	type answer struct {
		at time.Time
		ok bool
	}
	a := with(c, test, func(s *trigger.State) answer { at, ok := s.PredictAt(c.timing); return answer{at, ok} })
	return a.at, a.ok
}

// predicted records a prediction made from a view read after now; it returns the
// changes' description and when the first of those it covers came.
func (c *changes) predicted(test string, now time.Time) (string, time.Time) {
	type answer struct {
		what  string
		since time.Time
	}
	a := with(c, test, func(s *trigger.State) answer { since := s.Predicted(now); return answer{s.Pending.Describe(), since} })
	return a.what, a.since
}

// stale says that the status no longer holds the predictions of the waiting changes.
func (c *changes) stale(test string) {
	with(c, test, func(s *trigger.State) struct{} { s.Stale(); return struct{}{} })
}

// runAt says when a triggered run of the test may start, if changes wait.
func (c *changes) runAt(test *v1alpha1.ReachabilityTest) (time.Time, bool) {
	var last time.Time
	if test.Status.LastRunStartTime != nil {
		last = test.Status.LastRunStartTime.Time
	}
	type answer struct {
		at time.Time
		ok bool
	}
	a := with(c, test.Name, func(s *trigger.State) answer { at, ok := s.RunAt(c.timing, last); return answer{at, ok} })
	return a.at, a.ok
}

// take hands the waiting changes to a run that starts, and remembers them until it
// completes.
func (c *changes) take(test, key string) trigger.Pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.stateOf(test).Take()
	if p.Changes > 0 {
		c.runs[key] = p
	}
	return p
}

// completed returns the changes a completed run covered, and forgets them.
func (c *changes) completed(test, key string) (trigger.Pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.runs[key]
	delete(c.runs, key)
	c.stateOf(test).Stale()
	return p, ok
}

// forget drops what is held for a deleted test.
func (c *changes) forget(test string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tests, test)
	delete(c.scopes, test)
	delete(c.observed, test)
}

// observedFor says how many changes affected the test.
func (c *changes) observedFor(test string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.observed[test]
}

// forgetRun drops what is held for an abandoned run.
func (c *changes) forgetRun(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.runs, key)
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch

// policyHandler tells policyChanged of every change to a NetworkPolicy's spec, and the
// tests it can affect. The policies come whole from the manager's
// cache: which pods a policy selects, before and after, decides which tests it affects.
func (c *changes) policyHandler(policyChanged func()) toolscache.ResourceEventHandler {
	changed := func(ch trigger.Change) {
		policyChanged()
		// A canary's policies select its own pods only, and come and go with every canary
		// run: following them would have canaries re-run tests, and tests re-run canaries.
		if !isCanaryPolicy(ch.OldPolicy) && !isCanaryPolicy(ch.NewPolicy) {
			c.observe(ch)
		}
	}
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			p, ok := obj.(*networkingv1.NetworkPolicy)
			switch {
			case !ok:
			case initial:
				// The cache's first list: what was there before the manager started is no
				// change to follow, but a view read before it is stale all the same.
				policyChanged()
			default:
				changed(trigger.Change{Cause: trigger.CausePolicy, Namespace: p.Namespace, Name: p.Name, NewPolicy: p})
			}
		},
		UpdateFunc: func(oldObj, obj any) {
			old, okOld := oldObj.(*networkingv1.NetworkPolicy)
			p, ok := obj.(*networkingv1.NetworkPolicy)
			if !ok || !okOld || equality.Semantic.DeepEqual(old.Spec, p.Spec) {
				return // a resync, or metadata only
			}
			changed(trigger.Change{Cause: trigger.CausePolicy, Namespace: p.Namespace, Name: p.Name, OldPolicy: old, NewPolicy: p})
		},
		DeleteFunc: func(obj any) {
			if p, ok := deleted(obj).(*networkingv1.NetworkPolicy); ok {
				changed(trigger.Change{Cause: trigger.CausePolicy, Namespace: p.Namespace, Name: p.Name, OldPolicy: p})
			}
		},
	}
}

func isCanaryPolicy(p *networkingv1.NetworkPolicy) bool {
	return p != nil && canary.Owns(p)
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch

// followLabels watches the labels of namespaces and pods, from a cache of their own that
// keeps only names and labels and leaves probe pods out: about 300 bytes a pod, so
// 10,000 pods cost some 3 MiB.
func (c *changes) followLabels(mgr ctrl.Manager) error {
	ctx := context.Background()
	labelsCache, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(),
		Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: labels.NewSelector().Add(notProbePods)},
		},
		DefaultTransform: keepNamesAndLabels,
	})
	if err != nil {
		return fmt.Errorf("creating the cache of labels: %w", err)
	}
	if err := mgr.Add(labelsCache); err != nil {
		return err
	}
	for _, kind := range []string{"Namespace", "Pod"} {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		informer, err := labelsCache.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("watching %s labels: %w", kind, err)
		}
		cause := trigger.CausePodLabels
		if kind == "Namespace" {
			cause = trigger.CauseNamespaceLabels
		}
		if _, err := informer.AddEventHandler(labelHandler(cause, c.observe)); err != nil {
			return err
		}
	}
	return nil
}

// labelHandler turns namespace or pod events into changes of labels: an update that
// leaves the labels alone (a pod's status) is none.
func labelHandler(cause trigger.Cause, observe func(trigger.Change)) toolscache.ResourceEventHandler {
	change := func(obj metav1.Object, old, now map[string]string) trigger.Change {
		return trigger.Change{Cause: cause, Namespace: obj.GetNamespace(), Name: obj.GetName(), OldLabels: old, NewLabels: now}
	}
	nonNil := func(m map[string]string) map[string]string {
		if m == nil {
			return map[string]string{}
		}
		return m
	}
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if m, ok := obj.(metav1.Object); ok && !initial {
				observe(change(m, nil, nonNil(m.GetLabels())))
			}
		},
		UpdateFunc: func(oldObj, obj any) {
			old, okOld := oldObj.(metav1.Object)
			m, ok := obj.(metav1.Object)
			if !ok || !okOld || maps.Equal(old.GetLabels(), m.GetLabels()) {
				return
			}
			observe(change(m, nonNil(old.GetLabels()), nonNil(m.GetLabels())))
		},
		DeleteFunc: func(obj any) {
			if m, ok := deleted(obj).(metav1.Object); ok {
				observe(change(m, nonNil(m.GetLabels()), nil))
			}
		},
	}
}

// deleted unwraps the final state of an object whose deletion the watch missed.
func deleted(obj any) any {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		return tomb.Obj
	}
	return obj
}

// keepNamesAndLabels keeps of an object's metadata what the changes read.
func keepNamesAndLabels(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, Labels: m.Labels,
	}}, nil
}
