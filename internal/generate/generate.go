// Package generate writes a ReachabilityTest from a namespace's NetworkPolicies: every
// source identity of the namespace against every destination of the namespace, each edge
// expecting what the policies say (netpol's verdict), denied edges included. It is a
// starting point for users who have policies and no tests: the expectations restate the
// policies, so a person must review them against the intent before committing.
package generate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
)

// MaxEdges is the most edges a ReachabilityTest holds (the CRD's spec.edges maxItems);
// Tests stops there.
const MaxEdges = 2000

// maxLabels is the most podLabels an edge's source or pods destination may carry.
const maxLabels = 32

// intruder names the unlabelled source every test gets: a pod no policy means to admit.
const intruder = "intruder"

// dropped are labels controllers add per pod or per revision: they tell replicas apart,
// not workloads, and would make each replica a source identity of its own.
var dropped = map[string]bool{
	"pod-template-hash":                  true,
	"controller-revision-hash":           true,
	"pod-template-generation":            true,
	"statefulset.kubernetes.io/pod-name": true,
	"apps.kubernetes.io/pod-index":       true,
	"batch.kubernetes.io/controller-uid": true,
	"controller-uid":                     true,
	"batch.kubernetes.io/job-name":       true,
	"job-name":                           true,
}

// Tests returns the ReachabilityTest "generated-<namespace>": one edge from every source
// identity to every destination of the namespace, expecting the model's verdict on c.
//
// Sources are the distinct label sets of the namespace's pods (without the labels
// controllers add per replica and netconform's own), plus an unlabelled intruder.
// Destinations are each port of each Service of the namespace; when it has none, each
// container port of its pods, as a pods destination with the pod's labels. An edge is
// left out when the model cannot settle it: a Service without ready backends or whose
// backends get different verdicts, pods that disagree, an SCTP port. Edges come sorted
// by source and destination, named "<source>-to-<destination>-<port>", at most MaxEdges.
// The result has no edges when the namespace has no destination.
func Tests(c *netpol.Cluster, namespace string) v1alpha1.ReachabilityTest {
	t, _ := TestsWithNotes(c, namespace)
	return t
}

// TestsWithNotes is Tests, with a note for each edge the Admin tier of
// ClusterNetworkPolicy decides: its expectation restates a cluster-wide policy, not the
// namespace's NetworkPolicies, and a NetworkPolicy rule that admits it is pointless
// while the Admin tier denies it.
func TestsWithNotes(c *netpol.Cluster, namespace string) (v1alpha1.ReachabilityTest, []string) {
	t := v1alpha1.ReachabilityTest{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ReachabilityTest"},
		ObjectMeta: metav1.ObjectMeta{Name: "generated-" + namespace},
	}
	if c == nil {
		return t, nil
	}
	var notes []string
	dests := destinations(c, namespace)
	names := map[string]bool{}
	for _, src := range sources(c, namespace) {
		// A name no real pod can have, so the source is never taken for its destination.
		pod := prediction.Source(v1alpha1.Source{Namespace: namespace, PodLabels: src.labels}, "["+selector(src.labels)+"]", "")
		for _, d := range dests {
			expect, admin, ok := d.verdict(c, pod)
			if !ok {
				continue
			}
			if len(t.Spec.Edges) == MaxEdges {
				return t, notes
			}
			e := v1alpha1.Edge{
				Name:   unique(names, src.name+"-to-"+d.name),
				From:   v1alpha1.Source{Namespace: namespace, PodLabels: maps.Clone(src.labels)},
				To:     d.to,
				Expect: expect,
			}
			if d.protocol == corev1.ProtocolUDP {
				e.Protocol = v1alpha1.ProtocolUDP
			}
			t.Spec.Edges = append(t.Spec.Edges, e)
			if admin != "" {
				notes = append(notes, fmt.Sprintf("edge %s: %s", e.Name, admin))
			}
		}
	}
	return t, notes
}

// YAML is the test as a manifest to review and apply: a comment line saying where it
// came from, then the object (apiVersion, kind, metadata.name and spec; no status).
func YAML(t v1alpha1.ReachabilityTest, namespace string) ([]byte, error) {
	doc := struct {
		APIVersion string                        `json:"apiVersion"`
		Kind       string                        `json:"kind"`
		Metadata   map[string]string             `json:"metadata"`
		Spec       v1alpha1.ReachabilityTestSpec `json:"spec"`
	}{t.APIVersion, t.Kind, map[string]string{"name": t.Name}, t.Spec}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("writing the test as YAML: %w", err)
	}
	header := fmt.Sprintf("# Generated by netconform generate from the NetworkPolicies of namespace %s: every expect restates what the policies allow today; review each against the intended behaviour before committing.\n", namespace)
	return append([]byte(header), out...), nil
}

