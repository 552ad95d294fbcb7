package probes

import (
	"fmt"
	"maps"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/api/v1alpha1"
)

// MaxWavePods bounds the index of a probe pod within its wave when its name is checked:
// a wave of one identity holds at most the checks of the runs that joined it.
const MaxWavePods = 4096

// PodIdentity is the identity a probe pod carries: its namespace, its labels other than
// netconform's, and its service account.
func PodIdentity(pod *corev1.Pod) Identity {
	labels := map[string]string{}
	for k, v := range pod.Labels {
		if k != LabelRun && !strings.HasPrefix(k, TestLabel("")) {
			labels[k] = v
		}
	}
	return Identity{Namespace: pod.Namespace, Labels: labels, ServiceAccount: pod.Spec.ServiceAccountName, Node: PinnedNode(pod)}
}

// Unrendered says how a pod differs from the probe pod RenderPod makes of the pod's own
// wave, members, identity and checks with the test spec and settings given, or nil when
// it does not. The fields compared are those that decide what the probe does and whose
// network identity it has; fields the API server fills in are compared as it fills
// them.
func Unrendered(pod *corev1.Pod, spec v1alpha1.ReachabilityTestSpec, s PodSettings) error {
	members, err := MembersOf(pod)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return fmt.Errorf("annotation %s lists no test run", AnnotationMembers)
	}
	checks, err := ChecksOf(pod)
	if err != nil {
		return err
	}
	id := PodIdentity(pod)
	for i, c := range checks {
		if c.Node != id.Node {
			return fmt.Errorf("check %d (%s) is for node %q but the pod is pinned to %q", i, c.Edge, c.Node, id.Node)
		}
	}
	want := RenderPod(SharedPod{Wave: pod.Labels[LabelRun], Members: members, Spec: spec, Plan: PodPlan{Identity: id, Checks: checks}}, s)
	if !nameInWave(pod.Name, members[0].Test, pod.Labels[LabelRun], id) {
		return fmt.Errorf("metadata.name %s is not a probe pod name of wave %q", pod.Name, pod.Labels[LabelRun])
	}
	return differs(essentialsOf(pod), essentialsOf(want))
}

// SameIdentity says whether a pod's identity is the planned one. A source that names
// no service account runs as "default", which the API server writes in.
func SameIdentity(planned, pod Identity) bool {
	if planned.ServiceAccount == "" {
		planned.ServiceAccount = "default"
	}
	if pod.ServiceAccount == "" {
		pod.ServiceAccount = "default"
	}
	return planned.Namespace == pod.Namespace && planned.ServiceAccount == pod.ServiceAccount && planned.Node == pod.Node && maps.Equal(planned.Labels, pod.Labels)
}

// nameInWave says whether name is that of a pod of the wave, for the identity as the
// pod carries it or, for the default account, as it was planned.
func nameInWave(name, firstTest, wave string, id Identity) bool {
	ids := []Identity{id}
	if id.ServiceAccount == "default" {
		unnamed := id
		unnamed.ServiceAccount = ""
		ids = append(ids, unnamed)
	}
	for i := range MaxWavePods {
		for _, id := range ids {
			if PodName(firstTest, wave, PodPlan{Identity: id, Index: i}) == name {
				return true
			}
		}
	}
	return false
}

