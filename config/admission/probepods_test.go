package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/probes"
)

// TestOnlyNetconformCreatesProbePods: a tenant who may create pods cannot create one
// that looks like a probe pod; the manager, the gate and an administrator can.
func TestOnlyNetconformCreatesProbePods(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	run := map[string]string{probes.LabelRun: "w1", "app": "client"}
	members := map[string]string{probes.AnnotationMembers: "[]"}
	cases := []struct {
		name    string
		user    client.Client
		pod     *corev1.Pod
		phrases []string
	}{
		{"a tenant, a plain pod", as("alice"), pod("a", "plain", map[string]string{"app": "client"}, nil), nil},
		{"a tenant, a netconform.io/ label", as("alice"), pod("a", "forged", run, nil),
			[]string{"alice may not create pod forged with netconform.io/ labels or annotations", "remove them"}},
		{"a tenant, a netconform.io/ annotation", as("alice"), pod("a", "forged", nil, members), []string{"netconform.io/"}},
		{"a tenant in a group, a test label", as("alice", "developers"), pod("a", "forged", map[string]string{"netconform.io/test-x": "r"}, nil), []string{"alice may not"}},
		{"bob, who may create pods anywhere", as("bob"), pod("b", "forged", run, members), []string{"bob may not"}},
		{"the manager", as(managerSA, "system:serviceaccounts"), pod("a", "probe", run, members), nil},
		{"the gate", as(gateSA, "system:serviceaccounts"), pod("c", "probe", run, members), nil},
		{"an administrator", admin, pod("b", "probe", run, members), nil},
	}
	for _, c := range cases {
		err := c.user.Create(ctx, c.pod, client.DryRunAll)
		if len(c.phrases) == 0 {
			wantAdmitted(t, c.name, err)
		} else {
			wantRejected(t, c.name, err, c.phrases...)
		}
	}
}

// TestProbePodMarksCannotChange: a tenant may update pods, and the garbage collector
// remove owner references, but netconform.io/ labels and annotations can be neither
// added, changed nor removed by them; status updates are untouched.
func TestProbePodMarksCannotChange(t *testing.T) {
	requireAPIServer(t)
	ctx := context.Background()
	manager := as(managerSA, "system:serviceaccounts")
	probe := pod("a", "marks-probe", map[string]string{probes.LabelRun: "w1", "app": "client"}, map[string]string{probes.AnnotationMembers: "[]"})
	probe.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "0c1d"}}
	plain := pod("a", "marks-plain", map[string]string{"app": "client"}, nil)
	for _, p := range []*corev1.Pod{probe, plain} {
		if err := manager.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Delete(context.Background(), p) })
	}
	alice := as("alice")
	cases := []struct {
		name    string
		pod     *corev1.Pod
		change  func(*corev1.Pod)
		phrases []string
	}{
		{"adding a label to a plain pod", plain, func(p *corev1.Pod) { p.Labels[probes.LabelRun] = "w1" },
			[]string{"alice may not add, change or remove the netconform.io/ labels or annotations of pod marks-plain"}},
		{"adding an annotation to a plain pod", plain, func(p *corev1.Pod) { p.Annotations = map[string]string{probes.AnnotationMembers: "[]"} }, []string{"marks-plain"}},
		{"changing a probe pod's label", probe, func(p *corev1.Pod) { p.Labels[probes.LabelRun] = "w2" }, []string{"marks-probe"}},
		{"removing a probe pod's label", probe, func(p *corev1.Pod) { delete(p.Labels, probes.LabelRun) }, []string{"marks-probe"}},
		{"changing a probe pod's annotation", probe, func(p *corev1.Pod) { p.Annotations[probes.AnnotationMembers] = `[{"test":"x"}]` }, []string{"marks-probe"}},
		{"removing a probe pod's annotation", probe, func(p *corev1.Pod) { delete(p.Annotations, probes.AnnotationMembers) }, []string{"marks-probe"}},
		{"changing another label of a probe pod", probe, func(p *corev1.Pod) { p.Labels["app"] = "server" }, nil},
		{"removing a probe pod's owner references", probe, func(p *corev1.Pod) { p.OwnerReferences = nil }, nil},
		{"changing a plain pod's labels", plain, func(p *corev1.Pod) { p.Labels["tier"] = "web" }, nil},
		{"changing a probe pod's image", probe, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "tenant.example/forger:1" },
			[]string{"alice may not change the spec of probe pod marks-probe", "leave it as it is"}},
		{"changing a probe pod's deadline", probe, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(5)) }, []string{"spec of probe pod marks-probe"}},
		{"changing a plain pod's image", plain, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "app:2" }, nil},
	}
	for _, c := range cases {
		latest := &corev1.Pod{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(c.pod), latest); err != nil {
			t.Fatal(err)
		}
		c.change(latest)
		err := alice.Update(ctx, latest, client.DryRunAll)
		if len(c.phrases) == 0 {
			wantAdmitted(t, c.name, err)
		} else {
			wantRejected(t, c.name, err, c.phrases...)
		}
	}
	latest := &corev1.Pod{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(probe), latest); err != nil {
		t.Fatal(err)
	}
	debug := latest.DeepCopy()
	debug.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "busybox", TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent}}}
	wantRejected(t, "a tenant adding an ephemeral container to a probe pod",
		alice.SubResource("ephemeralcontainers").Update(ctx, debug, client.DryRunAll), "spec of probe pod marks-probe")
	latest.Status.Phase = corev1.PodSucceeded
	wantAdmitted(t, "a tenant writing a probe pod's status", alice.Status().Update(ctx, latest, client.DryRunAll))
	latest.Labels[probes.LabelRun] = "w9"
	wantAdmitted(t, "the manager changing a probe pod's label", manager.Update(ctx, latest, client.DryRunAll))
}
