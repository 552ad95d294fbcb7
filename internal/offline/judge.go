package offline

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
	"github.com/netconform/netconform/probes"
)

// ClusterDomain completes Service names, as on most clusters.
const ClusterDomain = "cluster.local"

// ProbeAddress is the address a probe takes offline: outside PodAddresses, so that a
// source is never taken for a pod of the manifests.
const ProbeAddress = "240.0.0.1"

// Run predicts every edge of the tests from the manifests and returns the tests with
// the status a completed run would have, for internal/report: an edge passes when the
// policies do what it expects, fails (PolicyMismatch, with the policies' explanation)
// when they do the opposite, and is Inconclusive, with the reason, when the manifests
// do not decide it. A test's canary needs a dataplane: it is dropped.
func Run(m *Manifests, tests []v1alpha1.ReachabilityTest) []v1alpha1.ReachabilityTest {
	j := newJudge(m)
	out := make([]v1alpha1.ReachabilityTest, len(tests))
	for i := range tests {
		t := *tests[i].DeepCopy()
		t.Spec.Canary = nil
		results := make([]v1alpha1.EdgeResult, 0, len(t.Spec.Edges))
		for _, e := range t.Spec.Edges {
			results = append(results, j.edge(e))
		}
		complete(&t, results)
		out[i] = t
	}
	return out
}

// complete records the results as a finished run: Completed, and Passed only when every
// edge passed.
func complete(t *v1alpha1.ReachabilityTest, results []v1alpha1.EdgeResult) {
	t.Status = v1alpha1.ReachabilityTestStatus{ObservedGeneration: t.Generation, Results: results}
	summary := probes.Summarize(results)
	s := &summary
	t.Status.Summary = s
	passed := metav1.Condition{Type: v1alpha1.ConditionPassed, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAllEdgesPassed}
	switch {
	case s.Failed > 0:
		passed.Status, passed.Reason = metav1.ConditionFalse, v1alpha1.ReasonEdgesFailed
	case s.Inconclusive > 0 || s.Edges == 0:
		passed.Status, passed.Reason = metav1.ConditionFalse, v1alpha1.ReasonEdgesInconclusive
	}
	for _, c := range []metav1.Condition{
		{Type: v1alpha1.ConditionCompleted, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonRunCompleted, Message: "Predicted offline from manifests"},
		passed,
	} {
		c.ObservedGeneration = t.Generation
		meta.SetStatusCondition(&t.Status.Conditions, c)
	}
}

// judge predicts edges against one set of manifests.
type judge struct {
	m *Manifests
	// never and always are the cluster with every ipBlock matching no address and every
	// address: a verdict that differs between them depends on addresses.
	never, always *netpol.Cluster
	hasIPBlocks   bool
}

func newJudge(m *Manifests) *judge {
	j := &judge{m: m}
	j.never, j.hasIPBlocks = withIPBlocks(m.Cluster, neverMatches)
	j.always, _ = withIPBlocks(m.Cluster, alwaysMatches)
	return j
}

// edge predicts one edge and compares the prediction with what it expects.
func (j *judge) edge(e v1alpha1.Edge) v1alpha1.EdgeResult {
	r := v1alpha1.EdgeResult{Edge: e.Name, Expected: e.Expect}
	checks, predicted, why := j.predict(e)
	r.Target = target(checks)
	switch predicted {
	case "":
		r.Verdict, r.Message = v1alpha1.VerdictInconclusive, "the manifests do not decide this edge: "+why
	case e.Expect:
		r.Verdict, r.Predicted, r.Explanation = v1alpha1.VerdictPass, predicted, why
		r.Message = "the policies " + verb(predicted) + " it, as expected"
	default:
		r.Verdict, r.Predicted, r.Explanation = v1alpha1.VerdictFail, predicted, why
		r.Diagnosis = v1alpha1.DiagnosisPolicyMismatch
		r.Message = "the policies " + verb(predicted) + " it"
	}
	return r
}

func verb(e v1alpha1.Expectation) string {
	if e == v1alpha1.ExpectAllow {
		return "allow"
	}
	return "deny"
}

