package probes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Labels and annotations netconform puts on probe pods.
const (
	LabelTestUID   = "netconform.io/test-uid"
	LabelRun       = "netconform.io/run"
	AnnotationTest = "netconform.io/test"
	// ReadinessGate keeps probe pods out of every Service's endpoints: they carry the
	// source's labels, so a Service selecting the source would otherwise send them traffic.
	ReadinessGate corev1.PodConditionType = "netconform.io/never-ready"

	// ContainerName is the probe container's name.
	ContainerName = "probe"
	// ProbeUID runs probes as a non-root user.
	ProbeUID = 65532
	// probeBackoff is the pause between attempts, mirrored by the probe's default.
	probeBackoff = 200 * time.Millisecond
)

// PodSettings are the manager-wide inputs of a probe pod.
type PodSettings struct {
	// Image is the probe image unless the test overrides it.
	Image string
}

// ProbePod renders the pod for one PodPlan of a run.
func ProbePod(test *v1alpha1.ReachabilityTest, runID string, p PodPlan, s PodSettings) *corev1.Pod {
	spec := test.Spec
	override := spec.ProbePod
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
	labels[LabelTestUID] = string(test.UID)
	labels[LabelRun] = runID
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        PodName(test.Name, runID, p),
			Namespace:   p.Identity.Namespace,
			Labels:      labels,
			Annotations: map[string]string{AnnotationTest: test.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         v1alpha1.GroupVersion.String(),
				Kind:               "ReachabilityTest",
				Name:               test.Name,
				UID:                test.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptr.To(deadlineSeconds(spec)),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			ServiceAccountName:            p.Identity.ServiceAccount,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			NodeSelector:                  override.NodeSelector,
			Tolerations:                   override.Tolerations,
			PriorityClassName:             override.PriorityClassName,
			ReadinessGates:                []corev1.PodReadinessGate{{ConditionType: ReadinessGate}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](ProbeUID),
				RunAsGroup:     ptr.To[int64](ProbeUID),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:                     ContainerName,
				Image:                    image,
				ImagePullPolicy:          corev1.PullIfNotPresent,
				Command:                  []string{"/netconform", "probe"},
				Args:                     ProbeArgs(spec, p.Checks),
				Resources:                resources(override.Resources),
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					RunAsNonRoot:             ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

// ProbeArgs are the probe's flags; the last one carries the checks.
func ProbeArgs(spec v1alpha1.ReachabilityTestSpec, checks []Check) []string {
	return []string{
		"--timeout=" + (time.Duration(timeoutSeconds(spec)) * time.Second).String(),
		"--attempts=" + strconv.Itoa(int(attempts(spec))),
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

// PodName is deterministic so that a restarted manager finds, rather than duplicates,
// the pods of a run.
func PodName(testName, runID string, p PodPlan) string {
	sum := sha256.Sum256([]byte(testName + "\x00" + runID + "\x00" + p.Identity.Key() + "\x00" + strconv.Itoa(p.Index)))
	prefix := strings.TrimRight(truncate(testName, 40), "-.")
	return prefix + "-probe-" + hex.EncodeToString(sum[:5])
}

func timeoutSeconds(spec v1alpha1.ReachabilityTestSpec) int32 {
	return max(spec.ProbeTimeoutSeconds, 1)
}

func attempts(spec v1alpha1.ReachabilityTestSpec) int32 {
	return max(spec.Attempts, 1)
}

// deadlineSeconds bounds a probe pod's life: every attempt of a name look-up and a
// connection, the pauses between attempts, and time to start.
func deadlineSeconds(spec v1alpha1.ReachabilityTestSpec) int64 {
	perAttempt := 2*time.Duration(timeoutSeconds(spec))*time.Second + probeBackoff
	return int64((time.Duration(attempts(spec)) * perAttempt).Seconds()) + 30
}

func resources(override *corev1.ResourceRequirements) corev1.ResourceRequirements {
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
