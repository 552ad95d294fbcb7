//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/placement"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
	"github.com/netconform/netconform/probes"
)

// probePlacements remembers the node of every probe pod the suites' tests made, long
// after the pods are gone.
var probePlacements *placements

// placements maps each edge of each test to the probe pods that checked it.
type placements struct {
	mu    sync.Mutex
	seen  map[types.UID]bool
	edges map[edgeKey][]probeRun
}

type edgeKey struct {
	test types.UID
	edge string
}

// probeRun is one probe pod that made checks of an edge.
type probeRun struct {
	created time.Time
	node    string
	// dialed are the addresses of its checks of the edge.
	dialed []string
}

// watchPlacements follows every probe pod of the cluster from an informer and records
// where it was scheduled.
func watchPlacements(ctx context.Context, stop <-chan struct{}) (*placements, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(clientset, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = probes.LabelRun }))
	informer := factory.Core().V1().Pods().Informer()
	p := &placements{seen: map[types.UID]bool{}, edges: map[edgeKey][]probeRun{}}
	record := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			p.record(pod)
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		return nil, fmt.Errorf("watching probe pods: %w", err)
	}
	factory.Start(stop)
	if !toolscache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return nil, fmt.Errorf("the watch on probe pods did not sync")
	}
	return p, nil
}

// record notes a scheduled probe pod once: its node never changes.
func (p *placements) record(pod *corev1.Pod) {
	if pod.Spec.NodeName == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[pod.UID] {
		return
	}
	members, err := probes.MembersOf(pod)
	if err != nil {
		return // not one of the manager's
	}
	checks, err := probes.ChecksOf(pod)
	if err != nil {
		return
	}
	p.seen[pod.UID] = true
	runs := map[edgeKey]*probeRun{}
	for _, c := range checks {
		if c.Member >= len(members) {
			continue
		}
		key := edgeKey{members[c.Member].UID, c.Edge}
		if runs[key] == nil {
			runs[key] = &probeRun{created: pod.CreationTimestamp.Time, node: pod.Spec.NodeName}
		}
		runs[key].dialed = append(runs[key].dialed, c.Address())
	}
	for key, r := range runs {
		p.edges[key] = append(p.edges[key], *r)
	}
}

// node is where the latest probe pod that checked the edge ran, preferring the one that
// dialed target when several did; empty when none was seen.
func (p *placements) node(test types.UID, edge, target string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	runs := slices.Clone(p.edges[edgeKey{test, edge}])
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].created.After(runs[j].created) })
	for _, r := range runs {
		if r.created.Equal(runs[0].created) && slices.Contains(r.dialed, target) {
			return r.node
		}
	}
	if len(runs) == 0 {
		return ""
	}
	return runs[0].node
}

// site is where an edge's traffic ran, and what each of its connections would meet.
type site struct {
	ends placement.Ends
	path placement.Path
}

// sites finds, for a completed run, each edge's probe node (waiting briefly for the
// watch), the nodes of what it may have reached, and, from the policies as the model
// reads them, which side denies each connection.
func (s *scenario) sites(rt *v1alpha1.ReachabilityTest, edges []v1alpha1.Edge) map[string]site {
	s.t.Helper()
	targets := map[string]string{}
	probed := map[string]bool{}
	for _, r := range rt.Status.Results {
		targets[r.Edge] = r.Target
		probed[r.Edge] = r.Observed != v1alpha1.ObservedError
	}
	nodes := map[string]string{}
	_ = wait.PollUntilContextTimeout(s.ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		missing := false
		for _, e := range edges {
			nodes[e.Name] = probePlacements.node(rt.UID, e.Name, targets[e.Name])
			missing = missing || (probed[e.Name] && nodes[e.Name] == "")
		}
		return !missing, nil
	})
	cluster, err := prediction.Snapshot(s.ctx, k8s, policyKinds, edges)
	if err != nil {
		s.fatalf("reading the policies and pods of %s: %v", rt.Name, err)
	}
	out := make(map[string]site, len(edges))
	for _, e := range edges {
		out[e.Name] = siteOf(cluster, e, nodes[e.Name], targets[e.Name])
	}
	return out
}