// predict says what the manifests' policies do to an edge, or "" and why they do not
// decide it.
func (j *judge) predict(e v1alpha1.Edge) ([]probes.Check, v1alpha1.Expectation, string) {
	c := j.m.Cluster
	if !c.HasNamespace(e.From.Namespace) {
		return nil, "", fmt.Sprintf("the source's namespace %s is in none of the manifests: add its Namespace", e.From.Namespace)
	}
	checks, err := probes.ChecksFor(context.Background(), e, resolver{c}, ClusterDomain)
	if err != nil {
		return nil, "", err.Error()
	}
	if why := unreachable(c, e, checks); why != "" {
		return checks, "", why
	}
	predicted, why := j.predictIn(c, e, checks)
	hostIP := e.To.Host != nil // a name is unreachable: this is an address, a real one
	if predicted == "" || hostIP || !j.hasIPBlocks {
		return checks, predicted, why // ipBlocks judge a real address rightly
	}
	for _, variant := range []*netpol.Cluster{j.never, j.always} {
		if a, _ := j.predictIn(variant, e, checks); a != predicted {
			return checks, "", addressDependent
		}
	}
	return checks, predicted, why
}

// unreachable says why the manifests cannot tell where an edge leads: a Service without
// backends among them, or a host by name, which only a cluster's DNS resolves.
func unreachable(c *netpol.Cluster, e v1alpha1.Edge, checks []probes.Check) string {
	if svc := e.To.Service; svc != nil && len(checks) > 0 {
		probe := netpol.PodPeer(prediction.Source(e.From, "probe", ProbeAddress))
		if _, err := c.EvaluateService(probe, svc.Namespace, svc.Name, checks[0].Port, protocolOf(checks[0])); err != nil {
			return fmt.Sprintf("Service %v, in the manifests", err)
		}
	}
	if e.To.Host != nil && net.ParseIP(e.To.Host.Host) == nil {
		return fmt.Sprintf("host %s is a name, and only a cluster's DNS says which address it has", e.To.Host.Host)
	}
	return ""
}

const addressDependent = "the verdict depends on ipBlock rules and on the addresses pods get, which only a cluster assigns"

func (j *judge) predictIn(c *netpol.Cluster, e v1alpha1.Edge, checks []probes.Check) (v1alpha1.Expectation, string) {
	source := netpol.PodPeer(prediction.Source(e.From, "probe "+sourceName(e.From), ProbeAddress))
	predicted, why := prediction.Predict(c, e, source.Pod, checks, make([]probes.Result, len(checks)))
	if predicted == v1alpha1.ExpectAllow {
		why = cmp.Or(allowedBecause(c, e, source, checks), why)
	}
	return predicted, why
}

// allowedBecause explains an allowed edge by its connection rather than by the DNS
// look-up before it, which Predict puts first: the connection is what the edge is about.
func allowedBecause(c *netpol.Cluster, e v1alpha1.Edge, source netpol.Peer, checks []probes.Check) string {
	if len(checks) == 0 || checks[0].Kind == probes.KindDNS {
		return ""
	}
	protocol := protocolOf(checks[0])
	if e.To.Service != nil {
		ds, err := c.EvaluateService(source, e.To.Service.Namespace, e.To.Service.Name, checks[0].Port, protocol)
		if err != nil || len(ds) == 0 {
			return ""
		}
		return strings.Join(ds[0].Reasons, " ")
	}
	d := c.Evaluate(netpol.Connection{From: source, To: netpol.AddressPeer(checks[0].Host), Port: checks[0].Port, Protocol: protocol})
	return strings.Join(d.Reasons, " ")
}

// sourceName names the probe in explanations by the labels it carries.
func sourceName(s v1alpha1.Source) string {
	keys := make([]string, 0, len(s.PodLabels))
	for k, v := range s.PodLabels {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return "(no labels)"
	}
	return strings.Join(keys, ",")
}

// target is what a run would dial: the checks' addresses.
func target(checks []probes.Check) string {
	var out []string
	for _, c := range checks {
		if c.Kind == probes.KindDNS {
			out = append(out, "dns "+c.Host)
			continue
		}
		protocol := "TCP"
		if c.Kind == probes.KindUDP {
			protocol = "UDP"
		}
		out = append(out, fmt.Sprintf("%s/%s", net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), protocol))
	}
	return strings.Join(out, ", ")
}

func protocolOf(c probes.Check) corev1.Protocol {
	if c.Kind == probes.KindUDP {
		return corev1.ProtocolUDP
	}
	return corev1.ProtocolTCP
}
