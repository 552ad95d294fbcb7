package offline

import (
	"net/netip"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/internal/manifest"
)

// template is what a workload's pods look like: the workload's own metadata, its pod
// template, and how many pods it asks for (nil: at least one).
type template struct {
	meta     metav1.ObjectMeta
	pod      corev1.PodTemplateSpec
	replicas *int32
	// podName names the pod: a bare Pod's own name, else kind/name.
	podName string
}

// podSource decodes a workload of one kind into its template.
type podSource func(b *builder, o manifest.Object) (template, bool)

func from[T any](get func(*T) template) podSource {
	return func(b *builder, o manifest.Object) (template, bool) {
		var obj T
		if !b.decode(o, &obj) {
			return template{}, false
		}
		t := get(&obj)
		if t.podName == "" {
			t.podName = strings.ToLower(o.Kind) + "/" + t.meta.Name
		}
		return t, true
	}
}

// workloadKinds are the kinds whose pods the model judges, by "apiVersion kind".
var workloadKinds = map[string]podSource{
	"apps/v1 Deployment": from(func(d *appsv1.Deployment) template {
		return template{meta: d.ObjectMeta, pod: d.Spec.Template, replicas: d.Spec.Replicas}
	}),
	"apps/v1 StatefulSet": from(func(s *appsv1.StatefulSet) template {
		return template{meta: s.ObjectMeta, pod: s.Spec.Template, replicas: s.Spec.Replicas}
	}),
	"apps/v1 ReplicaSet": from(func(r *appsv1.ReplicaSet) template {
		return template{meta: r.ObjectMeta, pod: r.Spec.Template, replicas: r.Spec.Replicas}
	}),
	"apps/v1 DaemonSet": from(func(d *appsv1.DaemonSet) template {
		return template{meta: d.ObjectMeta, pod: d.Spec.Template}
	}),
	"batch/v1 Job": from(func(j *batchv1.Job) template {
		return template{meta: j.ObjectMeta, pod: j.Spec.Template, replicas: j.Spec.Parallelism}
	}),
	"batch/v1 CronJob": from(func(c *batchv1.CronJob) template {
		return template{meta: c.ObjectMeta, pod: c.Spec.JobTemplate.Spec.Template}
	}),
	"v1 Pod": from(func(p *corev1.Pod) template {
		return template{meta: p.ObjectMeta, pod: corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}, podName: p.Name}
	}),
}

// addWorkload adds the one pod that stands for a workload's pods: they share labels,
// service account and ports, so the policies treat them alike. A workload scaled to zero
// has none.
func (b *builder) addWorkload(o manifest.Object, source podSource) {
	t, ok := source(b, o)
	if !ok || (t.replicas != nil && *t.replicas == 0) {
		return
	}
	pod := corev1.Pod{Spec: t.pod.Spec}
	pod.Name, pod.Namespace, pod.Labels = t.podName, namespaceOf(t.meta.Namespace), t.pod.Labels
	b.cluster.Pods = append(b.cluster.Pods, runningPod(pod, b.addrs.pod()))
}

// runningPod is the pod as it runs once ready, at an address.
func runningPod(pod corev1.Pod, ip string) corev1.Pod {
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return pod
}

// addService adds a Service in its namespace, with an address of its own unless the
// manifest gives one (or None, for a headless Service).
func (b *builder) addService(svc corev1.Service) {
	svc.Namespace = namespaceOf(svc.Namespace)
	if svc.Spec.ClusterIP == "" && svc.Spec.Type != corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP = b.addrs.service()
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	b.cluster.Services = append(b.cluster.Services, svc)
}

// Addresses are where the offline pods and Services live: 240.0.0.0/4 is reserved and
// never routed, so no address a test or a policy names is one of theirs by accident.
var (
	PodAddresses     = netip.MustParsePrefix("240.1.0.0/16")
	ServiceAddresses = netip.MustParsePrefix("240.2.0.0/16")
)

// addresses hands out the next pod and Service addresses.
type addresses struct{ nextPod, nextService netip.Addr }

func newAddresses() *addresses {
	return &addresses{nextPod: PodAddresses.Addr(), nextService: ServiceAddresses.Addr()}
}

func (a *addresses) pod() string {
	a.nextPod = a.nextPod.Next()
	return a.nextPod.String()
}

func (a *addresses) service() string {
	a.nextService = a.nextService.Next()
	return a.nextService.String()
}
