package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// This file holds the words: every sentence of a Decision is written here.

func direction(dir networkingv1.PolicyType) string {
	if dir == networkingv1.PolicyTypeEgress {
		return "egress"
	}
	return "ingress"
}

// side names a direction on its pod: "egress from x/a" or "ingress to x/b".
func side(dir networkingv1.PolicyType, subject string) string {
	if dir == networkingv1.PolicyTypeEgress {
		return "egress from " + subject
	}
	return "ingress to " + subject
}

// verdict is the first sentence of a Decision.
func verdict(d Decision) string {
	conn := d.Connection
	switch {
	case d.Undecided:
		return conn.String() + " is undecided: the verdict depends on what the model cannot read or decide (see the caveats)"
	case d.Allowed:
		return conn.String() + " is allowed"
	case !d.Egress.Allowed && !d.Ingress.Allowed:
		return fmt.Sprintf("%s is denied: neither egress from %s nor ingress to %s allows it", conn, conn.From, conn.To)
	case !d.Egress.Allowed:
		return fmt.Sprintf("%s is denied: egress from %s does not allow it", conn, conn.From)
	default:
		return fmt.Sprintf("%s is denied: ingress to %s does not allow it", conn, conn.To)
	}
}

func doesNotDepend(unsure []string) string {
	return "the verdict does not depend on what the model cannot decide: " + strings.Join(unsure, "; ")
}

func notAPod(dir networkingv1.PolicyType, p Peer) string {
	return fmt.Sprintf("%s is not judged: %s is not a pod, and NetworkPolicy governs only pods", side(dir, p.String()), p)
}

// explainDirection is the sentence that decides one direction.
func explainDirection(dir networkingv1.PolicyType, d DirectionDecision, other Peer, conn Connection) string {
	s := side(dir, d.Pod)
	if !d.Isolated {
		return fmt.Sprintf("%s is not isolated: no NetworkPolicy in %s selects it for %s", s, strings.SplitN(d.Pod, "/", 2)[0], direction(dir))
	}
	s += " is isolated by " + strings.Join(d.Policies, ", ")
	if !d.Allowed {
		word := "from"
		if dir == networkingv1.PolicyTypeEgress {
			word = "to"
		}
		and := " and"
		if len(d.Policies) > 1 {
			and = ", and"
		}
		return fmt.Sprintf("%s%s no rule allows %s %s %s on port %d/%s", s, and, direction(dir), word, other, conn.Port, conn.Protocol)
	}
	refs := make([]string, len(d.AllowedBy))
	for i, r := range d.AllowedBy {
		refs[i] = r.String()
	}
	return s + "; allowed by " + strings.Join(refs, ", ")
}

func noRules(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) string {
	return fmt.Sprintf("%s has no %s rules: it allows no %s for the pods it selects", policyKey(p), direction(dir), direction(dir))
}

// miss explains why one rule of an isolating policy does not allow the connection.
func miss(ref RuleRef, other Peer, conn Connection, peerOK, portOK bool, r rule) string {
	port := fmt.Sprintf("port %d/%s", conn.Port, conn.Protocol)
	var s string
	switch {
	case !peerOK && !portOK:
		s = fmt.Sprintf("%s admits neither %s nor %s", ref, other, port)
	case !peerOK:
		s = fmt.Sprintf("%s does not admit %s", ref, other)
	default:
		s = fmt.Sprintf("%s admits %s but not %s", ref, other, port)
	}
	var hints []string
	if !peerOK && other.Pod == nil && !hasIPBlock(r.peers) {
		hints = append(hints, "pod and namespace selectors admit only pods; an address needs an ipBlock")
	}
	if !portOK {
		hints = append(hints, namedPortHints(r.ports, conn)...)
	}
	if len(hints) > 0 {
		s += " (" + strings.Join(hints, "; ") + ")"
	}
	return s
}

func hasIPBlock(peers []networkingv1.NetworkPolicyPeer) bool {
	for _, p := range peers {
		if p.IPBlock != nil {
			return true
		}
	}
	return false
}

// namedPortHints say why the rule's named ports of the connection's protocol did not
// resolve to the connection's port.
func namedPortHints(ports []networkingv1.NetworkPolicyPort, conn Connection) []string {
	var hints []string
	for _, p := range ports {
		if p.Port == nil || p.Port.Type != intstr.String || protocolOrTCP(ptrOr(p.Protocol)) != conn.Protocol {
			continue
		}
		name := p.Port.StrVal
		n, ok := containerPort(conn.To.Pod, name, conn.Protocol)
		switch {
		case conn.To.Pod == nil:
			hints = append(hints, fmt.Sprintf("named port %q is looked up on the destination pod, and %s is not a pod", name, conn.To))
		case !ok:
			hints = append(hints, fmt.Sprintf("%s has no %s container port named %q", conn.To, conn.Protocol, name))
		default:
			hints = append(hints, fmt.Sprintf("named port %q is %d on %s", name, n, conn.To))
		}
	}
	return hints
}

