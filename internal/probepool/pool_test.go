package probepool

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

func unitPool(capacity, perPod int, c *unitClock) *Pool {
	w := New(nil, Options{MaxChecksPerPod: perPod, MaxConcurrentPods: capacity, Window: 100 * time.Millisecond})
	w.limiter.now = c.now
	w.now = c.now
	return w
}

func unitCheck(edge, host string, port int32, deny bool) probes.Check {
	return probes.Check{Edge: edge, Kind: probes.KindTCP, Host: host, Port: port, Deny: deny}
}

func unitMember(i int) probes.Member {
	return probes.Member{Test: fmt.Sprintf("t%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)), Run: "g1-a"}
}

func nothingVisible(types.NamespacedName) bool { return false }

// podMembers reads back, per pod, the member and edge of each check it carries.
func podMembers(t *testing.T, pods []*wavePod) [][]string {
	t.Helper()
	var out [][]string
	for _, p := range pods {
		members, err := probes.MembersOf(p.pod)
		if err != nil {
			t.Fatal(err)
		}
		checks, err := probes.ChecksOf(p.pod)
		if err != nil {
			t.Fatal(err)
		}
		var tests []string
		for _, c := range checks {
			tests = append(tests, members[c.Member].Test+"/"+c.Edge)
		}
		out = append(out, tests)
	}
	return out
}

func TestPoolMergeRunsOfOneIdentityIntoFewPods(t *testing.T) {
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	w := unitPool(0, 3, clock)
	front := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "front"}}
	back := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "back"}}
	spec := v1alpha1.ReachabilityTestSpec{}
	for i := range 2 {
		m := unitMember(i)
		w.Track(m)
		checks := []probes.Check{unitCheck("a", fmt.Sprintf("10.0.%d.1", i), 80, false), unitCheck("b", fmt.Sprintf("10.0.%d.2", i), 80, false)}
		if !w.Need(m, spec, front, checks, nothingVisible) {
			t.Fatal("a run with missing checks does not wait")
		}
		if !w.Need(m, spec, front, checks, nothingVisible) {
			t.Fatal("a run asking again does not wait")
		}
	}
	w.Need(unitMember(0), spec, back, []probes.Check{unitCheck("c", "10.0.0.3", 80, false)}, nothingVisible)

	if pods := w.take(nil, 0); len(pods) != 0 {
		t.Fatalf("%d pods before the window passed", len(pods))
	}
	clock.advance(100 * time.Millisecond)
	var pods []*wavePod
	for batch := w.take(nil, 0); len(batch) > 0; batch = w.take(nil, 0) {
		pods = append(pods, batch...)
	}
	want := [][]string{{"t0/a", "t0/b", "t1/a"}, {"t1/b"}, {"t0/c"}}
	if got := podMembers(t, pods); !reflect.DeepEqual(got, want) {
		t.Errorf("pods carry %v, want %v: the requests asked twice, or not merged per identity", got, want)
	}
	if members := pods[1].members; len(members) != 1 || members[0] != unitMember(1) {
		t.Errorf("the second pod lists members %v, want only t1, whose checks it holds", members)
	}
	if names := []string{pods[0].pod.Name, pods[1].pod.Name}; names[0] == names[1] {
		t.Errorf("two pods of a wave share the name %s", names[0])
	}
}

func TestPoolMakeASharedConnectionOnce(t *testing.T) {
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	w := unitPool(0, 2, clock)
	front := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "front"}}
	for i := range 3 {
		w.Track(unitMember(i))
		w.Need(unitMember(i), v1alpha1.ReachabilityTestSpec{}, front, []probes.Check{
			unitCheck("api", "10.0.0.1", 80, false),
			unitCheck("db", "10.0.0.2", 5432, true),
			unitCheck("db-allowed", "10.0.0.2", 5432, false), // expects otherwise: retried otherwise
		}, nothingVisible)
	}
	clock.advance(100 * time.Millisecond)
	var pods []*wavePod
	for batch := w.take(nil, 0); len(batch) > 0; batch = w.take(nil, 0) {
		pods = append(pods, batch...)
	}
	want := [][]string{
		{"t0/api", "t0/db", "t1/api", "t1/db", "t2/api", "t2/db"},
		{"t0/db-allowed", "t1/db-allowed", "t2/db-allowed"},
	}
	if got := podMembers(t, pods); !reflect.DeepEqual(got, want) {
		t.Fatalf("pods carry %v, want %v: two connections a pod", got, want)
	}
	checks, err := probes.ChecksOf(pods[0].pod)
	if err != nil {
		t.Fatal(err)
	}
	if made, results := probes.Made(checks), probes.ResultIndexes(checks); len(made) != 2 || !reflect.DeepEqual(results, []int{0, 1, 0, 1, 0, 1}) {
		t.Errorf("the first pod makes %d connections, results %v; want 2, each answering three runs", len(made), results)
	}
	if own := checks[4]; own.Member != 2 || own.Edge != "api" || own.Same != 1 {
		t.Errorf("t2's first check is %+v, want its api check answered by the pod's first connection", own)
	}
}

