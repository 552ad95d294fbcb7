package netpol

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Evaluate judges one connection: egress on the source (when it is a pod) and ingress on
// the destination (when it is a pod). An address that is the IP of exactly one pod of the
// Cluster is judged as that pod.
func (c *Cluster) Evaluate(conn Connection) Decision {
	if c == nil {
		c = &Cluster{}
	}
	conn.Protocol = protocolOrTCP(conn.Protocol)
	var notes []string
	conn.From, notes = c.resolve(conn.From, notes)
	conn.To, notes = c.resolve(conn.To, notes)

	policies := c.sortedPolicies()
	egress, egressWhy, egressCan, egressUnsure := c.judgeTiers(policies, networkingv1.PolicyTypeEgress, conn)
	ingress, ingressWhy, ingressCan, ingressUnsure := c.judgeTiers(policies, networkingv1.PolicyTypeIngress, conn)
	d := Decision{
		Connection: conn,
		Allowed:    egress.Allowed && ingress.Allowed,
		Egress:     egress,
		Ingress:    ingress,
		Caveats:    c.caveats(conn),
	}
	unsure := slices.Concat(egressUnsure, ingressUnsure)
	unreadable := c.unreadableFor(conn)
	d.Undecided = !both(egressCan, ingressCan).decided() || len(unreadable) > 0
	if d.Undecided {
		d.Caveats = slices.Concat(d.Caveats, unreadable, unsure)
	} else if len(unsure) > 0 {
		notes = append(notes, doesNotDepend(unsure))
	}
	d.Reasons = append([]string{verdict(d)}, notes...)
	d.Reasons = append(d.Reasons, egressWhy...)
	d.Reasons = append(d.Reasons, ingressWhy...)
	return d
}

// unreadableFor names the policy kinds the model cannot read that could affect the
// connection: a cluster-scoped kind any connection, a namespaced one a connection from
// or to a pod of a namespace holding its objects.
func (c *Cluster) unreadableFor(conn Connection) []string {
	var out []string
	for _, u := range c.Unreadable {
		if !u.Namespaced || slices.ContainsFunc([]Peer{conn.From, conn.To}, func(p Peer) bool {
			return p.Pod != nil && slices.Contains(u.Namespaces, p.Pod.Namespace)
		}) {
			out = append(out, unreadable(u))
		}
	}
	return out
}

// judge decides one direction: egress on conn.From or ingress on conn.To. It returns the
// decision and the sentences that explain it.
func (c *Cluster) judge(policies []*networkingv1.NetworkPolicy, dir networkingv1.PolicyType, conn Connection) (DirectionDecision, []string) {
	subject, other := conn.To, conn.From
	if dir == networkingv1.PolicyTypeEgress {
		subject, other = conn.From, conn.To
	}
	if subject.Pod == nil {
		return DirectionDecision{Allowed: true}, []string{notAPod(dir, subject)}
	}
	pod := subject.Pod
	d := DirectionDecision{Pod: podKey(pod)}
	var misses []string
	for _, p := range policies {
		if p.Namespace != pod.Namespace || !hasPolicyType(p, dir) || !selects(&p.Spec.PodSelector, pod.Labels) {
			continue
		}
		d.Policies = append(d.Policies, policyKey(p))
		rules := rulesOf(p, dir)
		if len(rules) == 0 {
			misses = append(misses, noRules(p, dir))
		}
		for i, r := range rules {
			ref := RuleRef{Policy: policyKey(p), Direction: dir, Index: i, Rule: describeRule(p.Namespace, dir, r)}
			peerOK := c.peersMatch(p.Namespace, r.peers, other)
			portOK := portsMatch(r.ports, conn.Port, conn.Protocol, conn.To.Pod)
			if peerOK && portOK {
				d.AllowedBy = append(d.AllowedBy, ref)
				continue
			}
			misses = append(misses, miss(ref, other, conn, peerOK, portOK, r))
		}
	}
	d.Isolated = len(d.Policies) > 0
	d.Allowed = !d.Isolated || len(d.AllowedBy) > 0
	why := []string{explainDirection(dir, d, other, conn)}
	if !d.Allowed {
		why = append(why, misses...)
	}
	return d, why
}

