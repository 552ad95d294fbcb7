package controllers

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	cnp "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/canary"
	"github.com/netconform/netconform/internal/probepool"
	"github.com/netconform/netconform/probes"
)

// PodLogs reads a container's log; the canary client reports through it, since canary
// pods, like probe pods, get no credentials.
type PodLogs func(ctx context.Context, namespace, pod, container string) ([]byte, error)

// canaryRun is the state of one run's canary. It lives in memory only: a restarted
// manager starts the canary over, which costs seconds and loses nothing.
type canaryRun struct {
	names canary.Names
	// pairs are the ring's client and server pairs, each running the phases with
	// policies of its own, all at once.
	pairs []*canaryPair
	// unchecked counts the schedulable nodes beyond canary.MaxNodes.
	unchecked int
}

// canaryPair is one client, the server it probes, and their phases.
type canaryPair struct {
	pair    canary.Pair
	names   canary.Names
	machine canary.Machine
	applied *canary.Policies
	// probing is true once the client runs and the phases have started.
	probing bool
	// clientUID and serverUID are the pods the phases started with: a pod recreated
	// under the same name is not the one the timeline speaks of.
	clientUID, serverUID types.UID
}

// canaries holds the canary of each active run, by plan key.
type canaries struct{ sync.Map }

func (c *canaries) get(key string) (*canaryRun, bool) {
	v, ok := c.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*canaryRun), true
}

// advanceCanary moves a run's canary on by one step. It returns the finding once the
// canary is done, or when to look again. A test without a canary is done at once.
func (r *ReachabilityTestReconciler) advanceCanary(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, pods []corev1.Pod) (*canary.Finding, time.Duration, error) {
	spec := test.Spec.Canary
	if spec == nil {
		return nil, 0, nil
	}
	key := planKey(test, run)
	state, ok := r.canaries.get(key)
	if !ok {
		var err error
		if state, err = r.newCanaryRun(ctx, test); err != nil {
			return nil, 0, err
		}
		// Pods left by a run this manager does not remember are stale: start over.
		if stale := canaryPods(pods, state.names); len(stale) > 0 {
			return nil, time.Second, r.releasePods(ctx, test, stale, "")
		}
		r.canaries.Store(key, state)
	}
	done := true
	for _, p := range state.pairs {
		if !p.machine.Done() {
			if err := r.stepCanary(ctx, test, run, p, pods); err != nil {
				return nil, 0, err
			}
		}
		done = done && p.machine.Done()
	}
	if !done {
		return nil, state.pairs[0].machine.RecheckAfter(), nil
	}
	findings := make([]canary.PairFinding, len(state.pairs))
	for i, p := range state.pairs {
		findings[i] = canary.PairFinding{Pair: p.pair, Finding: p.machine.Finding()}
	}
	f := canary.Combine(findings, state.unchecked)
	return &f, 0, nil
}