// identity is a source: the labels a probe pod takes on, and a name for edge names.
type identity struct {
	name   string
	labels map[string]string
}

func sources(c *netpol.Cluster, namespace string) []identity {
	seen := map[string]bool{}
	var out []identity
	for i := range c.Pods {
		pod := &c.Pods[i]
		if pod.Namespace != namespace || pod.Spec.HostNetwork {
			continue
		}
		labels := workloadLabels(pod.Labels)
		key := selector(labels)
		if len(labels) == 0 || len(labels) > maxLabels || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, identity{name: valuesName(labels), labels: labels})
	}
	slices.SortFunc(out, func(a, b identity) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(selector(a.labels), selector(b.labels)))
	})
	return append(out, identity{name: intruder})
}

// workloadLabels drops the labels that tell replicas apart and netconform's reserved
// ones (a source may not carry them).
func workloadLabels(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if !dropped[k] && !strings.HasPrefix(k, "netconform.io/") {
			out[k] = v
		}
	}
	return out
}

// destination is one target of the namespace with the connections that judge it.
type destination struct {
	name     string // "<destination>-<port>", for edge names
	sortKey  string
	to       v1alpha1.Destination
	protocol corev1.Protocol
	// service is set for a Service port; pods and ports otherwise.
	service *corev1.Service
	port    int32
	pods    []*corev1.Pod
	ports   []int32
}

func destinations(c *netpol.Cluster, namespace string) []destination {
	var out []destination
	for i := range c.Services {
		svc := &c.Services[i]
		if svc.Namespace != namespace {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			protocol := protocolOrTCP(sp.Protocol)
			if !supported(protocol) {
				continue
			}
			out = append(out, destination{
				name:     svc.Name + "-" + strconv.Itoa(int(sp.Port)) + suffix(protocol),
				sortKey:  svc.Name + "\x00" + pad(sp.Port) + string(protocol),
				to:       v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: namespace, Name: svc.Name, Port: intstr.FromInt32(sp.Port)}},
				protocol: protocol,
				service:  svc,
				port:     sp.Port,
			})
		}
	}
	if len(out) == 0 {
		out = podDestinations(c, namespace)
	}
	slices.SortFunc(out, func(a, b destination) int { return cmp.Compare(a.sortKey, b.sortKey) })
	return out
}

// podDestinations is every distinct (labels, container port, protocol) of the
// namespace's ready pods; the port by name when every pod the labels select names it so.
func podDestinations(c *netpol.Cluster, namespace string) []destination {
	seen := map[string]bool{}
	var out []destination
	for i := range c.Pods {
		pod := &c.Pods[i]
		labels := workloadLabels(pod.Labels)
		if pod.Namespace != namespace || !ready(pod) || len(labels) == 0 || len(labels) > maxLabels {
			continue
		}
		targets := matching(c, namespace, labels)
		for _, ctr := range pod.Spec.Containers {
			for _, cp := range ctr.Ports {
				protocol := protocolOrTCP(cp.Protocol)
				if !supported(protocol) {
					continue
				}
				port := intstr.FromInt32(cp.ContainerPort)
				if cp.Name != "" && everyNames(targets, cp.Name, protocol) {
					port = intstr.FromString(cp.Name)
				}
				key := selector(labels) + "\x00" + port.String() + "\x00" + string(protocol)
				if seen[key] {
					continue
				}
				seen[key] = true
				d := destination{
					name:     valuesName(labels) + "-" + port.String() + suffix(protocol),
					sortKey:  valuesName(labels) + "\x00" + selector(labels) + "\x00" + pad(cp.ContainerPort) + port.String() + string(protocol),
					to:       v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: namespace, PodLabels: labels, Port: port}},
					protocol: protocol,
				}
				for _, t := range targets {
					if n, ok := resolve(t, port, protocol); ok {
						d.pods, d.ports = append(d.pods, t), append(d.ports, n)
					}
				}
				out = append(out, d)
			}
		}
	}
	return out
}

