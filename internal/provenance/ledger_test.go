package provenance

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/netconform/netconform/probes"
)

func probePod(uid types.UID, created time.Time) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		UID: uid, Name: "p", Namespace: "shop", CreationTimestamp: metav1.NewTime(created),
		Labels:      map[string]string{probes.LabelRun: "w1", probes.TestLabel("t1"): "g1-a"},
		Annotations: map[string]string{probes.AnnotationMembers: `[{"test":"a","uid":"t1","run":"g1-a"}]`},
	}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: probes.ContainerName, Image: "netconform:1"}}}}
}

func TestLedger(t *testing.T) {
	start := time.Date(2026, 12, 7, 8, 0, 0, 500e6, time.UTC)
	l := New(func() time.Time { return start })
	recognised := 0
	recognise := func(*corev1.Pod) error { recognised++; return nil }
	refuse := func(*corev1.Pod) error { recognised++; return errors.New("image differs") }

	older := probePod("old", start.Add(-time.Minute))
	if err := l.Ours(older, recognise); err != nil || recognised != 1 {
		t.Fatalf("an older pod the manager renders: %v after %d recognitions", err, recognised)
	}
	if err := l.Ours(older, refuse); err != nil || recognised != 1 {
		t.Errorf("an older pod was recognised again (%d) or changed verdict (%v): its spec cannot change", recognised, err)
	}
	relabelled := older.DeepCopy()
	relabelled.Labels["app"] = "payments"
	if err := l.Ours(relabelled, refuse); err == nil || recognised != 2 {
		t.Errorf("an older pod whose labels changed kept its verdict: %v after %d recognitions", err, recognised)
	}

	made := probePod("made", start.Add(time.Second))
	l.Creating(made)
	if err := l.Ours(made, recognise); !errors.Is(err, ErrNotYet) {
		t.Errorf("a pod seen before its creation returned: %v, want ErrNotYet", err)
	}
	l.Made(made)
	if err := l.Ours(made, refuse); err != nil || recognised != 2 {
		t.Errorf("a pod this process made: %v, recognised %d times", err, recognised)
	}
	moved := made.DeepCopy()
	moved.Annotations[probes.AnnotationMembers] = `[{"test":"b","uid":"t2","run":"g1-b"}]`
	if err := l.Ours(moved, recognise); !errors.Is(err, ErrChanged) {
		t.Errorf("a made pod whose members changed: %v, want ErrChanged", err)
	}
	reimaged := made.DeepCopy()
	reimaged.Spec.Containers[0].Image = "tenant.example/forger:1"
	if err := l.Ours(reimaged, recognise); !errors.Is(err, ErrChanged) {
		t.Errorf("a made pod whose image changed in place: %v, want ErrChanged", err)
	}
	repinned := made.DeepCopy()
	repinned.Spec.Affinity = probes.PinnedTo("another-node")
	if err := l.Ours(repinned, recognise); !errors.Is(err, ErrChanged) {
		t.Errorf("a made pod pinned to another node: %v, want ErrChanged", err)
	}
	reselected := made.DeepCopy()
	reselected.Spec.NodeSelector = map[string]string{"pool": "b"}
	if err := l.Ours(reselected, recognise); !errors.Is(err, ErrChanged) {
		t.Errorf("a made pod with another node selector: %v, want ErrChanged", err)
	}
	bound := made.DeepCopy()
	bound.Spec.NodeName = "node-1" // the scheduler binds every pod after its creation
	if err := l.Ours(bound, recognise); err != nil {
		t.Errorf("a made pod the scheduler bound: %v, want it still the manager's", err)
	}
	debugged := made.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox"}}}
	if err := l.Ours(debugged, recognise); !errors.Is(err, ErrChanged) {
		t.Errorf("a made pod with an ephemeral container: %v, want ErrChanged", err)
	}

	// A pod whose creation failed (it already existed: someone took the name first) is
	// not the manager's.
	taken := probePod("taken", start.Add(time.Second))
	l.Creating(taken)
	l.Failed(taken)
	if err := l.Ours(taken, recognise); !errors.Is(err, ErrNotMade) {
		t.Errorf("a pod whose name the manager failed to create: %v, want ErrNotMade", err)
	}
	// A perfect imitation created after the start is still not the manager's.
	forged := probePod("forged", start.Add(time.Second))
	if err := l.Ours(forged, recognise); !errors.Is(err, ErrNotMade) || recognised != 2 {
		t.Errorf("a pod created after the start by someone else: %v (recognised %d), want ErrNotMade", err, recognised)
	}
	// Creation times are kept to the second: the starting second counts as older.
	sameSecond := probePod("same-second", start.Truncate(time.Second))
	if err := l.Ours(sameSecond, recognise); err != nil || recognised != 3 {
		t.Errorf("a pod stamped with the starting second: %v, recognised %d", err, recognised)
	}

	if !l.Note("forged") || l.Note("forged") {
		t.Error("a foreign pod must be noted once")
	}
	for _, uid := range []types.UID{"old", "made", "forged", "same-second", "taken"} {
		l.Forget(uid)
	}
	if n := l.Len(); n != 0 {
		t.Errorf("the ledger holds %d records after every pod went", n)
	}
	// The creation of a pod deleted at once may return after its deletion was seen.
	l.Made(made)
	if n := l.Len(); n != 0 {
		t.Errorf("a pod forgotten before its creation returned was recorded as made")
	}
}