// siteOf is one edge's site, for a probe on probeNode whose deciding check dialed target.
func siteOf(c *netpol.Cluster, e v1alpha1.Edge, probeNode, target string) site {
	from := netpol.PodPeer(prediction.Source(e.From, "probe", ""))
	protocol := corev1.ProtocolTCP
	if e.Protocol == v1alpha1.ProtocolUDP {
		protocol = corev1.ProtocolUDP
	}
	hops := func(ds []netpol.Decision) []placement.Hop {
		out := make([]placement.Hop, 0, len(ds))
		for _, d := range ds {
			out = append(out, hopOf(d, probeNode))
		}
		return out
	}
	st := site{ends: placement.Ends{Probe: probeNode}, path: placement.Path{AnyCheck: e.Expect == v1alpha1.ExpectDeny}}
	if dialsName(e) {
		if ds, err := prediction.DNSLookup(c, from); err == nil {
			st.path.Lookup = hops(ds)
		}
	}
	var decisions [][]netpol.Decision
	switch to := e.To; {
	case to.Service != nil:
		if ds, err := c.EvaluateService(from, to.Service.Namespace, to.Service.Name, servicePort(c, to.Service), protocol); err == nil {
			decisions = append(decisions, ds)
		}
	case to.Pods != nil:
		decisions = podDecisions(c, from, to.Pods, protocol)
	case to.Host != nil:
		if ip := dialedIP(to.Host.Host, target); ip != "" {
			decisions = append(decisions, []netpol.Decision{c.Evaluate(netpol.Connection{From: from, To: netpol.AddressPeer(ip), Port: to.Host.Port, Protocol: protocol})})
		}
	case to.DNS != nil:
		if ds, err := prediction.DNSLookup(c, from); err == nil {
			decisions = append(decisions, ds)
		}
	}
	dialed, _, _ := net.SplitHostPort(target)
	var all, chosen []string
	for _, ds := range decisions {
		st.path.Checks = append(st.path.Checks, hops(ds))
		for _, d := range ds {
			if pod := d.Connection.To.Pod; pod != nil {
				all = append(all, pod.Spec.NodeName)
				if e.To.Pods != nil && pod.Status.PodIP == dialed {
					chosen = append(chosen, pod.Spec.NodeName)
				}
			}
		}
	}
	st.ends.Destinations = all
	if len(chosen) > 0 {
		st.ends.Destinations = chosen
	}
	return st
}

// hopOf is a connection's hop: the NetworkPolicy tier alone decides each side, because
// that is all the local cluster's enforcer implements.
func hopOf(d netpol.Decision, probeNode string) placement.Hop {
	h := placement.Hop{
		From:        probeNode,
		DenyEgress:  d.Egress.Pod != "" && !d.Egress.NetworkPolicyAllowed,
		DenyIngress: d.Ingress.Pod != "" && !d.Ingress.NetworkPolicyAllowed,
	}
	if pod := d.Connection.To.Pod; pod != nil {
		h.To = pod.Spec.NodeName
	}
	return h
}

// dialsName: the probe looks a name up before it connects.
func dialsName(e v1alpha1.Edge) bool {
	return e.To.Service != nil || (e.To.Host != nil && net.ParseIP(e.To.Host.Host) == nil)
}

// dialedIP is the address a host edge connected to: the host when it is an address, else
// what the probe resolved it to.
func dialedIP(host, target string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	ip, _, err := net.SplitHostPort(target)
	if err != nil {
		return ""
	}
	return ip
}

// servicePort is the number of the Service port an edge names.
func servicePort(c *netpol.Cluster, dest *v1alpha1.ServiceDestination) int32 {
	if dest.Port.Type == intstr.Int {
		return dest.Port.IntVal
	}
	for _, svc := range c.Services {
		if svc.Namespace != dest.Namespace || svc.Name != dest.Name {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == dest.Port.StrVal {
				return p.Port
			}
		}
	}
	return 0
}

