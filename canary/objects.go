// Package canary is the enforcement canary: a server pod, a client pod that probes it
// without pause, and policies that select only these two pods. Changing the policies
// and watching what the client sees shows whether, and how fast, the dataplane
// enforces NetworkPolicy in each direction.
package canary

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	cnp "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// Labels on canary pods; the canary's policies select pods by them and nothing else.
const (
	LabelCanary = "netconform.io/canary"
	LabelRole   = "netconform.io/canary-role"
	// LabelPair numbers a client and the server it probes; each pair has policies of
	// its own, so the pairs run their phases side by side.
	LabelPair = "netconform.io/canary-pair"

	RoleServer = "server"
	RoleClient = "client"

	// Port the canary server listens on.
	Port = 8080
	// Interval between the client's dials: the precision of the enforcement latency.
	Interval = 50 * time.Millisecond
	// DialTimeout bounds each of the client's dials; dials overlap, so a dropping
	// dataplane does not slow the client down.
	DialTimeout = time.Second
)

// Names are the object names and labels of one test's canary, derived from the test's UID so that
// tests never share a canary and a restarted manager finds its objects.
type Names struct {
	ID        string
	Namespace string
	// Pair numbers the client and server these names are of; pair 0 keeps the names of
	// a canary of one pair.
	Pair int
}

// NamesFor returns the canary names of a test.
func NamesFor(test *v1alpha1.ReachabilityTest, namespace string) Names {
	sum := sha256.Sum256([]byte(test.UID))
	return Names{ID: hex.EncodeToString(sum[:5]), Namespace: namespace}
}

// ForPair returns the names of pair i of the same canary.
func (n Names) ForPair(i int) Names {
	n.Pair = i
	return n
}

func (n Names) prefix() string {
	if n.Pair == 0 {
		return "netconform-canary-" + n.ID
	}
	return "netconform-canary-" + n.ID + "-" + strconv.Itoa(n.Pair)
}

// PairOf is the pair a canary pod belongs to, from its label (0 when it has none).
func PairOf(pod *corev1.Pod) int {
	i, err := strconv.Atoi(pod.Labels[LabelPair])
	if err != nil || i < 0 {
		return 0
	}
	return i
}

// Server is the server pod's name.
func (n Names) Server() string { return n.prefix() + "-server" }

// Client is the client pod's name.
func (n Names) Client() string { return n.prefix() + "-client" }

// Policy names.
func (n Names) denyAll() string      { return n.prefix() + "-deny" }
func (n Names) allowIngress() string { return n.prefix() + "-allow-ingress" }
func (n Names) allowEgress() string  { return n.prefix() + "-allow-egress" }

func (n Names) selector(role string) metav1.LabelSelector {
	s := metav1.LabelSelector{MatchLabels: map[string]string{LabelCanary: n.ID, LabelPair: strconv.Itoa(n.Pair)}}
	if role != "" {
		s.MatchLabels[LabelRole] = role
	}
	return s
}

// Policies are the canary's policies in place: the NetworkPolicy allows, and the
// deny-all unless Open; the ClusterNetworkPolicy denies where the admin tier is checked.
type Policies struct {
	Ingress bool
	Egress  bool
	// Open leaves the canary pods without any NetworkPolicy, deny-all included.
	Open bool
	// AdminDeny and BaselineDeny are the Admin- and Baseline-tier Deny.
	AdminDeny    bool
	BaselineDeny bool
}

func (p Policies) String() string {
	s := "no allow"
	switch {
	case p.Open:
		s = "no NetworkPolicy"
	case p.Ingress && p.Egress:
		s = "both allows"
	case p.Ingress:
		s = "the ingress allow only"
	case p.Egress:
		s = "the egress allow only"
	}
	switch {
	case p.AdminDeny:
		s += " under an Admin-tier Deny"
	case p.BaselineDeny:
		s += " over a Baseline-tier Deny"
	}
	return s
}

// Object is one of the canary's policies: a NetworkPolicy or a ClusterNetworkPolicy.
type Object interface {
	metav1.Object
	runtime.Object
}

// Wanted is one of the canary's policies and whether a policy set includes it.
type Wanted struct {
	Object Object
	Wanted bool
}

// Objects lists every policy the canary may put in place, each with whether p includes
// it, in the same order for every p: the caller compares two sets object by object, and
// deletes in this order, the deny-all before the allows. The ClusterNetworkPolicies are
// listed only with clusterPolicies, where the API is served.
func Objects(n Names, p Policies, clusterPolicies bool) []Wanted {
	objects := []Wanted{
		{DenyAll(n), !p.Open},
		{AllowIngress(n), p.Ingress},
		{AllowEgress(n), p.Egress},
	}
	if clusterPolicies {
		objects = append(objects, Wanted{AdminDeny(n), p.AdminDeny}, Wanted{BaselineDeny(n), p.BaselineDeny})
	}
	return objects
}

// Owns reports whether an object is one of a canary's: its policies select canary pods
// only, so the policy model and the change triggers leave them out.
func Owns(obj metav1.Object) bool {
	_, ok := obj.GetLabels()[LabelCanary]
	return ok
}

// DenyAll selects both canary pods for ingress and egress, with no rule.
func DenyAll(n Names) *networkingv1.NetworkPolicy {
	return policy(n, n.denyAll(), n.selector(""), networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
	})
}

// AllowIngress lets the client into the server: the destination's half of an allow.
func AllowIngress(n Names) *networkingv1.NetworkPolicy {
	return policy(n, n.allowIngress(), n.selector(RoleServer), networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: ptr.To(n.selector(RoleClient))}},
			Ports: serverPort(),
		}},
	})
}

