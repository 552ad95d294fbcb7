package netpol

import (
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// verdicts is the set of verdicts a direction or a connection may get: one when the
// model can decide, both when it cannot.
type verdicts struct{ allow, deny bool }

func (v *verdicts) add(allowed bool) {
	if allowed {
		v.allow = true
	} else {
		v.deny = true
	}
}

func (v verdicts) decided() bool { return v.allow != v.deny }

// both combines the two directions: a connection needs both.
func both(egress, ingress verdicts) verdicts {
	return verdicts{allow: egress.allow && ingress.allow, deny: egress.deny || ingress.deny}
}

// judgeTiers decides one direction through the tiers: Admin, then NetworkPolicy (which
// decides for every pod it isolates), then Baseline, then the default, which allows. It
// returns the decision on the model's reading, its sentences, every verdict some reading
// gives, and why the readings differ.
func (c *Cluster) judgeTiers(policies []*networkingv1.NetworkPolicy, dir networkingv1.PolicyType, conn Connection) (DirectionDecision, []string, verdicts, []string) {
	if node, ok := c.ownNode(conn); ok && dir == networkingv1.PolicyTypeIngress {
		d, why := fromOwnNode(conn, node)
		return d, why, verdicts{allow: true}, nil
	}
	d, npWhy := c.judge(policies, dir, conn)
	if d.Pod == "" {
		return d, npWhy, verdicts{allow: true}, nil
	}
	admin := c.walkTier(TierAdmin, dir, conn)
	baseline := tierWalk{outcomes: []step{{}}}
	if !d.Isolated && slices.ContainsFunc(admin.outcomes, passesOn) {
		baseline = c.walkTier(TierBaseline, dir, conn)
	}
	why := c.readPath(&d, dir, admin.outcomes[0], baseline.outcomes[0], npWhy)
	var possible verdicts
	for _, a := range admin.outcomes {
		for _, b := range baseline.outcomes {
			for _, v := range outcomeOf(a, d.Isolated, d.NetworkPolicyAllowed, b) {
				possible.add(v)
			}
		}
	}
	unsure := slices.Concat(admin.unsure, baseline.unsure)
	if unknown := c.unknownTiers(dir, conn); len(unknown) > 0 {
		possible = verdicts{allow: true, deny: true}
		unsure = append(unsure, unknown...)
	}
	d.Undecided = !possible.decided()
	return d, why, possible, unsure
}

// passesOn: the Admin tier leaves the connection to the next tiers.
func passesOn(s step) bool {
	a := s.action()
	return a == "" || a == v1beta1.ClusterNetworkPolicyRuleActionPass || !knownAction(a)
}

// outcomeOf is the verdict of one reading: an Admin outcome, the NetworkPolicy tier, a
// Baseline outcome. An action the model does not know could be either.
func outcomeOf(admin step, isolated, npAllowed bool, baseline step) []bool {
	switch admin.action() {
	case v1beta1.ClusterNetworkPolicyRuleActionAccept:
		return []bool{true}
	case v1beta1.ClusterNetworkPolicyRuleActionDeny:
		return []bool{false}
	case "", v1beta1.ClusterNetworkPolicyRuleActionPass:
	default:
		return []bool{true, false}
	}
	if isolated {
		return []bool{npAllowed}
	}
	switch baseline.action() {
	case v1beta1.ClusterNetworkPolicyRuleActionDeny:
		return []bool{false}
	case "", v1beta1.ClusterNetworkPolicyRuleActionAccept, v1beta1.ClusterNetworkPolicyRuleActionPass:
		return []bool{true}
	}
	return []bool{true, false}
}

// readPath fills the decision along the model's reading and says how it went.
func (c *Cluster) readPath(d *DirectionDecision, dir networkingv1.PolicyType, admin, baseline step, npWhy []string) []string {
	d.NetworkPolicyAllowed = d.Allowed
	switch admin.action() {
	case v1beta1.ClusterNetworkPolicyRuleActionAccept, v1beta1.ClusterNetworkPolicyRuleActionDeny:
		d.Tier, d.ClusterRule = TierAdmin, admin.rule
		d.Allowed = admin.action() == v1beta1.ClusterNetworkPolicyRuleActionAccept
		return []string{decidedBy(dir, d.Pod, admin.rule)}
	case v1beta1.ClusterNetworkPolicyRuleActionPass:
		d.Passed = append(d.Passed, *admin.rule)
	}
	var why []string
	if admin.rule != nil {
		why = append(why, passedBy(dir, d.Pod, admin.rule))
	}
	why = append(why, npWhy...)
	if d.Isolated {
		d.Tier = TierNetworkPolicy
		return why
	}
	switch baseline.action() {
	case v1beta1.ClusterNetworkPolicyRuleActionAccept, v1beta1.ClusterNetworkPolicyRuleActionDeny:
		d.Tier, d.ClusterRule = TierBaseline, baseline.rule
		d.Allowed = baseline.action() == v1beta1.ClusterNetworkPolicyRuleActionAccept
		return append(why, decidedBy(dir, d.Pod, baseline.rule))
	case v1beta1.ClusterNetworkPolicyRuleActionPass:
		d.Passed = append(d.Passed, *baseline.rule)
		return append(why, passedBy(dir, d.Pod, baseline.rule))
	}
	return why
}