// newCanaryRun lays the ring over the nodes the canary's pods may run on.
func (r *ReachabilityTestReconciler) newCanaryRun(ctx context.Context, test *v1alpha1.ReachabilityTest) (*canaryRun, error) {
	spec := test.Spec.Canary
	tier, err := r.adminTierCheck(ctx, spec)
	if err != nil {
		return nil, err
	}
	nodes, err := r.canaryNodes(ctx, test)
	if err != nil {
		return nil, err
	}
	state := &canaryRun{names: canary.NamesFor(test, r.canaryNamespace(spec))}
	if len(nodes) > canary.MaxNodes {
		state.unchecked, nodes = len(nodes)-canary.MaxNodes, nodes[:canary.MaxNodes]
	}
	for i, pair := range canary.Ring(nodes) {
		state.pairs = append(state.pairs, &canaryPair{
			pair: pair, names: state.names.ForPair(i),
			machine: canary.Machine{Timeout: canaryTimeout(spec), AdminTier: tier},
		})
	}
	return state, nil
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=list

// canaryNodes are the names of the nodes the test's canary pods may run on. A manager
// that may not list nodes runs one unpinned pair, as the scheduler places it.
func (r *ReachabilityTestReconciler) canaryNodes(ctx context.Context, test *v1alpha1.ReachabilityTest) ([]string, error) {
	var nodes corev1.NodeList
	if err := r.APIReader.List(ctx, &nodes); err != nil {
		if apierrors.IsForbidden(err) {
			ctrl.LoggerFrom(ctx).Info("Cannot list nodes: the canary runs one unpinned pair", "error", err.Error())
			return nil, nil
		}
		return nil, fmt.Errorf("listing the nodes for the canary: %w", err)
	}
	override := ptr.Deref(test.Spec.ProbePod, v1alpha1.ProbePodSpec{})
	return canary.Schedulable(nodes.Items, override.NodeSelector, override.Tolerations), nil
}

// stepCanary sets a pair up, or feeds its machine the client's timeline and applies the
// policies it asks for.
func (r *ReachabilityTestReconciler) stepCanary(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, state *canaryPair, pods []corev1.Pod) error {
	if !state.probing {
		return r.setUpCanary(ctx, test, run, state, pods)
	}
	// A client that cannot reach a server that is gone sees what a deny looks like: each
	// step needs both pods still serving, or no phase's finding holds.
	for _, p := range []struct {
		role, name, node string
		uid              types.UID
	}{
		{"client", state.names.Client(), state.pair.ClientNode, state.clientUID},
		{"server", state.names.Server(), state.pair.ServerNode, state.serverUID},
	} {
		pod, node := findPod(pods, state.names.Namespace, p.name), p.node
		if pod != nil && pod.Spec.NodeName != "" {
			node = pod.Spec.NodeName
		}
		if why := r.canaryPodLost(ctx, pod, p.uid, node); why != "" {
			state.machine.Fail(fmt.Sprintf("the canary %s pod %s/%s%s %s before the canary finished, so what its client saw says nothing about the policies", p.role, state.names.Namespace, p.name, onNode(node), why))
			return nil
		}
	}
	log, err := r.PodLogs(ctx, state.names.Namespace, state.names.Client(), canary.ContainerName)
	if err != nil {
		return fmt.Errorf("reading the canary client's log: %w", err)
	}
	timeline, err := canary.ParseTimeline(bytes.NewReader(log))
	if err != nil {
		state.machine.Fail(err.Error())
		return nil
	}
	if state.machine.Advance(timeline, r.Now()) && !state.machine.Done() {
		return r.failCanaryOnRejection(state, r.applyCanaryPolicies(ctx, test, state))
	}
	return nil
}

// failCanaryOnRejection ends the canary when the API server refuses its objects for
// good (a missing namespace, admission), and passes on errors worth retrying.
func (r *ReachabilityTestReconciler) failCanaryOnRejection(state *canaryPair, err error) error {
	if err == nil || !probepool.IsRejection(err) {
		return err
	}
	why := err.Error()
	if apierrors.IsNotFound(err) {
		why = fmt.Sprintf("the canary namespace %s does not exist: create it, or set spec.canary.namespace to a namespace that does", state.names.Namespace)
	}
	state.machine.Fail(why)
	return nil
}

// setUpCanary puts the policies with both allows in place, then starts the server, then
// the client, which needs the server's address. The phases start once the client runs.
func (r *ReachabilityTestReconciler) setUpCanary(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run, state *canaryPair, pods []corev1.Pod) error {
	n := state.names
	if state.applied == nil {
		if err := r.ensureCanaryNamespace(ctx, n.Namespace); err != nil {
			state.machine.Fail(err.Error())
			return nil
		}
		if err := r.applyCanaryPolicies(ctx, test, state); err != nil {
			return r.failCanaryOnRejection(state, err)
		}
	}
	settings := r.canaryPodSettings(test, run)
	server := findPod(pods, n.Namespace, n.Server())
	if server == nil {
		settings.Node = state.pair.ServerNode
		return r.createCanaryPod(ctx, test, state, canary.ServerPod(n, settings))
	}
	if problem := canaryPodProblem(server, r.Now(), r.Options.PodStartTimeout); problem != "" {
		state.machine.Fail(problem)
		return nil
	}
	if server.Status.Phase != corev1.PodRunning || server.Status.PodIP == "" {
		return nil
	}
	client := findPod(pods, n.Namespace, n.Client())
	if client == nil {
		settings.Node = state.pair.ClientNode
		return r.createCanaryPod(ctx, test, state, canary.ClientPod(n, settings, server.Status.PodIP))
	}
	if problem := canaryPodProblem(client, r.Now(), r.Options.PodStartTimeout); problem != "" {
		state.machine.Fail(problem)
		return nil
	}
	if client.Status.Phase == corev1.PodRunning {
		state.probing = true
		state.clientUID, state.serverUID = client.UID, server.UID
		state.machine.Start(r.Now())
	}
	return nil
}

// canaryPodLost says how a canary pod stopped serving since the phases started (gone or
// replaced, not Running, not Ready, its node NotReady or gone), or "" while it serves.
func (r *ReachabilityTestReconciler) canaryPodLost(ctx context.Context, pod *corev1.Pod, uid types.UID, nodeName string) string {
	switch {
	case pod == nil || pod.UID != uid:
		return "went away"
	case pod.Status.Phase != corev1.PodRunning:
		return fmt.Sprintf("stopped running (%s)", pod.Status.Phase)
	case !podReady(pod):
		return "stopped being Ready"
	case nodeName == "":
		return ""
	}
	node := &corev1.Node{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: nodeName}, node); err != nil {
		if apierrors.IsNotFound(err) {
			return "lost its node, which is gone"
		}
		return "" // cannot tell: the other checks and the pods' own deadline still hold
	}
	if why := nodeDown(node); why != "" {
		return "lost its node, which " + why
	}
	return ""
}