// AllowEgress lets the client out to the server: the source's half of an allow.
func AllowEgress(n Names) *networkingv1.NetworkPolicy {
	return policy(n, n.allowEgress(), n.selector(RoleClient), networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: ptr.To(n.selector(RoleServer))}},
			Ports: serverPort(),
		}},
	})
}

// AdminDeny is an Admin-tier Deny of the client's traffic to the server, in both
// directions, over the NetworkPolicy allows.
func AdminDeny(n Names) *cnp.ClusterNetworkPolicy {
	return clusterDeny(n, n.prefix()+"-admin-deny", cnp.AdminTier)
}

// BaselineDeny is a Baseline-tier Deny of the client's traffic to the server, in both
// directions; it applies where no NetworkPolicy selects the pods.
func BaselineDeny(n Names) *cnp.ClusterNetworkPolicy {
	return clusterDeny(n, n.prefix()+"-baseline-deny", cnp.BaselineTier)
}

// clusterDeny selects the canary's pods only, by their namespace and labels. Its name
// derives from the test, like the canary's other objects: cluster-scoped, it must not
// collide with another test's.
func clusterDeny(n Names, name string, tier cnp.Tier) *cnp.ClusterNetworkPolicy {
	port := []cnp.ClusterNetworkPolicyProtocol{{TCP: &cnp.ClusterNetworkPolicyProtocolTCP{DestinationPort: &cnp.Port{Number: Port}}}}
	return &cnp.ClusterNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: cnp.GroupVersion.String(), Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelCanary: n.ID}},
		Spec: cnp.ClusterNetworkPolicySpec{
			Tier: tier,
			// First in its tier, so that no other policy there decides the canary's traffic.
			Priority: 0,
			Subject:  cnp.ClusterNetworkPolicySubject{Pods: n.pods("")},
			Ingress: []cnp.ClusterNetworkPolicyIngressRule{{
				Name: "canary-deny-from-client", Action: cnp.ClusterNetworkPolicyRuleActionDeny,
				From: []cnp.ClusterNetworkPolicyIngressPeer{{Pods: n.pods(RoleClient)}}, Protocols: port,
			}},
			Egress: []cnp.ClusterNetworkPolicyEgressRule{{
				Name: "canary-deny-to-server", Action: cnp.ClusterNetworkPolicyRuleActionDeny,
				To: []cnp.ClusterNetworkPolicyEgressPeer{{Pods: n.pods(RoleServer)}}, Protocols: port,
			}},
		},
	}
}

// pods selects the canary's pods of a role (all of them for "") in its namespace.
func (n Names) pods(role string) *cnp.NamespacedPod {
	return &cnp.NamespacedPod{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: n.Namespace}},
		PodSelector:       n.selector(role),
	}
}

func serverPort() []networkingv1.NetworkPolicyPort {
	return []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(Port))}}
}

func policy(n Names, name string, selector metav1.LabelSelector, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	spec.PodSelector = selector
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n.Namespace, Labels: map[string]string{LabelCanary: n.ID}},
		Spec:       spec,
	}
}

// PodSettings are the inputs of the canary's pods.
type PodSettings struct {
	Image   string
	RunID   string
	TestUID types.UID
	// Deadline bounds each pod's life, should the manager never delete it.
	Deadline time.Duration
	Override *v1alpha1.ProbePodSpec
	// Node pins the pod to a node; empty leaves it to the scheduler.
	Node string
}

// ServerPod listens on Port.
func ServerPod(n Names, s PodSettings) *corev1.Pod {
	return pod(n, n.Server(), RoleServer, s, []string{"serve", "--tcp", strconv.Itoa(Port)})
}

// ClientPod probes the server's address without pause and logs what it sees.
func ClientPod(n Names, s PodSettings, serverIP string) *corev1.Pod {
	return pod(n, n.Client(), RoleClient, s, []string{"canary-client",
		"--target=" + net.JoinHostPort(serverIP, strconv.Itoa(Port)),
		"--interval=" + Interval.String(), "--timeout=" + DialTimeout.String()})
}

func pod(n Names, name, role string, s PodSettings, args []string) *corev1.Pod {
	override := s.Override
	if override == nil {
		override = &v1alpha1.ProbePodSpec{}
	}
	image := s.Image
	if override.Image != "" {
		image = override.Image
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: n.Namespace,
			Labels: map[string]string{
				LabelCanary: n.ID, LabelRole: role, LabelPair: strconv.Itoa(n.Pair),
				// The probe pod labels put the pod in the manager's cache and let the run
				// find and clean it up with its probe pods.
				probes.TestLabel(s.TestUID): s.RunID, probes.LabelRun: s.RunID,
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(int64(s.Deadline.Seconds())),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			NodeSelector:                  override.NodeSelector,
			Affinity:                      onNode(s.Node),
			Tolerations:                   override.Tolerations,
			PriorityClassName:             override.PriorityClassName,
			SecurityContext:               probes.RestrictedPodSecurity(),
			Containers: []corev1.Container{{
				Name:            ContainerName,
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"/netconform"},
				Args:            args,
				Resources:       probes.Resources(override.Resources),
				SecurityContext: probes.RestrictedContainerSecurity(),
			}},
		},
	}
}

// onNode pins a pod to a node the way DaemonSets do, by the node's name as a field, so
// the scheduler still checks taints and resources.
func onNode(node string) *corev1.Affinity {
	if node == "" {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}},
	}}
}

// ContainerName is the canary pods' container.
const ContainerName = "canary"