func TestPoolHoldAGroupUnderTheCapAndLetRunsJoin(t *testing.T) {
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	w := unitPool(1, 100, clock)
	front := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "front"}}
	ask := func(i int) {
		w.Track(unitMember(i))
		w.Need(unitMember(i), v1alpha1.ReachabilityTestSpec{}, front, []probes.Check{unitCheck("a", "10.0.0.1", 80, false)}, nothingVisible)
	}
	ask(0)
	clock.advance(100 * time.Millisecond)
	if pods := w.take(nil, 1); len(pods) != 0 {
		t.Fatalf("%d pods created while the cap is full", len(pods))
	}
	ask(1) // joins the group the cap holds back
	w.Forget(unitMember(0))
	clock.advance(100 * time.Millisecond)
	pods := w.take(nil, 0)
	if got, want := podMembers(t, pods), [][]string{{"t1/a"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("pods carry %v, want %v: a forgotten run's checks are left out", got, want)
	}
}

func TestPoolGatherNoLongerThanTheirBound(t *testing.T) {
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	w := unitPool(0, 100, clock)
	front := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "front"}}
	for i := 0; ; i++ {
		w.Track(unitMember(i))
		w.Need(unitMember(i), v1alpha1.ReachabilityTestSpec{}, front, []probes.Check{unitCheck("a", "10.0.0.1", 80, false)}, nothingVisible)
		clock.advance(50 * time.Millisecond) // runs keep joining within the window
		if pods := w.take(nil, 0); len(pods) > 0 {
			if waited := time.Duration(i+1) * 50 * time.Millisecond; waited != maxWaveGather {
				t.Errorf("the wave closed after %s, want %s", waited, maxWaveGather)
			}
			return
		}
	}
}

func TestPoolKeepEachPodsChecksArgumentUnderTheKernelsLimit(t *testing.T) {
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	w := unitPool(0, probes.MaxChecksPerPod, clock)
	front := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "front"}}
	host := strings.Repeat("a", 60) + ".shop.svc.cluster.local."
	for i := range 40 { // 40 runs of 100 edges, all towards one connection
		var checks []probes.Check
		for e := range 100 {
			checks = append(checks, unitCheck(fmt.Sprintf("edge-%03d-%s", e, strings.Repeat("x", 40)), host, 443, false))
		}
		w.Track(unitMember(i))
		w.Need(unitMember(i), v1alpha1.ReachabilityTestSpec{}, front, checks, nothingVisible)
	}
	clock.advance(time.Second)
	var pods []*wavePod
	for batch := w.take(nil, 0); len(batch) > 0; batch = w.take(nil, 0) {
		pods = append(pods, batch...)
	}
	listed := 0
	for _, p := range pods {
		args := p.pod.Spec.Containers[0].Args
		if n := len(args[len(args)-1]); n > 128<<10 {
			t.Errorf("pod %s carries a --checks argument of %d bytes, more than the kernel takes", p.pod.Name, n)
		}
		listed += len(p.checks)
	}
	if listed != 4000 || len(pods) < 2 {
		t.Errorf("%d pods list %d checks, want 4000 checks over more than one pod", len(pods), listed)
	}
}

func TestPoolForgetTestReturnsItsRuns(t *testing.T) {
	clock := &unitClock{t: unitNow}
	w := unitPool(0, 100, clock)
	a, b := unitMember(0), unitMember(1)
	second := a
	second.Run = "g2-b"
	for _, m := range []probes.Member{a, second, b} {
		w.Track(m)
	}
	gone := w.ForgetTest(a.Test)
	if len(gone) != 2 || w.Active(a) || w.Active(second) || !w.Active(b) {
		t.Errorf("forgetting %s returned %v; active: a %v, its second run %v, b %v; want both of a's runs returned and dropped, b kept",
			a.Test, gone, w.Active(a), w.Active(second), w.Active(b))
	}
}

