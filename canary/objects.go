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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// Labels on canary pods; the canary's policies select pods by them and nothing else.
const (
	LabelCanary = "netconform.io/canary"
	LabelRole   = "netconform.io/canary-role"

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
}

// NamesFor returns the canary names of a test.
func NamesFor(test *v1alpha1.ReachabilityTest, namespace string) Names {
	sum := sha256.Sum256([]byte(test.UID))
	return Names{ID: hex.EncodeToString(sum[:5]), Namespace: namespace}
}

func (n Names) prefix() string { return "netconform-canary-" + n.ID }

// Server is the server pod's name.
func (n Names) Server() string { return n.prefix() + "-server" }

// Client is the client pod's name.
func (n Names) Client() string { return n.prefix() + "-client" }

// Policy names.
func (n Names) denyAll() string      { return n.prefix() + "-deny" }
func (n Names) allowIngress() string { return n.prefix() + "-allow-ingress" }
func (n Names) allowEgress() string  { return n.prefix() + "-allow-egress" }

func (n Names) selector(role string) metav1.LabelSelector {
	s := metav1.LabelSelector{MatchLabels: map[string]string{LabelCanary: n.ID}}
	if role != "" {
		s.MatchLabels[LabelRole] = role
	}
	return s
}

// Policies are the canary's allows in place; the deny-all is always there.
type Policies struct {
	Ingress bool
	Egress  bool
}

func (p Policies) String() string {
	switch {
	case p.Ingress && p.Egress:
		return "both allows"
	case p.Ingress:
		return "the ingress allow only"
	case p.Egress:
		return "the egress allow only"
	}
	return "no allow"
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
				LabelCanary: n.ID, LabelRole: role,
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

// ContainerName is the canary pods' container.
const ContainerName = "canary"
