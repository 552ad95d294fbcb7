package netpol

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
	"sigs.k8s.io/network-policy-api/conformance"
	"sigs.k8s.io/yaml"
)

// The network-policy-api conformance world (conformance/base/manifests.yaml in the
// module): namespaces network-policy-conformance-<house>, each with a StatefulSet of two
// pods labelled conformance-house=<house>. The policies are the module's own manifests,
// read from conformance.Manifests, so a case cannot drift from its source.

const housePrefix = "network-policy-conformance-"

// houses builds the pods the conformance StatefulSets create, with the labels the
// StatefulSet controller adds (statefulset.kubernetes.io/pod-name), and the policies of
// the manifest named. Host-network pods (forbidden-forrest/centaur-N) get a node's
// address.
func houses(t *testing.T, manifest string) *Cluster {
	t.Helper()
	c := &Cluster{}
	for _, doc := range documents(t, "base/manifests.yaml") {
		switch kindOf(t, doc) {
		case "Namespace":
			var ns corev1.Namespace
			unmarshal(t, doc, &ns)
			c.Namespaces = append(c.Namespaces, ns)
		case "StatefulSet":
			var sts appsv1.StatefulSet
			unmarshal(t, doc, &sts)
			for i := range *sts.Spec.Replicas {
				name := fmt.Sprintf("%s-%d", sts.Name, i)
				labels := map[string]string{"statefulset.kubernetes.io/pod-name": name}
				for k, v := range sts.Spec.Template.Labels {
					labels[k] = v
				}
				p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: sts.Namespace, Name: name, Labels: labels}, Spec: sts.Spec.Template.Spec}
				p.Status.Phase, p.Status.PodIP = corev1.PodRunning, fmt.Sprintf("10.250.%d.%d", len(c.Pods)/2, i+1)
				if p.Spec.HostNetwork {
					p.Status.PodIP = fmt.Sprintf("172.18.0.%d", i+2)
				}
				c.Pods = append(c.Pods, p)
			}
		}
	}
	for _, doc := range documents(t, manifest) {
		switch kindOf(t, doc) {
		case "ClusterNetworkPolicy":
			var p v1beta1.ClusterNetworkPolicy
			unmarshal(t, doc, &p)
			c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, p)
		case "NetworkPolicy":
			var p networkingv1.NetworkPolicy
			unmarshal(t, doc, &p)
			c.Policies = append(c.Policies, p)
		default:
			t.Fatalf("%s: unexpected kind %s", manifest, kindOf(t, doc))
		}
	}
	return c
}

func documents(t *testing.T, name string) [][]byte {
	t.Helper()
	raw, err := conformance.Manifests.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	raw = hostNetworkPort.ReplaceAll(raw, []byte("3000$1"))
	var out [][]byte
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) > 0 && kindOf(t, doc) != "" {
			out = append(out, doc)
		}
	}
	return out
}

// hostNetworkPort is how the suite templates the host-network ports it picks at run
// time; the cases use 3000N for port N.
var hostNetworkPort = regexp.MustCompile(`\{\{ index \.HostNetworkPorts (\d) \}\}`)

func kindOf(t *testing.T, doc []byte) string {
	var tm metav1.TypeMeta
	unmarshal(t, doc, &tm)
	return tm.Kind
}

func unmarshal(t *testing.T, doc []byte, into any) {
	t.Helper()
	if err := yaml.Unmarshal(doc, into); err != nil {
		t.Fatalf("%v in\n%s", err, doc)
	}
}

// poke is one kubernetes.PokeServer call of a conformance test: "house/pod" to
// "house/pod" on a port, and whether it connects.
type poke struct {
	from, to string
	proto    corev1.Protocol
	port     int32
	allowed  bool
}

func (p poke) connection(t *testing.T, c *Cluster) Connection {
	at := func(s string) Peer {
		house, name, _ := strings.Cut(s, "/")
		return PodPeer(c.mustPod(t, housePrefix+house+"/"+name))
	}
	return Connection{From: at(p.from), To: at(p.to), Port: p.port, Protocol: p.proto}
}