func TestPoolAskAgainAtOnceForAPodLost(t *testing.T) {
	clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	w := unitPool(0, 10, clock)
	m := unitMember(0)
	id := probes.Identity{Namespace: "shop", Labels: map[string]string{"app": "front"}}
	checks := []probes.Check{unitCheck("a", "10.0.0.1", 80, false)}
	w.Track(m)
	w.Need(m, v1alpha1.ReachabilityTestSpec{}, id, checks, nothingVisible)
	clock.advance(100 * time.Millisecond)
	pods := w.take(nil, 0)
	if len(pods) != 1 {
		t.Fatalf("%d pods, want 1", len(pods))
	}
	w.created(pods[0])
	key := types.NamespacedName{Namespace: pods[0].pod.Namespace, Name: pods[0].pod.Name}
	visible := func(n types.NamespacedName) bool { return n == key }

	// The pod is still in the cache, being deleted: only the run knows it will never report.
	w.Need(m, v1alpha1.ReachabilityTestSpec{}, id, checks, visible)
	if len(w.open) != 0 {
		t.Fatal("the pool asked again for checks a visible pod carries")
	}
	w.Lost(m, key)
	if !w.Need(m, v1alpha1.ReachabilityTestSpec{}, id, checks, visible) || len(w.open) != 1 {
		t.Fatalf("after Lost the run does not ask again at once: %d groups open", len(w.open))
	}
}

// A namespace with many pods waiting (one test's wave of many pods, or many tests)
// delays another namespace's first pod by one freed slot at most.
func TestPoolLetNoNamespaceStarveAnotherAtTheCap(t *testing.T) {
	for _, shape := range []struct {
		name         string
		tests, hosts int
	}{{"one test of six pods", 1, 6}, {"six tests", 6, 1}} {
		t.Run(shape.name, func(t *testing.T) {
			clock := &unitClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
			w := unitPool(2, 1, clock)
			for i := range shape.tests {
				m := unitMember(i)
				id := probes.Identity{Namespace: "tenant-a", Labels: map[string]string{"app": fmt.Sprintf("a%d", i)}}
				var checks []probes.Check
				for h := range shape.hosts {
					checks = append(checks, unitCheck("a", fmt.Sprintf("10.0.0.%d", h+1), 80, false))
				}
				w.Track(m)
				w.Need(m, v1alpha1.ReachabilityTestSpec{}, id, checks, nothingVisible)
			}
			clock.advance(100 * time.Millisecond)
			seen := map[types.NamespacedName]bool{}
			take := func(running int) []*wavePod {
				pods := w.take(seen, running)
				for _, p := range pods {
					seen[types.NamespacedName{Namespace: p.pod.Namespace, Name: p.pod.Name}] = true
				}
				return pods
			}
			for range 4 { // however often the pool looks, the cap holds it to two
				take(len(seen))
			}
			if len(seen) != 2 {
				t.Fatalf("took %d pods, want tenant-a's first two", len(seen))
			}
			other := unitMember(100)
			w.Track(other)
			w.Need(other, v1alpha1.ReachabilityTestSpec{}, probes.Identity{Namespace: "tenant-b", Labels: map[string]string{"app": "b"}},
				[]probes.Check{unitCheck("b", "10.0.1.1", 80, false)}, nothingVisible)
			clock.advance(100 * time.Millisecond)
			if pods := take(2); len(pods) != 0 {
				t.Fatalf("took %d pods while the cap is full", len(pods))
			}
			var order []string
			for range 3 { // a slot comes free each time
				pods := take(1)
				if len(pods) != 1 {
					t.Fatalf("took %d pods for one free slot", len(pods))
				}
				order = append(order, pods[0].pod.Namespace)
			}
			if want := []string{"tenant-b", "tenant-a", "tenant-a"}; !reflect.DeepEqual(order, want) {
				t.Errorf("freed slots went to %v, want %v: tenant-b's first pod waits behind tenant-a's", order, want)
			}
		})
	}
}
