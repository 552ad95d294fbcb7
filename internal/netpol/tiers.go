package netpol

import (
	"cmp"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// The tiers, in the order they are evaluated (v1beta1 ClusterNetworkPolicySpec.Tier).
const (
	TierAdmin         = "Admin"
	TierNetworkPolicy = "NetworkPolicy"
	TierBaseline      = "Baseline"
)

// ClusterRuleRef points at one rule of a ClusterNetworkPolicy (or of an older kind
// converted to one).
type ClusterRuleRef struct {
	// Kind is the kind the cluster holds, such as ClusterNetworkPolicy or
	// AdminNetworkPolicy.
	Kind string
	// Policy is the policy's name.
	Policy string
	// Tier is Admin or Baseline; Priority orders the policies within it.
	Tier     string
	Priority int32
	// Direction is Ingress or Egress; Index the rule's position from 0 (sentences count
	// from 1); Name the rule's name, if it has one.
	Direction networkingv1.PolicyType
	Index     int
	Name      string
	// Action is Accept, Deny or Pass.
	Action v1beta1.ClusterNetworkPolicyRuleAction
	// Rule is the rule's peers and ports in words.
	Rule string
}

// step is where one tier leaves a connection: a rule's action, or no rule at all.
type step struct {
	rule *ClusterRuleRef // nil: no rule of the tier matched
}

func (s step) action() v1beta1.ClusterNetworkPolicyRuleAction {
	if s.rule == nil {
		return ""
	}
	return s.rule.Action
}

// tierWalk is what a tier can do to a connection in one direction. outcomes[0] is the
// model's reading; any other outcome is possible because a rule it cannot decide may
// match, or because policies of equal priority disagree (the API lets an implementation
// apply any of them). unsure says why, for each other outcome.
type tierWalk struct {
	outcomes []step
	unsure   []string
}

// walkTier evaluates one tier for one direction: the policies by priority, lower first;
// within a policy its rules in order, the first that matches deciding.
func (c *Cluster) walkTier(tier string, dir networkingv1.PolicyType, conn Connection) tierWalk {
	subject, other := subjectAndOther(dir, conn)
	var w tierWalk
	for _, group := range c.tierGroups(tier) {
		var firsts []step
		for _, p := range group {
			first, maybes := c.firstMatch(p, dir, subject, other, conn)
			for _, m := range maybes {
				w.outcomes = append(w.outcomes, m)
				w.unsure = append(w.unsure, undecidableRule(m.rule))
			}
			if first.rule != nil {
				firsts = append(firsts, first)
			}
		}
		if len(firsts) == 0 {
			continue
		}
		for _, f := range firsts[1:] {
			if f.action() != firsts[0].action() {
				w.outcomes = append(w.outcomes, f)
				w.unsure = append(w.unsure, samePriority(firsts[0].rule, f.rule))
			}
		}
		w.outcomes = append([]step{firsts[0]}, w.outcomes...)
		return w
	}
	w.outcomes = append([]step{{}}, w.outcomes...)
	return w
}

// firstMatch is the policy's first rule that matches the connection, and the rules
// before it the model cannot decide.
func (c *Cluster) firstMatch(p *v1beta1.ClusterNetworkPolicy, dir networkingv1.PolicyType, subject, other Peer, conn Connection) (step, []step) {
	if subject.Pod == nil {
		return step{}, nil
	}
	applies := c.clusterSubject(p.Spec.Subject, subject.Pod)
	if applies == no {
		return step{}, nil
	}
	var maybes []step
	for i, r := range clusterRules(p, dir) {
		m := and(applies, and(r.peers(c, other), clusterPorts(r.protocols, conn.Port, conn.Protocol, conn.To.Pod)))
		if m != no && !knownAction(r.action) {
			m = maybe
		}
		switch m {
		case yes:
			return step{rule: c.clusterRuleRef(p, dir, i, r)}, maybes
		case maybe:
			maybes = append(maybes, step{rule: c.clusterRuleRef(p, dir, i, r)})
		}
	}
	return step{}, maybes
}

func knownAction(a v1beta1.ClusterNetworkPolicyRuleAction) bool {
	switch a {
	case v1beta1.ClusterNetworkPolicyRuleActionAccept, v1beta1.ClusterNetworkPolicyRuleActionDeny, v1beta1.ClusterNetworkPolicyRuleActionPass:
		return true
	}
	return false
}

// tierGroups are the tier's policies grouped by priority, lower first, each group
// sorted by name so that sentences do not depend on the snapshot's order.
func (c *Cluster) tierGroups(tier string) [][]*v1beta1.ClusterNetworkPolicy {
	var ps []*v1beta1.ClusterNetworkPolicy
	for i := range c.ClusterNetworkPolicies {
		if p := &c.ClusterNetworkPolicies[i]; string(p.Spec.Tier) == tier {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *v1beta1.ClusterNetworkPolicy) int {
		return cmp.Or(cmp.Compare(a.Spec.Priority, b.Spec.Priority), cmp.Compare(a.Name, b.Name))
	})
	var groups [][]*v1beta1.ClusterNetworkPolicy
	for i, p := range ps {
		if i == 0 || p.Spec.Priority != ps[i-1].Spec.Priority {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], p)
	}
	return groups
}

