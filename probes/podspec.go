package probes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Labels and annotations netconform puts on probe pods.
const (
	// LabelRun names the wave a probe pod was created in; the manager caches only pods
	// that carry it.
	LabelRun = "netconform.io/run"
	// AnnotationMembers lists the test runs a probe pod makes checks for, in the order
	// that each check's Member indexes.
	AnnotationMembers = "netconform.io/members"
	// ReadinessGate keeps probe pods out of every Service's endpoints: they carry the
	// source's labels, so a Service selecting the source would otherwise send them traffic.
	ReadinessGate corev1.PodConditionType = "netconform.io/never-ready"

	// ContainerName is the probe container's name.
	ContainerName = "probe"
	// ProbeUID runs probes as a non-root user.
	ProbeUID = 65532
	// BaseBackoff is the first pause between attempts; each next one doubles, up to
	// MaxBackoff, so that retries span the time an enforcer takes to program a new pod.
	BaseBackoff = 250 * time.Millisecond
	// MaxBackoff caps the pause between attempts.
	MaxBackoff = 2 * time.Second
)

// PodSettings are the manager-wide inputs of a probe pod.
type PodSettings struct {
	// Image is the probe image unless the test overrides it.
	Image string
	// Settle is how long a check the policies have no verdict on waits before its first
	// attempt: a new pod is under no policy until the enforcer has seen its address,
	// and would see a wide-open network.
	Settle time.Duration
	// MaxSettle is how long a check the policies have a verdict on is retried while the
	// dataplane disagrees with them, for an enforcer slow to program the new pod.
	MaxSettle time.Duration
}

// Backoff is the pause after the given attempt (1, 2, ...).
func Backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// TestLabel is the label a probe pod carries for each test it makes checks for; its
// value is the run. A test's probe pods are those that carry its label.
func TestLabel(uid types.UID) string {
	return "netconform.io/test-" + string(uid)
}

// Member is one test's run among those a probe pod makes checks for.
type Member struct {
	Test string    `json:"test"`
	UID  types.UID `json:"uid"`
	Run  string    `json:"run"`
}

// MemberOf is the member for a run of a test.
func MemberOf(test *v1alpha1.ReachabilityTest, runID string) Member {
	return Member{Test: test.Name, UID: test.UID, Run: runID}
}

// MembersOf reads back the runs a probe pod makes checks for.
func MembersOf(pod *corev1.Pod) ([]Member, error) {
	var members []Member
	if err := json.Unmarshal([]byte(pod.Annotations[AnnotationMembers]), &members); err != nil {
		return nil, fmt.Errorf("pod %s/%s: reading annotation %s: %w", pod.Namespace, pod.Name, AnnotationMembers, err)
	}
	return members, nil
}

// SettingsKey is equal for tests whose probe pods differ only in their checks, so that
// the checks of such tests may share a pod.
func SettingsKey(spec v1alpha1.ReachabilityTestSpec) string {
	b, err := json.Marshal(struct {
		Timeout, Attempts int32
		Pod               *v1alpha1.ProbePodSpec
	}{timeoutSeconds(spec), attempts(spec), spec.ProbePod})
	if err != nil { // the types hold only what JSON encodes
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// SharedPod is a probe pod that makes the checks of one or more test runs with the same
// source identity and the same SettingsKey.
type SharedPod struct {
	// Wave names the batch of runs the pod was created for; with Plan.Index it makes
	// the pod's name.
	Wave    string
	Members []Member
	// Spec gives the pod settings, the same for every member.
	Spec v1alpha1.ReachabilityTestSpec
	// Plan holds the identity, the pod's index within the wave and the checks; each
	// check's Member indexes Members.
	Plan PodPlan
}

// ProbePod renders the pod for one PodPlan of a run that shares it with no other.
func ProbePod(test *v1alpha1.ReachabilityTest, runID string, p PodPlan, s PodSettings) *corev1.Pod {
	return RenderPod(SharedPod{Wave: runID, Members: []Member{MemberOf(test, runID)}, Spec: test.Spec, Plan: p}, s)
}

// RenderPod renders a probe pod. Every member owns it, and none controls it: it is
// deleted once every member has read it, or by the garbage collector once every
// member is gone.
func RenderPod(sp SharedPod, s PodSettings) *corev1.Pod {
	p := sp.Plan
	override := sp.Spec.ProbePod
	if override == nil {
		override = &v1alpha1.ProbePodSpec{}
	}
	image := s.Image
	if override.Image != "" {
		image = override.Image
	}
	labels := maps.Clone(p.Identity.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelRun] = sp.Wave
	owners := make([]metav1.OwnerReference, 0, len(sp.Members))
	for _, m := range sp.Members {
		labels[TestLabel(m.UID)] = m.Run
		owners = append(owners, metav1.OwnerReference{
			APIVersion:         v1alpha1.GroupVersion.String(),
			Kind:               "ReachabilityTest",
			Name:               m.Test,
			UID:                m.UID,
			BlockOwnerDeletion: ptr.To(true),
		})
	}
	members, err := json.Marshal(sp.Members)
	if err != nil { // Member holds only strings
		panic(err)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            PodName(sp.Members[0].Test, sp.Wave, p),
			Namespace:       p.Identity.Namespace,
			Labels:          labels,
			Annotations:     map[string]string{AnnotationMembers: string(members)},
			OwnerReferences: owners,
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(deadlineSeconds(sp.Spec, s)),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			ServiceAccountName:            p.Identity.ServiceAccount,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			NodeSelector:                  override.NodeSelector,
			Affinity:                      PinnedTo(p.Identity.Node),
			Tolerations:                   override.Tolerations,
			PriorityClassName:             override.PriorityClassName,
			ReadinessGates:                []corev1.PodReadinessGate{{ConditionType: ReadinessGate}},
			SecurityContext:               RestrictedPodSecurity(),
			Containers: []corev1.Container{{
				Name:                     ContainerName,
				Image:                    image,
				ImagePullPolicy:          corev1.PullIfNotPresent,
				Command:                  []string{"/netconform", "probe"},
				Args:                     ProbeArgs(sp.Spec, s, p.Checks),
				Resources:                Resources(override.Resources),
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				SecurityContext:          RestrictedContainerSecurity(),
			}},
		},
	}
}

// nodeNameField is the field a node affinity term matches a node's name by.
const nodeNameField = "metadata.name"

// PinnedTo is the affinity that keeps a pod to one node, or nil for none. It is a
// required node affinity on the node's name, as a DaemonSet's pods have, not
// spec.nodeName: the scheduler still places the pod, so the node's taints, cordon and
// resources, and the manager's bounds on tolerations, keep applying; nodeName would skip
// them all and start a pod where the test's author could not schedule one.
func PinnedTo(node string) *corev1.Affinity {
	if node == "" {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: nodeNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}},
		},
	}}
}