// TestClusterNetworkPolicyConformance replays subtests of the network-policy-api
// conformance suite (module v0.3.0, conformance/tests/<file>, test ShortName and t.Run
// name in each case) against the model, on the manifests those tests apply.
func TestClusterNetworkPolicyConformance(t *testing.T) {
	cases := []struct {
		source   string // conformance/tests file, ShortName, subtest
		manifest string
		mutate   func(c *Cluster)
		pokes    []poke
		// explained is a phrase every decision's reasons must hold: the tier and rule.
		explained string
		// undecided: the model declines to decide these pokes, whose verdict in the
		// suite depends on what the model cannot see (nodes).
		undecided bool
	}{{
		source:   "admin-network-policy-standard-priority.go CNPAdminTierPriorityField: Should Deny traffic from slytherin to gryffindor respecting admin CNP",
		manifest: "base/admin_tier/standard-priority-field.yaml",
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, false},
			{"slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", tcp, 8080, false},
		},
		explained: `ingress to network-policy-conformance-gryffindor/harry-potter-0 is decided in tier Admin: ClusterNetworkPolicy priority-50-example (tier Admin, priority 50) ingress rule 1 "deny-all-ingress-from-slytherin"`,
	}, {
		source:   "admin-network-policy-standard-priority.go CNPAdminTierPriorityField: Should Deny traffic to slytherin from gryffindor respecting admin CNP",
		manifest: "base/admin_tier/standard-priority-field.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 80, false},
			{"gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", tcp, 8080, false},
		},
		explained: `egress from network-policy-conformance-gryffindor/harry-potter-`,
	}, {
		source:   "admin-network-policy-standard-priority.go CNPAdminTierPriorityField: Should respect admin CNP priority field; thus passing both ingress and egress traffic over to baseline CNP",
		manifest: "base/admin_tier/standard-priority-field.yaml",
		mutate:   setPriority("old-priority-60-new-priority-40-example", 40),
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, true},
			{"slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", tcp, 8080, true},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 80, true},
			{"gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", tcp, 8080, true},
		},
		explained: "is decided in tier Baseline: ClusterNetworkPolicy default (tier Baseline, priority 10)",
	}, {
		source:   "admin-network-policy-standard-same-priority.go CNPAdminTierSamePriority: Should deny traffic in both directions for each same-priority policy",
		manifest: "base/admin_tier/standard-same-priority.yaml",
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, false},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 80, false},
			{"hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-0", tcp, 80, false},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-0", tcp, 80, false},
			{"slytherin/draco-malfoy-1", "hufflepuff/cedric-diggory-0", tcp, 8080, false},
			{"hufflepuff/cedric-diggory-1", "slytherin/draco-malfoy-0", tcp, 8080, false},
		},
		explained: "(tier Admin, priority 15)",
	}, {
		source:   "admin-network-policy-standard-same-priority.go CNPAdminTierSamePriority: Should not apply one same-priority policy's rules to another policy's subject",
		manifest: "base/admin_tier/standard-same-priority.yaml",
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 8080, true},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 8080, true},
			{"slytherin/draco-malfoy-1", "hufflepuff/cedric-diggory-0", tcp, 80, true},
		},
	}, {
		source:   "admin-network-policy-standard-gress-rules.go CNPAdminTierGress: Should support an 'allow-gress' policy across different protocols",
		manifest: "base/admin_tier/standard-gress-rules-combined.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 80, true},
			{"gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", udp, 53, true},
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", sctp, 9003, true},
			{"ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", tcp, 80, true},
		},
		explained: `(tier Admin, priority 15)`,
	}, {
		source:   "admin-network-policy-standard-gress-rules.go CNPAdminTierGress: Should support an 'allow-gress' policy across different protocols at the specified ports",
		manifest: "base/admin_tier/standard-gress-rules-combined.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", tcp, 8080, true},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", tcp, 80, false},
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", udp, 5353, true},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", udp, 53, false},
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", sctp, 9003, true},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", sctp, 9005, false},
		},
	}, {
		source:   "admin-network-policy-standard-gress-rules.go CNPAdminTierGress: Should support an 'deny-gress' policy across different protocols (rules 0 and 1 swapped)",
		manifest: "base/admin_tier/standard-gress-rules-combined.yaml",
		mutate:   swapRules("gress-rules", 0, 1),
		pokes: []poke{
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 80, false},
			{"gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", udp, 53, false},
			{"ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", sctp, 9003, false},
		},
		explained: `rule 1 "deny-`,
	}, {
		source:   "admin-network-policy-standard-gress-rules.go CNPAdminTierGress: Should support an 'pass-gress' policy across different protocols (rules 0 and 2 swapped; no NetworkPolicy, no Baseline)",
		manifest: "base/admin_tier/standard-gress-rules-combined.yaml",
		mutate:   swapRules("gress-rules", 0, 2),
		pokes: []poke{
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 80, true},
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", udp, 5353, true},
			{"ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", sctp, 9003, true},
		},
		explained: `rule 1 "pass-`,
	}, {
		source:   "admin-network-policy-standard-port-range-rules.go CNPAdminTierPortRange: Should support egress port range rules across different protocols",
		manifest: "base/admin_tier/standard-port-range-rules-combined.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 80, true},
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 8080, true},
			{"gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", udp, 53, false},
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-0", udp, 53, true},
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-0", udp, 5353, true},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-0", tcp, 80, false},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", sctp, 9003, true},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", sctp, 9005, true},
			{"gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", tcp, 80, false},
		},
	}, {
		source:   "admin-network-policy-standard-port-range-rules.go CNPAdminTierPortRange: Should support ingress port range rules across different protocols",
		manifest: "base/admin_tier/standard-port-range-rules-combined.yaml",
		pokes: []poke{
			{"ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", tcp, 80, true},
			{"ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", tcp, 8080, true},
			{"ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-0", udp, 53, false},
			{"hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-0", udp, 53, true},
			{"hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-0", udp, 5353, true},
			{"hufflepuff/cedric-diggory-1", "gryffindor/harry-potter-0", tcp, 80, false},
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", sctp, 9003, true},
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", sctp, 9005, true},
			{"slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", tcp, 80, false},
		},
	}, {
		source:   "admin-network-policy-standard-pod-selector-rules.go: Should support pod selectors in egress peers",
		manifest: "base/admin_tier/standard-pod-selector-rules.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 8080, false},
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 80, true},
			{"gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-1", tcp, 80, false},
		},
	}, {
		source:   "admin-network-policy-standard-pod-selector-rules.go: Should support pod selectors in ingress peers (before the test relabels pods)",
		manifest: "base/admin_tier/standard-pod-selector-rules.yaml",
		pokes: []poke{
			{"slytherin/draco-malfoy-1", "gryffindor/harry-potter-1", tcp, 80, false},
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, true},
		},
	}, {
		source:   "admin-network-policy-standard-integration.go CNPAdminTierIntegration: Should Deny traffic from slytherin to gryffindor / to slytherin from gryffindor respecting admin CNP",
		manifest: "base/api_integration/standard-anp-np-banp.yaml",
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, false},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 80, false},
		},
		explained: "NetworkPolicies and the Baseline tier are not consulted",
	}, {
		source:   "admin-network-policy-standard-integration.go CNPAdminTierIntegration: Should support a 'pass-ingress'/'pass-egress' policy for admin CNP and respect the match for network policy",
		manifest: "base/api_integration/standard-anp-np-banp.yaml",
		mutate:   passBoth("pass-example"),
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, true},
			{"slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", tcp, 8080, true},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 80, true},
		},
		explained: "passes it to the NetworkPolicy tier",
	}, {
		source:   "admin-network-policy-standard-integration.go CNPAdminTierIntegration: Should support a 'pass-ingress'/'pass-egress' policy for admin CNP and respect the match for baseline cluster network policy (NetworkPolicy deleted)",
		manifest: "base/api_integration/standard-anp-np-banp.yaml",
		mutate:   func(c *Cluster) { passBoth("pass-example")(c); c.Policies = nil },
		pokes: []poke{
			{"slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", tcp, 80, false},
			{"gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", tcp, 8080, false},
		},
		explained: `ClusterNetworkPolicy default (tier Baseline, priority 10)`,
	}, {
		source:   "admin-network-policy-standard-egress-inline-cidr-rules.go CNPAdminTierEgressInlineCIDRPeers: Should support a 'deny-egress' rule policy for egress-cidr-peer (networks match pod addresses)",
		manifest: "base/admin_tier/standard-egress-inline-cidr-rules.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", tcp, 80, false},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-0", udp, 53, false},
			{"gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", sctp, 9003, true},
		},
	}, {
		source:   "baseline-admin-network-policy-standard-gress-rules.go: Should support an 'allow-gress' policy across different protocols",
		manifest: "base/baseline_tier/standard-gress-rules-combined.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", tcp, 80, true},
			{"gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", udp, 53, true},
			{"ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-0", sctp, 9003, true},
		},
	}, {
		source:   "baseline-admin-network-policy-standard-gress-rules.go: Should support an 'allow-gress' policy across different protocols at the specified ports",
		manifest: "base/baseline_tier/standard-gress-rules-combined.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", tcp, 8080, true},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", tcp, 80, false},
			{"gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", udp, 5353, true},
			{"gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", udp, 53, false},
		},
		explained: "(tier Baseline, priority 10)",
	}, {
		source:   "admin-network-policy-experimental-egress-rules.go CNPAdminTierEgressNodePeers: Should support an 'allow-egress' rule policy for egress-node-peer (a nodes Accept before a Deny of everything: the model declines)",
		manifest: "base/admin_tier/experimental-egress-selector-rules.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-1", "forbidden-forrest/centaur-1", tcp, 30000, true},
		},
		undecided: true,
	}, {
		source:   "admin-network-policy-experimental-egress-rules.go CNPAdminTierEgressNodePeers: Should support a 'deny-egress' rule policy for egress-node-peer (no nodes rule names the port, and networks 0.0.0.0/0 holds the node's address: decided)",
		manifest: "base/admin_tier/experimental-egress-selector-rules.yaml",
		pokes: []poke{
			{"gryffindor/harry-potter-1", "forbidden-forrest/centaur-1", tcp, 30001, false},
			{"gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", tcp, 80, false},
		},
		explained: `rule 3 "deny-egress-to-slytherin-and-nodes-and-internet"`,
	}}
	for _, tc := range cases {
		t.Run(tc.source, func(t *testing.T) {
			c := houses(t, tc.manifest)
			if tc.mutate != nil {
				tc.mutate(c)
			}
			for _, p := range tc.pokes {
				d := c.Evaluate(p.connection(t, c))
				if d.Undecided != tc.undecided || (!tc.undecided && d.Allowed != p.allowed) {
					t.Errorf("%s: allowed %v undecided %v, want allowed %v\n%s\ncaveats: %s", d.Connection, d.Allowed, d.Undecided, p.allowed, strings.Join(d.Reasons, "\n"), strings.Join(d.Caveats, "\n"))
				}
				if tc.explained != "" && !strings.Contains(strings.Join(d.Reasons, "\n"), tc.explained) {
					t.Errorf("%s: reasons lack %q:\n%s", d.Connection, tc.explained, strings.Join(d.Reasons, "\n"))
				}
			}
		})
	}
}