// clusterRule is an ingress or an egress rule of a ClusterNetworkPolicy.
type clusterRule struct {
	name      string
	action    v1beta1.ClusterNetworkPolicyRuleAction
	peers     func(c *Cluster, other Peer) match
	protocols []v1beta1.ClusterNetworkPolicyProtocol
	describe  func() string
}

func clusterRules(p *v1beta1.ClusterNetworkPolicy, dir networkingv1.PolicyType) []clusterRule {
	var out []clusterRule
	if dir == networkingv1.PolicyTypeIngress {
		for _, r := range p.Spec.Ingress {
			peers := func(c *Cluster, other Peer) match {
				ms := make([]match, len(r.From))
				for i, peer := range r.From {
					ms[i] = c.ingressPeer(peer, other)
				}
				return anyOf(ms...)
			}
			out = append(out, clusterRule{r.Name, r.Action, peers, r.Protocols, func() string { return describeIngress(r) }})
		}
		return out
	}
	for _, r := range p.Spec.Egress {
		peers := func(c *Cluster, other Peer) match {
			ms := make([]match, len(r.To))
			for i, peer := range r.To {
				ms[i] = c.egressPeer(peer, other)
			}
			return anyOf(ms...)
		}
		out = append(out, clusterRule{r.Name, r.Action, peers, r.Protocols, func() string { return describeEgress(r) }})
	}
	return out
}

func (c *Cluster) clusterRuleRef(p *v1beta1.ClusterNetworkPolicy, dir networkingv1.PolicyType, i int, r clusterRule) *ClusterRuleRef {
	return &ClusterRuleRef{
		Kind: cmp.Or(p.Kind, "ClusterNetworkPolicy"), Policy: p.Name, Tier: string(p.Spec.Tier), Priority: p.Spec.Priority,
		Direction: dir, Index: i, Name: r.name, Action: r.action, Rule: r.describe(),
	}
}

func subjectAndOther(dir networkingv1.PolicyType, conn Connection) (subject, other Peer) {
	if dir == networkingv1.PolicyTypeEgress {
		return conn.From, conn.To
	}
	return conn.To, conn.From
}

// unknownTiers are the policies of a tier the model does not know that apply to the
// subject in that direction.
func (c *Cluster) unknownTiers(dir networkingv1.PolicyType, conn Connection) []string {
	subject, _ := subjectAndOther(dir, conn)
	if subject.Pod == nil {
		return nil
	}
	var out []string
	for i := range c.ClusterNetworkPolicies {
		p := &c.ClusterNetworkPolicies[i]
		if p.Spec.Tier == v1beta1.AdminTier || p.Spec.Tier == v1beta1.BaselineTier || len(clusterRules(p, dir)) == 0 {
			continue
		}
		if c.clusterSubject(p.Spec.Subject, subject.Pod) != no {
			out = append(out, unknownTier(p))
		}
	}
	return out
}