// nodeDown says why a node no longer runs its pods, or "". A cordoned node still does.
func nodeDown(n *corev1.Node) string {
	if n.DeletionTimestamp != nil {
		return "is being deleted"
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return ""
		}
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("is NotReady (%s)", cmp.Or(c.Reason, string(c.Status)))
		}
	}
	return "reports no Ready condition"
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func onNode(name string) string {
	if name == "" {
		return ""
	}
	return " on node " + name
}

func (r *ReachabilityTestReconciler) createCanaryPod(ctx context.Context, test *v1alpha1.ReachabilityTest, state *canaryPair, pod *corev1.Pod) error {
	pod.OwnerReferences = []metav1.OwnerReference{probes.OwnerReference(test)}
	r.trust.Creating(pod)
	err := r.Client.Create(ctx, pod)
	if err != nil {
		r.trust.Failed(pod)
	}
	switch {
	case err == nil:
		r.trust.Made(pod)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil
	case probepool.IsRejection(err):
		state.machine.Fail(fmt.Sprintf("canary pod %s/%s was rejected: %v", pod.Namespace, pod.Name, err))
		return nil
	}
	return fmt.Errorf("creating canary pod %s/%s: %w", pod.Namespace, pod.Name, err)
}

// applyCanaryPolicies makes the canary's policies match what the machine asks for:
// deletions first, so that a switch from one half of the allow to the other never
// passes through both. The first time, the cluster's state is unknown (a restarted
// manager) and every policy is written.
func (r *ReachabilityTestReconciler) applyCanaryPolicies(ctx context.Context, test *v1alpha1.ReachabilityTest, state *canaryPair) error {
	want, first := state.machine.Policies(), state.applied == nil
	had := canary.Policies{}
	if !first {
		had = *state.applied
	}
	clusterPolicies := state.machine.AdminTier == canary.TierRun
	wanted, present := canary.Objects(state.names, want, clusterPolicies), canary.Objects(state.names, had, clusterPolicies)
	changedAt := r.Now()
	for i, w := range wanted {
		if !w.Wanted && (present[i].Wanted || first) {
			if err := r.Client.Delete(ctx, w.Object); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting canary policy %s: %w", objectName(w.Object), err)
			}
		}
	}
	for i, w := range wanted {
		if w.Wanted && (!present[i].Wanted || first) {
			w.Object.SetOwnerReferences([]metav1.OwnerReference{probes.OwnerReference(test)})
			if err := r.Client.Create(ctx, w.Object); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating canary policy %s: %w", objectName(w.Object), err)
			}
		}
	}
	state.applied = &want
	state.machine.Changed(changedAt)
	return nil
}