// essentials are the fields of a probe pod that decide what it does and as whom, in the
// form the API server stores them. Each field's tag names it in a difference.
type essentials struct {
	Namespace      string                      `path:"metadata.namespace"`
	Labels         map[string]string           `path:"metadata.labels"`
	Members        string                      `path:"metadata.annotations[netconform.io/members]"`
	Owners         []metav1.OwnerReference     `path:"metadata.ownerReferences"`
	ServiceAccount string                      `path:"spec.serviceAccountName"`
	AutomountToken *bool                       `path:"spec.automountServiceAccountToken"`
	ServiceLinks   *bool                       `path:"spec.enableServiceLinks"`
	RestartPolicy  corev1.RestartPolicy        `path:"spec.restartPolicy"`
	Deadline       *int64                      `path:"spec.activeDeadlineSeconds"`
	ReadinessGates []corev1.PodReadinessGate   `path:"spec.readinessGates"`
	PodSecurity    *corev1.PodSecurityContext  `path:"spec.securityContext"`
	HostNamespaces [3]bool                     `path:"spec.hostNetwork, hostPID and hostIPC"`
	DNSPolicy      corev1.DNSPolicy            `path:"spec.dnsPolicy"`
	DNSConfig      *corev1.PodDNSConfig        `path:"spec.dnsConfig"`
	HostAliases    []corev1.HostAlias          `path:"spec.hostAliases"`
	NodeSelector   map[string]string           `path:"spec.nodeSelector"`
	Affinity       *corev1.Affinity            `path:"spec.affinity"`
	Tolerations    []corev1.Toleration         `path:"spec.tolerations"`
	RuntimeClass   *string                     `path:"spec.runtimeClassName"`
	Volumes        []corev1.Volume             `path:"spec.volumes"`
	InitContainers []corev1.Container          `path:"spec.initContainers"`
	Containers     []corev1.Container          `path:"spec.containers"`
	Ephemeral      []corev1.EphemeralContainer `path:"spec.ephemeralContainers"`
}

func essentialsOf(pod *corev1.Pod) essentials {
	sp := pod.Spec
	account := sp.ServiceAccountName
	if account == "" {
		account = "default"
	}
	dns := sp.DNSPolicy
	if dns == "" {
		dns = corev1.DNSClusterFirst
	}
	containers := make([]corev1.Container, len(sp.Containers))
	for i, c := range sp.Containers {
		containers[i] = storedContainer(c)
	}
	return essentials{
		Namespace: pod.Namespace, Labels: pod.Labels, Members: pod.Annotations[AnnotationMembers],
		Owners: pod.OwnerReferences, ServiceAccount: account, AutomountToken: sp.AutomountServiceAccountToken,
		ServiceLinks: sp.EnableServiceLinks, RestartPolicy: sp.RestartPolicy, Deadline: sp.ActiveDeadlineSeconds,
		ReadinessGates: sp.ReadinessGates, PodSecurity: sp.SecurityContext,
		HostNamespaces: [3]bool{sp.HostNetwork, sp.HostPID, sp.HostIPC},
		DNSPolicy:      dns, DNSConfig: sp.DNSConfig, HostAliases: sp.HostAliases,
		NodeSelector: sp.NodeSelector, Affinity: sp.Affinity, Tolerations: withoutDefaultTolerations(sp.Tolerations),
		RuntimeClass: sp.RuntimeClassName, Volumes: sp.Volumes, InitContainers: sp.InitContainers,
		Containers: containers, Ephemeral: sp.EphemeralContainers,
	}
}

// storedContainer is a container as the API server stores it: a default termination
// message path and requests taken from limits. The resize policy, which some versions
// default, says nothing of what the probe does.
func storedContainer(c corev1.Container) corev1.Container {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	c.ResizePolicy = nil
	if len(c.Resources.Limits) > 0 {
		requests := maps.Clone(c.Resources.Requests)
		if requests == nil {
			requests = corev1.ResourceList{}
		}
		for name, q := range c.Resources.Limits {
			if _, ok := requests[name]; !ok {
				requests[name] = q
			}
		}
		c.Resources.Requests = requests
	}
	return c
}

// withoutDefaultTolerations leaves out the not-ready and unreachable tolerations that
// the API server adds to every pod.
func withoutDefaultTolerations(ts []corev1.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range ts {
		defaulted := t.Effect == corev1.TaintEffectNoExecute && t.TolerationSeconds != nil &&
			(t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable)
		if !defaulted {
			out = append(out, t)
		}
	}
	return out
}

// differs names the first field in which got differs from want.
func differs(got, want essentials) error {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !equality.Semantic.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			return fmt.Errorf("%s differs from what the manager renders", g.Type().Field(i).Tag.Get("path"))
		}
	}
	return nil
}
