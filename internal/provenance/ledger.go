// Package provenance tells the probe pods a manager made from pods made to look like
// them.
//
// A pod that this process created is recorded by the UID the API server gave it, with
// the labels, members and owners it was created with. A pod older than this process
// (left by a manager that restarted, or lost its lease) cannot be in its records: it is
// recognised by rendering it again from its members' tests and the manager's settings
// and comparing (probes.Unrendered), once per pod. Any other pod is foreign, however
// well it imitates a probe pod: it was created after this process started and not by
// it. Labels, annotations and owners can be changed after creation, so they are
// compared on every look.
//
// The records are kept per pod and dropped when the pod goes (Forget).
package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/netconform/netconform/probes"
)

// ErrNotMade is why a pod created after this process started, and not by it, is foreign.
var ErrNotMade = errors.New("it was created after the manager started, and not by the manager")

// ErrNotYet is why a pod the manager is creating is not trusted yet: the cache may show
// it before the API server's answer to its creation arrives. It is no sign of a forgery.
var ErrNotYet = errors.New("the manager is creating it and has not heard back yet")

// ErrChanged is why a pod the manager made is no longer trusted.
var ErrChanged = errors.New("its labels, members or owners changed after the manager made it")

// Ledger records the probe pods the manager made, and what it found of older ones.
type Ledger struct {
	now func() time.Time

	mu sync.Mutex
	// started is when the ledger was first consulted: when the manager began to act.
	started time.Time
	// made holds the pods this process created, by UID, with their fingerprint.
	made map[types.UID]string
	// found holds the verdict on each older pod, for the fingerprint it was found with.
	found map[types.UID]verdict
	// noted holds the foreign pods already reported.
	noted map[types.UID]bool
	// creating holds the pods being created, by namespace and name.
	creating map[types.NamespacedName]bool
	// gone holds, for tombstoneFor, the pods forgotten: the creation of a pod deleted
	// at once may return after its deletion was seen.
	gone map[types.UID]time.Time
}

// tombstoneFor is how long a forgotten pod is not recorded as made.
const tombstoneFor = time.Minute

type verdict struct {
	fingerprint string
	err         error
}

// New returns an empty ledger; now is the clock, time.Now when nil.
func New(now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{now: now, made: map[types.UID]string{}, found: map[types.UID]verdict{}, noted: map[types.UID]bool{}, gone: map[types.UID]time.Time{}, creating: map[types.NamespacedName]bool{}}
}

// Creating notes a pod about to be created; Made or Failed must follow.
func (l *Ledger) Creating(pod *corev1.Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creating[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}] = true
}

// Failed notes that a pod Creating announced was not created.
func (l *Ledger) Failed(pod *corev1.Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.creating, types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
}

// Made records a pod this process has just created, as the API server returned it.
func (l *Ledger) Made(pod *corev1.Pod) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.creating, types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
	if pod.UID == "" {
		return
	}
	if _, ok := l.gone[pod.UID]; ok {
		return
	}
	l.made[pod.UID] = fingerprint(pod)
}

// Ours says why a pod is not one the manager made, or nil when it is. recognise
// compares an older pod with what the manager renders for it.
func (l *Ledger) Ours(pod *corev1.Pod, recognise func(*corev1.Pod) error) error {
	fp := fingerprint(pod)
	l.mu.Lock()
	if l.started.IsZero() {
		l.started = l.now()
	}
	if made, ok := l.made[pod.UID]; ok {
		l.mu.Unlock()
		if made != fp {
			return ErrChanged
		}
		return nil
	}
	// Creation times are kept to the second: a pod stamped with the starting second may
	// be older than this process.
	if pod.CreationTimestamp.After(l.started) {
		creating := l.creating[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}]
		l.mu.Unlock()
		if creating {
			return ErrNotYet
		}
		return ErrNotMade
	}
	if v, ok := l.found[pod.UID]; ok && v.fingerprint == fp {
		l.mu.Unlock()
		return v.err
	}
	l.mu.Unlock()
	err := recognise(pod)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.found[pod.UID] = verdict{fingerprint: fp, err: err}
	return err
}

// IsMade reports whether this process created the pod.
func (l *Ledger) IsMade(uid types.UID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.made[uid]
	return ok
}

// Note reports whether a foreign pod is new to the ledger, and remembers it.
func (l *Ledger) Note(uid types.UID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.noted[uid] {
		return false
	}
	l.noted[uid] = true
	return true
}

// Forget drops what the ledger holds of a pod that is gone.
func (l *Ledger) Forget(uid types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.made, uid)
	delete(l.found, uid)
	delete(l.noted, uid)
	now := l.now()
	for old, at := range l.gone {
		if now.Sub(at) > tombstoneFor {
			delete(l.gone, old)
		}
	}
	l.gone[uid] = now
}

// Len is how many records the ledger holds of pods, for tests that show it drops
// them; the tombstones of pods gone last no longer than tombstoneFor.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.made) + len(l.found) + len(l.noted) + len(l.creating)
}

// fingerprint sums what of a pod can change after its creation and decides whose
// probe pod it is, where and what runs in it: its labels, its members, its owners, the
// node it is pinned to and its node selector, and its containers' images (an image changed in place restarts the container with the new
// one) and ephemeral containers.
func fingerprint(pod *corev1.Pod) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(pod.Labels)) {
		b.WriteString(k + "=" + pod.Labels[k] + "\x00")
	}
	b.WriteString(pod.Annotations[probes.AnnotationMembers] + "\x00")
	for _, o := range pod.OwnerReferences {
		b.WriteString(o.Kind + "/" + o.Name + "/" + string(o.UID) + "\x00")
	}
	// The node a pod is pinned to decides where its checks are made from: a pod moved
	// to another node answers for the wrong one.
	b.WriteString("node " + probes.PinnedNode(pod) + "\x00")
	for _, k := range slices.Sorted(maps.Keys(pod.Spec.NodeSelector)) {
		b.WriteString("nodeSelector " + k + "=" + pod.Spec.NodeSelector[k] + "\x00")
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		b.WriteString("image " + c.Name + "=" + c.Image + "\x00")
	}
	for _, c := range pod.Spec.EphemeralContainers {
		b.WriteString("ephemeral " + c.Name + "=" + c.Image + "\x00")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
