package netpol

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// cnp is a policy of the tier and priority whose subject is the namespaces matching
// subject, with the rules given.
func cnp(name string, tier v1beta1.Tier, priority int32, subject map[string]string, opts ...func(*v1beta1.ClusterNetworkPolicy)) v1beta1.ClusterNetworkPolicy {
	p := v1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Spec.Tier, p.Spec.Priority = tier, priority
	p.Spec.Subject.Namespaces = &metav1.LabelSelector{MatchLabels: subject}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func cnpIngress(action v1beta1.ClusterNetworkPolicyRuleAction, from ...v1beta1.ClusterNetworkPolicyIngressPeer) func(*v1beta1.ClusterNetworkPolicy) {
	return func(p *v1beta1.ClusterNetworkPolicy) {
		p.Spec.Ingress = append(p.Spec.Ingress, v1beta1.ClusterNetworkPolicyIngressRule{Action: action, From: from})
	}
}

func cnpEgress(action v1beta1.ClusterNetworkPolicyRuleAction, to ...v1beta1.ClusterNetworkPolicyEgressPeer) func(*v1beta1.ClusterNetworkPolicy) {
	return func(p *v1beta1.ClusterNetworkPolicy) {
		p.Spec.Egress = append(p.Spec.Egress, v1beta1.ClusterNetworkPolicyEgressRule{Action: action, To: to})
	}
}

func inNamespaces(labels map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: labels}
}

const (
	actAccept = v1beta1.ClusterNetworkPolicyRuleActionAccept
	actDeny   = v1beta1.ClusterNetworkPolicyRuleActionDeny
	actPass   = v1beta1.ClusterNetworkPolicyRuleActionPass
)

var (
	nsX = map[string]string{"ns": "x"}
	nsY = map[string]string{"ns": "y"}
)