// podDecisions judges a connection to each ready pod a pods destination matches, as the
// probe makes one check per pod.
func podDecisions(c *netpol.Cluster, from netpol.Peer, dest *v1alpha1.PodsDestination, protocol corev1.Protocol) [][]netpol.Decision {
	var out [][]netpol.Decision
	for i := range c.Pods {
		pod := &c.Pods[i]
		target, ok := probes.TargetOf(pod)
		if !ok || pod.Namespace != dest.Namespace || !hasLabels(pod.Labels, dest.PodLabels) {
			continue
		}
		port := dest.Port.IntVal
		if dest.Port.Type == intstr.String {
			port = target.Ports[dest.Port.StrVal]
		}
		out = append(out, []netpol.Decision{c.Evaluate(netpol.Connection{From: from, To: netpol.PodPeer(pod), Port: port, Protocol: protocol})})
	}
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// expectation is what each edge of a run must show on this profile, and why.
type expectation struct {
	wants map[string]outcome
	sites map[string]site
	// opened are the edges the open node lets through although the policies deny them.
	opened map[string]bool
	// problems are edges whose expectation cannot be computed.
	problems []string
}

// expect computes what each edge of a completed run must show. On enforcing and noop
// that is the phase's outcome. On partial, the phase's outcome (as on enforcing) moves
// where the open node changes how far the edge's traffic gets: a denial is lost only
// where every side that denies it sits on the open node (egress: the probe's node;
// ingress: the destination's), so such an edge connects; and an edge whose name
// look-up only the open node let through is judged on its connection.
func (s *scenario) expect(p phase, rt *v1alpha1.ReachabilityTest) expectation {
	s.t.Helper()
	ex := expectation{wants: map[string]outcome{}, sites: s.sites(rt, p.edges), opened: map[string]bool{}}
	probed := map[string]bool{}
	for _, r := range rt.Status.Results {
		probed[r.Edge] = r.Observed != v1alpha1.ObservedError
	}
	for _, e := range p.edges {
		want := p.want(e)
		ex.wants[e.Name] = want
		if cfg.profile != partial || !probed[e.Name] {
			continue
		}
		st := ex.sites[e.Name]
		if st.ends.Probe == "" {
			ex.problems = append(ex.problems, fmt.Sprintf("edge %s: no probe pod of it was seen scheduled, so which node it ran on is unknown", e.Name))
			continue
		}
		onPartial := st.path.Reach([]string{cfg.openNode})
		if onPartial == st.path.Reach(nil) {
			continue
		}
		switch onPartial {
		case placement.Unsettled:
			ex.problems = append(ex.problems, fmt.Sprintf("edge %s: its Service's or the cluster DNS's backends sit on open and enforcing nodes and disagree, so its result cannot be computed: give the fixture one backend", e.Name))
		case placement.Connects:
			ex.opened[e.Name] = true
			ex.wants[e.Name] = throughOutcome(e)
		case placement.Blocked:
			ex.wants[e.Name] = blockedOutcome(e)
		}
	}
	return ex
}

// throughOutcome is what an edge whose traffic gets through shows.
func throughOutcome(e v1alpha1.Edge) outcome {
	if e.Expect == v1alpha1.ExpectAllow {
		return connects
	}
	return unexpectedAllow
}

// blockedOutcome is what an edge whose connection is denied shows.
func blockedOutcome(e v1alpha1.Edge) outcome {
	if e.Expect == v1alpha1.ExpectAllow {
		return unexpectedDeny
	}
	return denied
}

// wantVerdicts are the verdicts the expectation wants.
func (ex expectation) wantVerdicts() map[string]v1alpha1.Verdict {
	out := make(map[string]v1alpha1.Verdict, len(ex.wants))
	for name, want := range ex.wants {
		out[name] = want.verdict
	}
	return out
}

// count adds the run's cross-node edges and, on partial, the Deny edges caught: reported
// as let through although the NetworkPolicies deny them (a Deny edge the policies allow
// is the policies' failure, on any profile), and those of them with an end on the open
// node, which must be all of them.
func (ex expectation) count(edges []v1alpha1.Edge, rt *v1alpha1.ReachabilityTest, c *runCounts) {
	results := map[string]v1alpha1.EdgeResult{}
	for _, r := range rt.Status.Results {
		results[r.Edge] = r
	}
	for _, e := range edges {
		st := ex.sites[e.Name]
		if st.ends.CrossNode() {
			c.crossNode++
		}
		r, ok := results[e.Name]
		if cfg.profile != partial || !ok || e.Expect != v1alpha1.ExpectDeny || !unexpectedAllow.matches(r) || st.path.Reach(nil) == placement.Connects {
			continue
		}
		c.caught++
		if st.ends.Involves([]string{cfg.openNode}) {
			c.caughtOnOpen++
		}
	}
}