// describeRule is a rule in words: "from pods app=catalog in bookstore, port 5432/TCP".
func describeRule(policyNamespace string, dir networkingv1.PolicyType, r rule) string {
	peers := "anywhere"
	if len(r.peers) > 0 {
		ps := make([]string, len(r.peers))
		for i, p := range r.peers {
			ps[i] = describePeer(policyNamespace, p)
		}
		peers = strings.Join(ps, " or ")
	}
	word := "from "
	if dir == networkingv1.PolicyTypeEgress {
		word = "to "
	}
	ports := "any port"
	if len(r.ports) > 0 {
		ps := make([]string, len(r.ports))
		for i, p := range r.ports {
			ps[i] = describePort(p)
		}
		ports = strings.Join(ps, " or ")
	}
	return word + peers + ", " + ports
}

// describePeer is one item of a from or to list in words.
func describePeer(policyNamespace string, p networkingv1.NetworkPolicyPeer) string {
	switch {
	case p.IPBlock != nil:
		s := "addresses in " + p.IPBlock.CIDR
		if len(p.IPBlock.Except) > 0 {
			s += " except " + strings.Join(p.IPBlock.Except, ", ")
		}
		return s
	case p.PodSelector == nil && p.NamespaceSelector == nil:
		return "nothing (an empty peer)"
	}
	pods := "all pods"
	if p.PodSelector != nil && !isEmpty(p.PodSelector) {
		pods = "pods " + describeSelector(p.PodSelector)
	}
	switch {
	case p.NamespaceSelector == nil:
		return pods + " in " + policyNamespace
	case isEmpty(p.NamespaceSelector):
		return pods + " in all namespaces"
	case len(p.NamespaceSelector.MatchExpressions) == 0 && len(p.NamespaceSelector.MatchLabels) == 1 &&
		p.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "":
		return pods + " in namespace " + p.NamespaceSelector.MatchLabels[corev1.LabelMetadataName]
	default:
		return pods + " in namespaces " + describeSelector(p.NamespaceSelector)
	}
}

func isEmpty(s *metav1.LabelSelector) bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

func describeSelector(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return fmt.Sprintf("<invalid selector, matching nothing: %v>", err)
	}
	return sel.String()
}

// describePort is one item of a rule's ports in words.
func describePort(p networkingv1.NetworkPolicyPort) string {
	proto := protocolOrTCP(ptrOr(p.Protocol))
	switch {
	case p.Port == nil:
		return fmt.Sprintf("any %s port", proto)
	case p.Port.Type == intstr.String:
		return fmt.Sprintf("named port %s/%s", p.Port.StrVal, proto)
	case p.EndPort != nil:
		return fmt.Sprintf("ports %d-%d/%s", p.Port.IntVal, *p.EndPort, proto)
	default:
		return fmt.Sprintf("port %d/%s", p.Port.IntVal, proto)
	}
}

// describeTarget says how a Service port chose its backend port.
func describeTarget(sp *corev1.ServicePort) string {
	switch {
	case sp.TargetPort.Type == intstr.String:
		return fmt.Sprintf("targetPort %q", sp.TargetPort.StrVal)
	case sp.TargetPort.IntVal == 0:
		return "targetPort defaults to the port"
	default:
		return fmt.Sprintf("targetPort %d", sp.TargetPort.IntVal)
	}
}

func isPod(ip string, pod *corev1.Pod) string {
	return fmt.Sprintf("%s is the address of pod %s", ip, podKey(pod))
}

func clusterIPCaveat(ip string, svc *corev1.Service) string {
	return fmt.Sprintf("%s is the cluster IP of Service %s/%s: dataplanes judge its traffic after translation to the Service's pods, so judge the Service instead", ip, svc.Namespace, svc.Name)
}

func hairpinCaveat(pod *corev1.Pod) string {
	return fmt.Sprintf("%s connects to itself: NetworkPolicy leaves traffic from a pod to itself undefined (the conformance tests ignore it), so dataplanes differ", podKey(pod))
}

func hostNetworkCaveat(pod *corev1.Pod) string {
	return fmt.Sprintf("%s uses the host network: NetworkPolicy leaves host-network pods undefined, and most dataplanes neither select them nor tell their traffic from the node's", podKey(pod))
}