// PinnedNode is the node a pod's affinity pins it to, as PinnedTo makes it; empty for
// any other affinity, which then differs from what the manager renders.
func PinnedNode(pod *corev1.Pod) string {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchFields) != 1 || len(terms[0].MatchExpressions) != 0 {
		return ""
	}
	f := terms[0].MatchFields[0]
	if f.Key != nodeNameField || f.Operator != corev1.NodeSelectorOpIn || len(f.Values) != 1 {
		return ""
	}
	return f.Values[0]
}

// OwnerReference makes the test the owner of what it creates, so that deleting the
// test deletes them.
func OwnerReference(test *v1alpha1.ReachabilityTest) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "ReachabilityTest",
		Name:               test.Name,
		UID:                test.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// RestrictedPodSecurity is the pod security context of every pod netconform starts: it
// passes the restricted Pod Security Standard.
func RestrictedPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](ProbeUID),
		RunAsGroup:     ptr.To[int64](ProbeUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// RestrictedContainerSecurity is the container security context that goes with it.
func RestrictedContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// ProbeArgs are the probe's flags; the last one carries the checks.
func ProbeArgs(spec v1alpha1.ReachabilityTestSpec, s PodSettings, checks []Check) []string {
	return []string{
		"--timeout=" + (time.Duration(timeoutSeconds(spec)) * time.Second).String(),
		"--attempts=" + strconv.Itoa(int(attempts(spec))),
		"--settle=" + s.Settle.String(),
		"--max-settle=" + s.MaxSettle.String(),
		ChecksFlag + EncodeChecks(checks),
	}
}

// ChecksFlag prefixes the argument that carries a probe pod's checks.
const ChecksFlag = "--checks="

// ChecksOf reads back the checks a probe pod carries.
func ChecksOf(pod *corev1.Pod) ([]Check, error) {
	for _, c := range pod.Spec.Containers {
		if c.Name != ContainerName {
			continue
		}
		for _, arg := range c.Args {
			if v, ok := strings.CutPrefix(arg, ChecksFlag); ok {
				return DecodeChecks(v)
			}
		}
	}
	return nil, fmt.Errorf("pod %s/%s carries no %s argument", pod.Namespace, pod.Name, ChecksFlag)
}

// PodName is deterministic so that creating a pod again finds, rather than duplicates,
// it. The prefix is the first member's test name.
func PodName(testName, wave string, p PodPlan) string {
	sum := sha256.Sum256([]byte(testName + "\x00" + wave + "\x00" + p.Identity.Key() + "\x00" + strconv.Itoa(p.Index)))
	prefix := strings.TrimRight(truncate(testName, 40), "-.")
	return prefix + "-probe-" + hex.EncodeToString(sum[:5])
}

func timeoutSeconds(spec v1alpha1.ReachabilityTestSpec) int32 {
	return max(spec.ProbeTimeoutSeconds, 1)
}

func attempts(spec v1alpha1.ReachabilityTestSpec) int32 {
	return max(spec.Attempts, 1)
}

// deadlineSeconds bounds a probe pod's life: the longer settle time, every attempt of a
// name look-up and a connection, the pauses between attempts, and time to start.
func deadlineSeconds(spec v1alpha1.ReachabilityTestSpec, s PodSettings) int64 {
	perAttempt := 2*time.Duration(timeoutSeconds(spec))*time.Second + MaxBackoff
	return int64((max(s.Settle, s.MaxSettle) + time.Duration(attempts(spec))*perAttempt).Seconds()) + 30
}

// Resources are the probe container's resources: the override, or small defaults.
func Resources(override *corev1.ResourceRequirements) corev1.ResourceRequirements {
	if override != nil {
		return *override
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("16Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("200m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		},
	}
}