// deleteCanaryPolicies removes the canary's policies once its run is over. The
// ClusterNetworkPolicies are cluster-scoped and owned by the cluster-scoped test, so
// garbage collection also removes them when the test goes, should the manager not.
func (r *ReachabilityTestReconciler) deleteCanaryPolicies(ctx context.Context, state *canaryPair) error {
	for _, w := range canary.Objects(state.names, canary.Policies{}, state.machine.AdminTier == canary.TierRun) {
		if err := r.Client.Delete(ctx, w.Object); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting canary policy %s: %w", objectName(w.Object), err)
		}
	}
	return nil
}

func objectName(obj canary.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

// ensureCanaryNamespace creates the canary's namespace when the reconciler may, with the
// restricted Pod Security level that the canary's pods meet.
func (r *ReachabilityTestReconciler) ensureCanaryNamespace(ctx context.Context, name string) error {
	if !r.Options.CreateCanaryNamespace {
		return nil
	}
	// Looking first lets a gate whose namespace was made for it run without the right to
	// create namespaces.
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	if err := r.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the canary namespace %s: %w", name, err)
	}
	return nil
}

func (r *ReachabilityTestReconciler) canaryNamespace(spec *v1alpha1.CanarySpec) string {
	if spec.Namespace != "" {
		return spec.Namespace
	}
	return r.Options.CanaryNamespace
}

func (r *ReachabilityTestReconciler) canaryPodSettings(test *v1alpha1.ReachabilityTest, run v1alpha1.Run) canary.PodSettings {
	// The pods outlive every phase's wait (nine at most, with the admin tier) and the
	// starts, should the manager be gone.
	deadline := 10*canaryTimeout(test.Spec.Canary) + 2*r.Options.PodStartTimeout
	return canary.PodSettings{Image: r.Options.Pod.Image, RunID: run.ID, TestUID: test.UID, Deadline: deadline, Override: test.Spec.ProbePod}
}

func canaryTimeout(spec *v1alpha1.CanarySpec) time.Duration {
	return time.Duration(max(spec.TimeoutSeconds, 1)) * time.Second
}

// canaryPodProblem says why a canary pod will not serve, or "" while it may.
func canaryPodProblem(pod *corev1.Pod, now time.Time, startTimeout time.Duration) string {
	w := neverRecovers(pod)
	switch {
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return fmt.Sprintf("canary pod %s/%s ended (%s)%s", pod.Namespace, pod.Name, pod.Status.Phase, messageSuffix(pod.Status.Message))
	case w != nil:
		return fmt.Sprintf("canary pod %s/%s cannot start: %s%s", pod.Namespace, pod.Name, w.Reason, messageSuffix(w.Message))
	case pod.Status.Phase != corev1.PodRunning && now.Sub(pod.CreationTimestamp.Time) >= startTimeout:
		return fmt.Sprintf("canary pod %s/%s did not start within %s%s", pod.Namespace, pod.Name, startTimeout, pendingDetail(pod))
	}
	return ""
}

func canaryPods(pods []corev1.Pod, n canary.Names) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Labels[canary.LabelCanary] == n.ID {
			out = append(out, p)
		}
	}
	return out
}

// isCanaryPod tells the canary's pods from probe pods: they carry no checks.
func isCanaryPod(pod *corev1.Pod) bool {
	_, ok := pod.Labels[canary.LabelCanary]
	return ok
}

func findPod(pods []corev1.Pod, namespace, name string) *corev1.Pod {
	for i := range pods {
		if pods[i].Namespace == namespace && pods[i].Name == name && pods[i].DeletionTimestamp == nil {
			return &pods[i]
		}
	}
	return nil
}