// TestUndecided: what the model cannot decide makes the decision undecided, with a
// caveat naming the policy and rule, unless every reading gives the same verdict.
// Sources: the v1beta1 type documentation (apis/v1beta1/clusternetworkpolicy_types.go:
// Priority on same-priority policies, the peers' "fail closed" note on unknown fields,
// Nodes and DomainNames marked experimental) and the netconform contract for unreadable
// policy kinds.
func TestUndecided(t *testing.T) {
	denyAllX := policy("x", "deny-all", nil, func(p *networkingv1.NetworkPolicy) {
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	})
	cases := []struct {
		name      string
		cnps      []v1beta1.ClusterNetworkPolicy
		nps       []networkingv1.NetworkPolicy
		unread    []UnreadableKind
		from, to  string
		undecided bool
		allowed   bool     // when decided
		words     []string // in the caveats when undecided, in the reasons otherwise
	}{{
		name: "a nodes peer that may match an Admin Deny, over an allowing default",
		cnps: []v1beta1.ClusterNetworkPolicy{cnp("no-nodes", v1beta1.AdminTier, 5, nsX,
			cnpEgress(actDeny, v1beta1.ClusterNetworkPolicyEgressPeer{Nodes: &metav1.LabelSelector{}}))},
		from: "x/a", to: "y/b", undecided: true,
		words: []string{`ClusterNetworkPolicy no-nodes (tier Admin, priority 5) egress rule 1 (to nodes (all), any port) may match`},
	}, {
		name: "domainNames Accept before a Deny of everything: the verdict depends on the name",
		cnps: []v1beta1.ClusterNetworkPolicy{cnp("allow-list", v1beta1.AdminTier, 5, nsX,
			cnpEgress(actAccept, v1beta1.ClusterNetworkPolicyEgressPeer{DomainNames: []v1beta1.DomainName{"*.example.com"}}),
			cnpEgress(actDeny, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: &metav1.LabelSelector{}}))},
		from: "x/a", to: "y/b", undecided: true,
		words: []string{"domain names *.example.com"},
	}, {
		name: "a nodes Deny where NetworkPolicy denies anyway: decided, and said so",
		cnps: []v1beta1.ClusterNetworkPolicy{cnp("no-nodes", v1beta1.AdminTier, 5, nsX,
			cnpEgress(actDeny, v1beta1.ClusterNetworkPolicyEgressPeer{Nodes: &metav1.LabelSelector{}}))},
		nps:  []networkingv1.NetworkPolicy{denyAllX},
		from: "x/a", to: "y/b", allowed: false,
		words: []string{"the verdict does not depend on what the model cannot decide"},
	}, {
		name: "a nodes peer behind a definite Deny of higher precedence never matters",
		cnps: []v1beta1.ClusterNetworkPolicy{
			cnp("deny-y", v1beta1.AdminTier, 1, nsX, cnpEgress(actDeny, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: inNamespaces(nsY)})),
			cnp("no-nodes", v1beta1.AdminTier, 5, nsX, cnpEgress(actAccept, v1beta1.ClusterNetworkPolicyEgressPeer{Nodes: &metav1.LabelSelector{}})),
		},
		from: "x/a", to: "y/b", allowed: false,
		words: []string{"ClusterNetworkPolicy deny-y (tier Admin, priority 1) egress rule 1"},
	}, {
		name: "same priority, different actions: the API lets an implementation apply either",
		cnps: []v1beta1.ClusterNetworkPolicy{
			cnp("a-accept", v1beta1.AdminTier, 7, nsY, cnpIngress(actAccept, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: inNamespaces(nsX)})),
			cnp("b-deny", v1beta1.AdminTier, 7, nsY, cnpIngress(actDeny, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: inNamespaces(nsX)})),
		},
		from: "x/a", to: "y/b", undecided: true,
		words: []string{"have the same priority and disagree"},
	}, {
		name: "same priority, same action: decided",
		cnps: []v1beta1.ClusterNetworkPolicy{
			cnp("a-deny", v1beta1.AdminTier, 7, nsY, cnpIngress(actDeny, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: inNamespaces(nsX)})),
			cnp("b-deny", v1beta1.AdminTier, 7, nsY, cnpIngress(actDeny, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: &metav1.LabelSelector{}})),
		},
		from: "x/a", to: "y/b", allowed: false,
		words: []string{"ClusterNetworkPolicy a-deny (tier Admin, priority 7) ingress rule 1"},
	}, {
		name: "a peer with no field set (a newer version's peer) in a Deny",
		cnps: []v1beta1.ClusterNetworkPolicy{cnp("newer", v1beta1.AdminTier, 3, nsY,
			cnpIngress(actDeny, v1beta1.ClusterNetworkPolicyIngressPeer{}))},
		from: "x/a", to: "y/b", undecided: true,
		words: []string{"(from a peer the model cannot read, any port) may match"},
	}, {
		name: "an action the model does not know",
		cnps: []v1beta1.ClusterNetworkPolicy{cnp("odd", v1beta1.AdminTier, 3, nsY,
			cnpIngress("Log", v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: inNamespaces(nsX)}))},
		from: "x/a", to: "y/b", undecided: true,
		words: []string{"ClusterNetworkPolicy odd (tier Admin, priority 3) ingress rule 1"},
	}, {
		name: "a tier the model does not know",
		cnps: []v1beta1.ClusterNetworkPolicy{cnp("future", "Developer", 3, nsY, cnpIngress(actDeny, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: inNamespaces(nsX)}))},
		from: "x/a", to: "y/b", undecided: true,
		words: []string{`ClusterNetworkPolicy future has tier "Developer"`},
	}, {
		name:   "an unreadable namespaced kind in the destination's namespace",
		unread: []UnreadableKind{{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies", Kind: "CiliumNetworkPolicy", Namespaced: true, Namespaces: []string{"y"}, Count: 2}},
		from:   "x/a", to: "y/b", undecided: true,
		words: []string{"the cluster holds 2 CiliumNetworkPolicy (cilium.io/v2) in y, a policy kind the model cannot read"},
	}, {
		name:   "an unreadable namespaced kind elsewhere does not matter",
		unread: []UnreadableKind{{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy", Namespaced: true, Namespaces: []string{"z"}, Count: 1}},
		from:   "x/a", to: "y/b", allowed: true,
	}, {
		name:   "an unreadable cluster-scoped kind affects every connection",
		unread: []UnreadableKind{{Group: "projectcalico.org", Version: "v3", Kind: "GlobalNetworkPolicy", Count: 1}},
		from:   "x/a", to: "y/b", undecided: true,
		words: []string{"1 GlobalNetworkPolicy (projectcalico.org/v3) cluster-wide"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := world(tc.nps...)
			c.ClusterNetworkPolicies, c.Unreadable = tc.cnps, tc.unread
			d := c.Evaluate(Connection{From: c.peer(t, tc.from), To: c.peer(t, tc.to), Port: 80, Protocol: tcp})
			if d.Undecided != tc.undecided || (!tc.undecided && d.Allowed != tc.allowed) {
				t.Fatalf("undecided %v allowed %v, want undecided %v allowed %v\n%s\ncaveats: %s", d.Undecided, d.Allowed, tc.undecided, tc.allowed, strings.Join(d.Reasons, "\n"), strings.Join(d.Caveats, "\n"))
			}
			text := strings.Join(d.Reasons, "\n")
			if tc.undecided {
				text = strings.Join(d.Caveats, "\n")
				if !strings.Contains(d.Reasons[0], "is undecided") {
					t.Errorf("first reason %q does not say undecided", d.Reasons[0])
				}
			}
			for _, w := range tc.words {
				if !strings.Contains(text, w) {
					t.Errorf("missing %q in:\n%s", w, text)
				}
			}
		})
	}
}

// TestTiersDecide: which tier decides, and the decision's fields that say so.
// Source: the v1beta1 Tier and Action documentation (apis/v1beta1/
// clusternetworkpolicy_types.go): Admin Accept skips NetworkPolicy; Accept on egress
// still leaves the destination's ingress to decide; Pass in Baseline falls to the
// default, which allows.
func TestTiersDecide(t *testing.T) {
	allowOnlyFromY := policy("y", "only-from-z", nil, ingress(from(peers(namespacesWhere(sel(map[string]string{"ns": "z"}))))))
	cases := []struct {
		name         string
		cnps         []v1beta1.ClusterNetworkPolicy
		nps          []networkingv1.NetworkPolicy
		allowed      bool
		egress       string
		ingress      string
		passedEgress int
	}{{
		name:    "Admin Accept on ingress overrides an isolating NetworkPolicy",
		cnps:    []v1beta1.ClusterNetworkPolicy{cnp("accept-x", v1beta1.AdminTier, 1, nsY, cnpIngress(actAccept, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: inNamespaces(nsX)}))},
		nps:     []networkingv1.NetworkPolicy{allowOnlyFromY},
		allowed: true, egress: "", ingress: TierAdmin,
	}, {
		name:    "Admin Accept on egress leaves the destination's ingress to its NetworkPolicy",
		cnps:    []v1beta1.ClusterNetworkPolicy{cnp("accept-y", v1beta1.AdminTier, 1, nsX, cnpEgress(actAccept, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: inNamespaces(nsY)}))},
		nps:     []networkingv1.NetworkPolicy{allowOnlyFromY},
		allowed: false, egress: TierAdmin, ingress: TierNetworkPolicy,
	}, {
		name: "Pass in Admin, then Baseline Pass: the default allows",
		cnps: []v1beta1.ClusterNetworkPolicy{
			cnp("pass-y", v1beta1.AdminTier, 1, nsX, cnpEgress(actPass, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: inNamespaces(nsY)})),
			cnp("base", v1beta1.BaselineTier, 1, nsX, cnpEgress(actPass, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: inNamespaces(nsY)}),
				cnpEgress(actDeny, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: &metav1.LabelSelector{}})),
		},
		allowed: true, egress: "", ingress: "", passedEgress: 2,
	}, {
		name: "a lower priority number is evaluated first",
		cnps: []v1beta1.ClusterNetworkPolicy{
			cnp("a-late-accept", v1beta1.AdminTier, 900, nsX, cnpEgress(actAccept, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: inNamespaces(nsY)})),
			cnp("z-early-deny", v1beta1.AdminTier, 2, nsX, cnpEgress(actDeny, v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: inNamespaces(nsY)})),
		},
		allowed: false, egress: TierAdmin, ingress: "",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := world(tc.nps...)
			c.ClusterNetworkPolicies = tc.cnps
			d := c.Evaluate(Connection{From: c.peer(t, "x/a"), To: c.peer(t, "y/b"), Port: 80, Protocol: tcp})
			if d.Undecided || d.Allowed != tc.allowed || d.Egress.Tier != tc.egress || d.Ingress.Tier != tc.ingress || len(d.Egress.Passed) != tc.passedEgress {
				t.Fatalf("allowed %v (undecided %v), tiers egress %q ingress %q, %d passes; want %v, %q, %q, %d\n%s",
					d.Allowed, d.Undecided, d.Egress.Tier, d.Ingress.Tier, len(d.Egress.Passed), tc.allowed, tc.egress, tc.ingress, tc.passedEgress, strings.Join(d.Reasons, "\n"))
			}
			for _, side := range []DirectionDecision{d.Egress, d.Ingress} {
				if (side.Tier == TierAdmin || side.Tier == TierBaseline) != (side.ClusterRule != nil) {
					t.Errorf("%s: tier %q with rule %v", side.Pod, side.Tier, side.ClusterRule)
				}
			}
		})
	}
}