// AdmitsByAddress reports whether a policy that isolates the decision's destination for
// ingress admits sources by address (ipBlock): the ingress verdict then depends on the
// source's IP.
func (c *Cluster) AdmitsByAddress(d Decision) bool {
	for i := range c.Policies {
		p := &c.Policies[i]
		if !slices.Contains(d.Ingress.Policies, policyKey(p)) {
			continue
		}
		for _, r := range rulesOf(p, networkingv1.PolicyTypeIngress) {
			if slices.ContainsFunc(r.peers, func(peer networkingv1.NetworkPolicyPeer) bool { return peer.IPBlock != nil }) {
				return true
			}
		}
	}
	return false
}

// hasPolicyType applies the API's defaulting of spec.policyTypes: when it is empty, a
// policy is an Ingress policy, and also an Egress policy if it has egress rules.
func hasPolicyType(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return dir == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	return slices.Contains(p.Spec.PolicyTypes, dir)
}

// rule is an ingress or an egress rule: the peers it admits (from or to) and its ports.
type rule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

func rulesOf(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) []rule {
	var rules []rule
	if dir == networkingv1.PolicyTypeIngress {
		for _, r := range p.Spec.Ingress {
			rules = append(rules, rule{peers: r.From, ports: r.Ports})
		}
		return rules
	}
	for _, r := range p.Spec.Egress {
		rules = append(rules, rule{peers: r.To, ports: r.Ports})
	}
	return rules
}

// sortedPolicies orders the policies by namespace and name, so that decisions and their
// sentences do not depend on the order of the snapshot.
func (c *Cluster) sortedPolicies() []*networkingv1.NetworkPolicy {
	ps := make([]*networkingv1.NetworkPolicy, len(c.Policies))
	for i := range c.Policies {
		ps[i] = &c.Policies[i]
	}
	slices.SortStableFunc(ps, func(a, b *networkingv1.NetworkPolicy) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return ps
}

// resolve replaces an address that belongs to exactly one pod by that pod, since traffic
// to a pod IP is traffic to the pod. Host-network pods share their node's address and
// finished pods may have given theirs away, so neither is resolved.
func (c *Cluster) resolve(p Peer, notes []string) (Peer, []string) {
	if p.Pod != nil {
		return p, notes
	}
	addr, err := netip.ParseAddr(p.IP)
	if err != nil {
		return p, notes
	}
	var found *corev1.Pod
	for i := range c.Pods {
		pod := &c.Pods[i]
		if pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if hasIP(pod, addr) {
			if found != nil {
				return p, notes // ambiguous: leave it an address
			}
			found = pod
		}
	}
	if found == nil {
		return p, notes
	}
	return Peer{Pod: found, IP: p.IP}, append(notes, isPod(p.IP, found))
}

func hasIP(pod *corev1.Pod, addr netip.Addr) bool {
	ips := []string{pod.Status.PodIP}
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil && a.Unmap() == addr.Unmap() {
			return true
		}
	}
	return false
}

// caveats lists what makes the verdict on this connection uncertain on a dataplane.
func (c *Cluster) caveats(conn Connection) []string {
	var out []string
	if svc := c.serviceAt(conn.To); svc != nil {
		out = append(out, clusterIPCaveat(conn.To.IP, svc))
	}
	if f, t := conn.From.Pod, conn.To.Pod; f != nil && t != nil && podKey(f) == podKey(t) {
		out = append(out, hairpinCaveat(f))
	}
	seen := map[string]bool{}
	for _, p := range []*corev1.Pod{conn.From.Pod, conn.To.Pod} {
		if p != nil && p.Spec.HostNetwork && !seen[podKey(p)] {
			seen[podKey(p)] = true
			out = append(out, hostNetworkCaveat(p))
		}
	}
	return out
}

// serviceAt finds the Service whose cluster IP is the peer's address, if the peer is no
// pod.
func (c *Cluster) serviceAt(p Peer) *corev1.Service {
	addr, err := netip.ParseAddr(p.IP)
	if p.Pod != nil || err != nil {
		return nil
	}
	for i := range c.Services {
		svc := &c.Services[i]
		for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
			if a, err := netip.ParseAddr(ip); err == nil && a.Unmap() == addr.Unmap() {
				return svc
			}
		}
	}
	return nil
}
