package probes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// storedProbePod is a shared probe pod as the API server stores it: with the defaults
// it fills in.
func storedProbePod(spec v1alpha1.ReachabilityTestSpec, s PodSettings, id Identity) *corev1.Pod {
	plan := fixturePlan(id)
	plan.Index = 3
	plan.Checks[1].Member = 1
	members := []Member{{Test: "shop-segmentation", UID: testUID, Run: runID}, {Test: "shop-db", UID: "0b5e", Run: "g2-t1"}}
	pod := RenderPod(SharedPod{Wave: "m1x2-7", Members: members, Spec: spec, Plan: plan}, s)
	pod.UID = "pod-uid"
	pod.Annotations["kubectl.kubernetes.io/last-applied"] = "unrelated"
	sp := &pod.Spec
	if sp.ServiceAccountName == "" {
		sp.ServiceAccountName = "default"
	}
	sp.DNSPolicy = corev1.DNSClusterFirst
	sp.SchedulerName = "default-scheduler"
	sp.NodeName = "node-1"
	sp.Tolerations = append(sp.Tolerations,
		corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)})
	c := &sp.Containers[0]
	c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	c.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
	return pod
}

func TestUnrenderedAcceptsWhatTheManagerRendersAsStored(t *testing.T) {
	s := PodSettings{Image: managerImage, Settle: 2e9, MaxSettle: 1e10}
	limitsOnly := &v1alpha1.ProbePodSpec{Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}
	for _, c := range probePodCases() {
		t.Run(c.name, func(t *testing.T) {
			spec := fixtureTest(c.probePod).Spec
			if err := Unrendered(storedProbePod(spec, s, c.identity), spec, s); err != nil {
				t.Errorf("a pod the manager rendered was refused: %v", err)
			}
		})
	}
	spec := fixtureTest(limitsOnly).Spec
	pod := storedProbePod(spec, s, frontendID)
	pod.Spec.Containers[0].Resources.Requests = pod.Spec.Containers[0].Resources.Limits.DeepCopy() // the API server's default
	if err := Unrendered(pod, spec, s); err != nil {
		t.Errorf("requests defaulted from limits were refused: %v", err)
	}
}

// Every field that decides what the probe does, or as whom it does it, must be the
// manager's: a pod that differs in one is not a probe pod of the manager.
func TestUnrenderedNamesTheFieldAForgedPodChanged(t *testing.T) {
	s := PodSettings{Image: managerImage, Settle: 2e9, MaxSettle: 1e10}
	spec := fixtureTest(nil).Spec
	forged := map[string]struct {
		path   string
		change func(*corev1.Pod)
	}{
		"image":        {"spec.containers", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "evil.example/probe" }},
		"command":      {"spec.containers", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"/bin/sh", "-c"} }},
		"attempts":     {"spec.containers", func(p *corev1.Pod) { p.Spec.Containers[0].Args[1] = "--attempts=1" }},
		"env":          {"spec.containers", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", Value: "1"}} }},
		"privileged":   {"spec.containers", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr.To(true) }},
		"message path": {"spec.containers", func(p *corev1.Pod) { p.Spec.Containers[0].TerminationMessagePath = "/tmp/forged" }},
		"sidecar": {"spec.containers", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "x", Image: "x"})
		}},
		"init container":  {"spec.initContainers", func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "x", Image: "x"}} }},
		"volume":          {"spec.volumes", func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "v"}} }},
		"service account": {"metadata.name", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "payments" }},
		"token":           {"spec.automountServiceAccountToken", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(true) }},
		"host network":    {"spec.hostNetwork", func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
		"dns policy":      {"spec.dnsPolicy", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }},
		"dns config":      {"spec.dnsConfig", func(p *corev1.Pod) { p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}} }},
		"host aliases": {"spec.hostAliases", func(p *corev1.Pod) {
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "192.0.2.1", Hostnames: []string{"web.shop.svc.cluster.local"}}}
		}},
		"pod security":   {"spec.securityContext", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsUser = ptr.To[int64](0) }},
		"readiness gate": {"spec.readinessGates", func(p *corev1.Pod) { p.Spec.ReadinessGates = nil }},
		"deadline":       {"spec.activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](86400) }},
		"node selector":  {"spec.nodeSelector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a"} }},
		"toleration": {"spec.tolerations", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
		}},
		"extra label": {"metadata.name", func(p *corev1.Pod) { p.Labels["role"] = "admin" }},
		"test label":  {"metadata.labels", func(p *corev1.Pod) { p.Labels[TestLabel("other")] = "g1-x" }},
		"members": {"metadata.labels", func(p *corev1.Pod) {
			p.Annotations[AnnotationMembers] = `[{"test":"shop-segmentation","uid":"` + string(testUID) + `","run":"` + runID + `"}]`
		}},
		"owner": {"metadata.ownerReferences", func(p *corev1.Pod) { p.OwnerReferences[1].UID = "forged" }},
		"index": {"metadata.name", func(p *corev1.Pod) {
			p.Name = PodName("shop-segmentation", "m1x2-7", PodPlan{Identity: frontendID, Index: MaxWavePods})
		}},
		"chosen name":  {"metadata.name", func(p *corev1.Pod) { p.Name = "shop-segmentation-probe-0000000000" }},
		"runtime":      {"spec.runtimeClassName", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr.To("other") }},
		"no checks":    {"--checks", func(p *corev1.Pod) { p.Spec.Containers[0].Args = p.Spec.Containers[0].Args[:4] }},
		"no members":   {"netconform.io/members", func(p *corev1.Pod) { delete(p.Annotations, AnnotationMembers) }},
		"ephemeral":    {"spec.ephemeralContainers", func(p *corev1.Pod) { p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{}} }},
		"host pid":     {"spec.hostNetwork, hostPID and hostIPC", func(p *corev1.Pod) { p.Spec.HostPID = true }},
		"owner kind":   {"metadata.ownerReferences", func(p *corev1.Pod) { p.OwnerReferences[0].Kind = "Deployment" }},
		"service link": {"spec.enableServiceLinks", func(p *corev1.Pod) { p.Spec.EnableServiceLinks = nil }},
	}
	for name, f := range forged {
		t.Run(name, func(t *testing.T) {
			pod := storedProbePod(spec, s, frontendID)
			f.change(pod)
			err := Unrendered(pod, spec, s)
			if err == nil || !strings.Contains(err.Error(), f.path) {
				t.Errorf("error %v, want one naming %s", err, f.path)
			}
		})
	}
}

// A pod rendered for other settings, or another manager's image, is not this manager's.
func TestUnrenderedComparesWithTheTestAndTheManagersSettings(t *testing.T) {
	s := PodSettings{Image: managerImage, Settle: 2e9, MaxSettle: 1e10}
	spec := fixtureTest(nil).Spec
	pod := storedProbePod(spec, s, frontendID)
	other := s
	other.Image = "ghcr.io/netconform/netconform:v0.0.9"
	if err := Unrendered(pod, spec, other); err == nil {
		t.Error("a pod of another image passed for this manager's")
	}
	longer := spec
	longer.ProbeTimeoutSeconds = 9
	if err := Unrendered(pod, longer, s); err == nil {
		t.Error("a pod of another probe timeout passed for this test's")
	}
}