func clusterPolicy(c *Cluster, name string) *v1beta1.ClusterNetworkPolicy {
	for i := range c.ClusterNetworkPolicies {
		if c.ClusterNetworkPolicies[i].Name == name {
			return &c.ClusterNetworkPolicies[i]
		}
	}
	panic("no ClusterNetworkPolicy " + name)
}

func setPriority(name string, priority int32) func(*Cluster) {
	return func(c *Cluster) { clusterPolicy(c, name).Spec.Priority = priority }
}

// swapRules swaps two rules in both directions, as the conformance tests do.
func swapRules(name string, i, j int) func(*Cluster) {
	return func(c *Cluster) {
		p := clusterPolicy(c, name)
		p.Spec.Egress[i], p.Spec.Egress[j] = p.Spec.Egress[j], p.Spec.Egress[i]
		p.Spec.Ingress[i], p.Spec.Ingress[j] = p.Spec.Ingress[j], p.Spec.Ingress[i]
	}
}

func passBoth(name string) func(*Cluster) {
	return func(c *Cluster) {
		p := clusterPolicy(c, name)
		p.Spec.Ingress[0].Action = v1beta1.ClusterNetworkPolicyRuleActionPass
		p.Spec.Egress[0].Action = v1beta1.ClusterNetworkPolicyRuleActionPass
	}
}