// verdict is what the policies say about a connection from src to d, and false when the
// model cannot settle it; admin says how the Admin tier decided it, if it did.
func (d destination) verdict(c *netpol.Cluster, src *corev1.Pod) (expect v1alpha1.Expectation, admin string, ok bool) {
	from := netpol.PodPeer(src)
	var decisions []netpol.Decision
	if d.service != nil {
		ds, err := c.EvaluateService(from, d.service.Namespace, d.service.Name, d.port, d.protocol)
		if err != nil {
			return "", "", false
		}
		decisions = ds
	} else {
		for i, pod := range d.pods {
			decisions = append(decisions, c.Evaluate(netpol.Connection{From: from, To: netpol.PodPeer(pod), Port: d.ports[i], Protocol: d.protocol}))
		}
	}
	if len(decisions) == 0 {
		return "", "", false
	}
	for _, x := range decisions {
		if x.Allowed != decisions[0].Allowed || len(x.Caveats) > 0 || x.Undecided {
			// Backends that disagree, a verdict a dataplane may not follow (a host-
			// network pod) or one the model cannot decide: no expectation a run could
			// hold to.
			return "", "", false
		}
	}
	admin = adminNote(decisions[0])
	if !decisions[0].Allowed {
		return v1alpha1.ExpectDeny, admin, true
	}
	if d.service != nil {
		// The probe looks the Service's name up first: denied DNS is a denied edge.
		dns, err := prediction.DNSLookup(c, from)
		if slices.ContainsFunc(dns, func(x netpol.Decision) bool { return x.Undecided }) {
			return "", "", false
		}
		if err == nil && slices.ContainsFunc(dns, func(x netpol.Decision) bool { return !x.Allowed }) {
			return v1alpha1.ExpectDeny, admin, true
		}
	}
	return v1alpha1.ExpectAllow, admin, true
}

// adminNote says how the Admin tier decided a connection, and which NetworkPolicy rules
// its Deny makes pointless; empty when the Admin tier did not decide.
func adminNote(d netpol.Decision) string {
	for i, side := range []netpol.DirectionDecision{d.Egress, d.Ingress} {
		if side.Tier != netpol.TierAdmin {
			continue
		}
		where := [2]string{"egress from ", "ingress to "}[i] + side.Pod
		s := fmt.Sprintf("%s decides %s whatever the NetworkPolicies say", side.ClusterRule, where)
		if !side.Allowed && side.Isolated && side.NetworkPolicyAllowed {
			refs := make([]string, len(side.AllowedBy))
			for i, r := range side.AllowedBy {
				refs[i] = r.String()
			}
			s += fmt.Sprintf("; it denies what %s allows, so that rule has no effect here", strings.Join(refs, ", "))
		}
		return s
	}
	return ""
}

// matching lists the ready pods of the namespace a pods destination with labels probes.
func matching(c *netpol.Cluster, namespace string, labels map[string]string) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range c.Pods {
		pod := &c.Pods[i]
		if pod.Namespace == namespace && ready(pod) && hasLabels(pod.Labels, labels) {
			out = append(out, pod)
		}
	}
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ready is what the probes' planner requires of a pods destination's target.
func ready(pod *corev1.Pod) bool {
	if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// everyNames: each pod has a container port of that name and protocol, so a probe can
// resolve the name on every target.
func everyNames(pods []*corev1.Pod, name string, protocol corev1.Protocol) bool {
	for _, pod := range pods {
		if _, ok := resolve(pod, intstr.FromString(name), protocol); !ok {
			return false
		}
	}
	return true
}

// resolve is the number a port stands for on a pod: a number as is, a name through the
// pod's container ports.
func resolve(pod *corev1.Pod, port intstr.IntOrString, protocol corev1.Protocol) (int32, bool) {
	if port.Type == intstr.Int {
		return port.IntVal, true
	}
	for _, ctr := range pod.Spec.Containers {
		for _, cp := range ctr.Ports {
			if cp.Name == port.StrVal && protocolOrTCP(cp.Protocol) == protocol {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// supported: the protocols an edge can declare.
func supported(p corev1.Protocol) bool { return p == corev1.ProtocolTCP || p == corev1.ProtocolUDP }

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func suffix(p corev1.Protocol) string {
	if p == corev1.ProtocolUDP {
		return "-udp"
	}
	return ""
}

func pad(port int32) string {
	return strings.Repeat("0", 5-len(strconv.Itoa(int(port)))) + strconv.Itoa(int(port))
}

// selector is labels as "k=v,k=v", sorted by key: a canonical key for a label set.
func selector(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// valuesName names a label set by its values in key order, such as "web-frontend".
func valuesName(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if labels[k] != "" {
			parts = append(parts, labels[k])
		}
	}
	if len(parts) == 0 {
		return "pods"
	}
	return strings.Join(parts, "-")
}

// unique makes name a valid edge name (lowercase letters, digits, '-' and '.', starting
// and ending alphanumeric, at most 63 characters) not in used, and records it.
func unique(used map[string]bool, name string) string {
	base := sanitize(name, validation.DNS1123LabelMaxLength)
	out := base
	for n := 2; used[out]; n++ {
		s := "-" + strconv.Itoa(n)
		out = sanitize(base, validation.DNS1123LabelMaxLength-len(s)) + s
	}
	used[out] = true
	return out
}

// sanitize lowercases name, turns every other character into '-', collapses runs of
// '-', trims to max and to an alphanumeric first and last character.
func sanitize(name string, limit int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		case !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > limit {
		s = s[:limit]
	}
	s = strings.Trim(s, "-.")
	if s == "" {
		return "edge"
	}
	return s
}