// cleanUpCanary deletes the canary's policies once its run has recorded the finding;
// its pods go with the run's probe pods.
func (r *ReachabilityTestReconciler) cleanUpCanary(ctx context.Context, test *v1alpha1.ReachabilityTest, run v1alpha1.Run) error {
	state, ok := r.canaries.get(planKey(test, run))
	if !ok {
		return nil
	}
	r.canaries.Delete(planKey(test, run))
	for _, p := range state.pairs {
		if err := r.deleteCanaryPolicies(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// forget drops the canary state of a test's earlier runs.
func (c *canaries) forget(test *v1alpha1.ReachabilityTest) {
	prefix := string(test.UID) + "/"
	c.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			c.Delete(k)
		}
		return true
	})
}

// Event reasons of the canary.
const (
	EventNetworkPolicyEnforced           = "NetworkPolicyEnforced"
	EventNetworkPolicyNotEnforced        = "NetworkPolicyNotEnforced"
	EventClusterNetworkPolicyEnforced    = "ClusterNetworkPolicyEnforced"
	EventClusterNetworkPolicyNotEnforced = "ClusterNetworkPolicyNotEnforced"
	EventCanaryFailed                    = "CanaryFailed"
)

func (r *ReachabilityTestReconciler) reportCanary(test *v1alpha1.ReachabilityTest, finding *canary.Finding) {
	if finding == nil {
		r.Metrics.ForgetCanary(test.Name)
		return
	}
	r.Metrics.CanaryCompleted(test.Name, *finding)
	kind, reason := corev1.EventTypeWarning, EventNetworkPolicyNotEnforced
	switch {
	case finding.Enforced():
		kind, reason = corev1.EventTypeNormal, EventNetworkPolicyEnforced
	case finding.Reason == v1alpha1.ReasonCanaryFailed:
		reason = EventCanaryFailed
	}
	r.Events.Eventf(test, nil, kind, reason, "RunCanary", "%s", finding.Message)
	r.reportAdminTier(test, finding)
}

// reportAdminTier tells of the admin-tier finding, unless there is nothing new to tell:
// the test skips it, or the API is not served (the condition says so), or the whole
// canary failed (its event said why).
func (r *ReachabilityTestReconciler) reportAdminTier(test *v1alpha1.ReachabilityTest, finding *canary.Finding) {
	a := finding.AdminTier
	if a == nil || a.Reason == v1alpha1.ReasonNotServed || finding.Reason == v1alpha1.ReasonCanaryFailed {
		return
	}
	kind, reason := corev1.EventTypeWarning, EventClusterNetworkPolicyNotEnforced
	switch {
	case a.Enforced():
		kind, reason = corev1.EventTypeNormal, EventClusterNetworkPolicyEnforced
	case a.Reason == v1alpha1.ReasonCanaryFailed:
		reason = EventCanaryFailed
	}
	r.Events.Eventf(test, nil, kind, reason, "RunCanary", "%s", a.Message)
}

// +kubebuilder:rbac:groups=policy.networking.k8s.io,resources=clusternetworkpolicies,verbs=create;delete

// adminTierCheck says whether the canary checks ClusterNetworkPolicy: unless the test
// skips it, where the cluster serves v1beta1, the version the canary writes.
func (r *ReachabilityTestReconciler) adminTierCheck(ctx context.Context, spec *v1alpha1.CanarySpec) (canary.TierCheck, error) {
	if spec.AdminTier == v1alpha1.AdminTierSkip {
		return canary.TierSkip, nil
	}
	served, err := r.snapshots.kinds.Served(ctx)
	switch {
	case err != nil:
		return canary.TierSkip, fmt.Errorf("finding whether ClusterNetworkPolicy is served: %w", err)
	case served.ClusterNetworkPolicy != nil && served.ClusterNetworkPolicy.Version == cnp.GroupVersion.Version:
		return canary.TierRun, nil
	}
	return canary.TierNotServed, nil
}
