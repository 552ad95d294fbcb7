package probes

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

const (
	pass         = v1alpha1.VerdictPass
	fail         = v1alpha1.VerdictFail
	inconclusive = v1alpha1.VerdictInconclusive
)

// TestCheckVerdict covers every (expect, observation, listens) combination, as DESIGN.md
// lays them out.
func TestCheckVerdict(t *testing.T) {
	tests := []struct {
		expect v1alpha1.Expectation
		obs    v1alpha1.Observation
		// without and with evidence that the destination listens
		notListening, listening v1alpha1.Verdict
	}{
		{v1alpha1.ExpectAllow, v1alpha1.ObservedConnected, pass, pass},
		{v1alpha1.ExpectAllow, v1alpha1.ObservedRefused, fail, fail},
		{v1alpha1.ExpectAllow, v1alpha1.ObservedTimeout, fail, fail},
		{v1alpha1.ExpectAllow, v1alpha1.ObservedUnreachable, fail, fail},
		{v1alpha1.ExpectAllow, v1alpha1.ObservedDNSFailure, fail, fail},
		{v1alpha1.ExpectAllow, v1alpha1.ObservedError, inconclusive, inconclusive},

		{v1alpha1.ExpectDeny, v1alpha1.ObservedConnected, fail, fail},
		{v1alpha1.ExpectDeny, v1alpha1.ObservedRefused, inconclusive, pass},
		{v1alpha1.ExpectDeny, v1alpha1.ObservedTimeout, inconclusive, pass},
		{v1alpha1.ExpectDeny, v1alpha1.ObservedUnreachable, inconclusive, pass},
		{v1alpha1.ExpectDeny, v1alpha1.ObservedDNSFailure, inconclusive, inconclusive},
		{v1alpha1.ExpectDeny, v1alpha1.ObservedError, inconclusive, inconclusive},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		for _, listens := range []bool{false, true} {
			want := tt.notListening
			if listens {
				want = tt.listening
			}
			name := fmt.Sprintf("%s/%s/listens=%v", tt.expect, tt.obs, listens)
			covered[name] = true
			t.Run(name, func(t *testing.T) {
				if got := CheckVerdict(tt.expect, tt.obs, listens); got != want {
					t.Errorf("CheckVerdict(%s, %s, %v) = %s, want %s", tt.expect, tt.obs, listens, got, want)
				}
			})
		}
	}
	for _, e := range []v1alpha1.Expectation{v1alpha1.ExpectAllow, v1alpha1.ExpectDeny} {
		for _, o := range allObservations {
			for _, l := range []bool{false, true} {
				if name := fmt.Sprintf("%s/%s/listens=%v", e, o, l); !covered[name] {
					t.Errorf("no row for %s", name)
				}
			}
		}
	}
}

func TestDenied(t *testing.T) {
	want := map[v1alpha1.Observation]bool{v1alpha1.ObservedRefused: true, v1alpha1.ObservedTimeout: true, v1alpha1.ObservedUnreachable: true}
	for _, o := range allObservations {
		if got := Denied(o); got != want[o] {
			t.Errorf("Denied(%s) = %v, want %v", o, got, want[o])
		}
	}
}

// listensAt is a Listens that knows the addresses in set and records what it was asked.
type listensAt struct {
	set   map[string]bool
	asked []string
}

func (l *listensAt) fn(c Check, _ Result) (string, bool) {
	l.asked = append(l.asked, c.Address())
	if !l.set[c.Address()] {
		return "", false
	}
	return "listening at " + c.Address(), true
}

func TestJudgeEdge(t *testing.T) {
	denyEdge := v1alpha1.Edge{Name: "fe-db", Expect: v1alpha1.ExpectDeny}
	allowEdge := v1alpha1.Edge{Name: "fe-db", Expect: v1alpha1.ExpectAllow}
	podChecks := func(deny bool) []Check {
		return []Check{
			{Edge: "fe-db", Kind: KindTCP, Host: "10.0.0.1", Port: 5432, Deny: deny},
			{Edge: "fe-db", Kind: KindTCP, Host: "10.0.0.2", Port: 5432, Deny: deny},
			{Edge: "fe-db", Kind: KindTCP, Host: "10.0.0.3", Port: 5432, Deny: deny},
		}
	}
	res := func(o v1alpha1.Observation, target, msg string) Result {
		return Result{Observation: o, Attempts: 3, Latency: 1234 * time.Millisecond, Target: target, Message: msg}
	}
	refused := res(v1alpha1.ObservedRefused, "10.0.0.1:5432", "")
	connected2 := res(v1alpha1.ObservedConnected, "10.0.0.2:5432", "")
	timeout3 := res(v1alpha1.ObservedTimeout, "10.0.0.3:5432", "i/o timeout")

	tests := []struct {
		name     string
		edge     v1alpha1.Edge
		checks   []Check
		results  []Result
		listens  map[string]bool
		want     v1alpha1.EdgeResult
		contains []string
		asked    []string // addresses Listens must be asked about, in order; nil: any
	}{
		{
			name:     "deny edge, every pod denied and listening",
			edge:     denyEdge,
			checks:   podChecks(true),
			results:  []Result{refused, res(v1alpha1.ObservedTimeout, "10.0.0.2:5432", ""), timeout3},
			listens:  map[string]bool{"10.0.0.1:5432": true, "10.0.0.2:5432": true, "10.0.0.3:5432": true},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedRefused, Verdict: pass, Attempts: 3, Target: "10.0.0.1:5432", LatencyMilliseconds: 1234},
			contains: []string{"3 checks (one per ready pod), deciding 1", "Refused 10.0.0.1:5432; the destination listens: listening at 10.0.0.1:5432"},
			asked:    []string{"10.0.0.1:5432", "10.0.0.2:5432", "10.0.0.3:5432"},
		},
		{
			name:     "deny edge, one pod connects: that pod decides",
			edge:     denyEdge,
			checks:   podChecks(true),
			results:  []Result{refused, connected2, timeout3},
			listens:  map[string]bool{"10.0.0.1:5432": true, "10.0.0.3:5432": true},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedConnected, Verdict: fail, Attempts: 3, Target: "10.0.0.2:5432", LatencyMilliseconds: 1234},
			contains: []string{"deciding 2", "Connected 10.0.0.2:5432", "unexpected allow"},
			asked:    []string{"10.0.0.1:5432", "10.0.0.3:5432"},
		},
		{
			name:     "deny edge, a fail outranks an earlier inconclusive",
			edge:     denyEdge,
			checks:   podChecks(true),
			results:  []Result{refused, timeout3, connected2},
			listens:  map[string]bool{},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedConnected, Verdict: fail, Attempts: 3, Target: "10.0.0.2:5432", LatencyMilliseconds: 1234},
			contains: []string{"deciding 3", "unexpected allow"},
		},
		{
			name:     "deny edge, one pod not known to listen: inconclusive",
			edge:     denyEdge,
			checks:   podChecks(true),
			results:  []Result{refused, res(v1alpha1.ObservedRefused, "10.0.0.2:5432", ""), timeout3},
			listens:  map[string]bool{"10.0.0.1:5432": true, "10.0.0.3:5432": true},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedRefused, Verdict: inconclusive, Attempts: 3, Target: "10.0.0.2:5432", LatencyMilliseconds: 1234},
			contains: []string{"deciding 2", "nothing shows that the destination listens"},
		},
		{
			name:     "allow edge, one pod blocked",
			edge:     allowEdge,
			checks:   podChecks(false),
			results:  []Result{res(v1alpha1.ObservedConnected, "10.0.0.1:5432", ""), connected2, timeout3},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedTimeout, Verdict: fail, Attempts: 3, Target: "10.0.0.3:5432", LatencyMilliseconds: 1234},
			contains: []string{"deciding 3", "Timeout 10.0.0.3:5432: i/o timeout", "unexpected deny"},
		},
		{
			name:     "allow edge, every pod connects, Listens never asked",
			edge:     allowEdge,
			checks:   podChecks(false),
			results:  []Result{res(v1alpha1.ObservedConnected, "10.0.0.1:5432", ""), connected2, res(v1alpha1.ObservedConnected, "10.0.0.3:5432", "")},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedConnected, Verdict: pass, Attempts: 3, Target: "10.0.0.1:5432", LatencyMilliseconds: 1234},
			contains: []string{"deciding 1"},
			asked:    []string{},
		},
		{
			name:     "deny edge that connects: Listens not needed",
			edge:     v1alpha1.Edge{Name: "fe-web", Expect: v1alpha1.ExpectDeny},
			checks:   []Check{{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 80, Deny: true}},
			results:  []Result{res(v1alpha1.ObservedConnected, "10.96.0.5:80", "")},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedConnected, Verdict: fail, Attempts: 3, Target: "10.96.0.5:80", LatencyMilliseconds: 1234},
			contains: []string{"Connected 10.96.0.5:80: unexpected allow"},
			asked:    []string{},
		},
		{
			name:     "one check: no per-pod preamble, address used when the probe names no target",
			edge:     v1alpha1.Edge{Name: "fe-web", Expect: v1alpha1.ExpectAllow},
			checks:   []Check{{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 80}},
			results:  []Result{{Observation: v1alpha1.ObservedRefused, Attempts: 3}},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedRefused, Verdict: fail, Attempts: 3},
			contains: []string{"Refused web.shop.svc.cluster.local.:80: unexpected deny"},
		},
		{
			name:     "deny edge whose name does not resolve",
			edge:     v1alpha1.Edge{Name: "fe-web", Expect: v1alpha1.ExpectDeny},
			checks:   []Check{{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 80, Deny: true}},
			results:  []Result{{Observation: v1alpha1.ObservedDNSFailure, Attempts: 1, Target: "10.96.0.10:53", Message: "NXDOMAIN"}},
			listens:  map[string]bool{"web.shop.svc.cluster.local.:80": true},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedDNSFailure, Verdict: inconclusive, Attempts: 1, Target: "10.96.0.10:53"},
			contains: []string{"NXDOMAIN", "the name did not resolve"},
		},
		{
			name:     "the probe could not run",
			edge:     v1alpha1.Edge{Name: "fe-web", Expect: v1alpha1.ExpectDeny},
			checks:   []Check{{Edge: "fe-web", Kind: KindDNS, Host: "example.com", Deny: true}},
			results:  []Result{{Observation: v1alpha1.ObservedError, Message: "resolv.conf lists no name server"}},
			listens:  map[string]bool{"example.com": true},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedError, Verdict: inconclusive},
			contains: []string{"the probe could not run", "resolv.conf lists no name server"},
		},
		{
			name:     "fewer results than checks",
			edge:     denyEdge,
			checks:   podChecks(true),
			results:  []Result{refused, timeout3},
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedError, Verdict: inconclusive},
			contains: []string{"no result"},
			asked:    []string{},
		},
		{
			name:     "no checks at all",
			edge:     denyEdge,
			want:     v1alpha1.EdgeResult{Observed: v1alpha1.ObservedError, Verdict: inconclusive},
			contains: []string{"no result"},
			asked:    []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &listensAt{set: tt.listens, asked: []string{}}
			got := JudgeEdge(tt.edge, tt.checks, tt.results, l.fn)

			want := tt.want
			want.Edge, want.Expected, want.Message = tt.edge.Name, tt.edge.Expect, got.Message
			if !reflect.DeepEqual(got, want) {
				t.Errorf("JudgeEdge\n got %+v\nwant %+v", got, want)
			}
			if got.Message == "" {
				t.Error("empty message")
			}
			for _, s := range tt.contains {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q does not contain %q", got.Message, s)
				}
			}
			for _, s := range []string{"unexpected allow", "unexpected deny"} {
				if strings.Contains(got.Message, s) && !containsAny(tt.contains, s) {
					t.Errorf("message %q says %q", got.Message, s)
				}
			}
			if tt.asked != nil && strings.Join(l.asked, " ") != strings.Join(tt.asked, " ") {
				t.Errorf("Listens asked about %q, want %q", l.asked, tt.asked)
			}
		})
	}
}

// An inconclusive Deny says what would have shown that the destination listens, and how
// to make the edge conclusive, in terms of its kind of destination.
func TestJudgeEdgeSaysHowToMakeADenyConclusive(t *testing.T) {
	pods := v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "z", PodLabels: map[string]string{"pod": "a"}, Port: intstr.FromInt32(81)}}
	svc := v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: "z", Name: "a", Port: intstr.FromInt32(81)}}
	host := v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "db.example.com", Port: 5432}}
	dns := v1alpha1.Destination{DNS: &v1alpha1.DNSDestination{Name: "example.com"}}
	tests := []struct {
		name     string
		to       v1alpha1.Destination
		check    Check
		target   string
		contains []string
		lacks    []string
	}{
		{
			name:   "pods over TCP: a readiness probe, a Service or an Allow edge",
			to:     pods,
			check:  Check{Kind: KindTCP, Host: "10.244.2.5", Port: 81},
			target: "10.244.2.5:81",
			contains: []string{
				"denied, but nothing shows that the destination listens", "no kubelet probe shows the pod serving port 81",
				"give the pod a readiness probe (tcpSocket, httpGet or grpc) on port 81", "a Service with ready endpoints",
				"an Allow edge to 10.244.2.5:81 in this test",
			},
		},
		{
			name:     "a Service over TCP: ready endpoints or an Allow edge",
			to:       svc,
			check:    Check{Kind: KindTCP, Host: "a.z.svc.cluster.local.", Port: 81},
			target:   "10.96.0.7:81",
			contains: []string{"the Service has no ready endpoint for the port", "a readiness probe on the port they serve", "an Allow edge to the same Service port in this test"},
			lacks:    []string{"kubelet"},
		},
		{
			name:     "a host: only an Allow edge",
			to:       host,
			check:    Check{Kind: KindTCP, Host: "db.example.com", Port: 5432},
			target:   "203.0.113.9:5432",
			contains: []string{"no other check of this run connected to it", "add an Allow edge to 203.0.113.9:5432 in this test"},
			lacks:    []string{"readiness", "Service"},
		},
		{
			name:     "pods over UDP: kubelet probes do not speak UDP",
			to:       pods,
			check:    Check{Kind: KindUDP, Host: "10.244.2.5", Port: 53},
			target:   "10.244.2.5:53",
			contains: []string{"kubelet probes do not speak UDP", "only a reply from 10.244.2.5:53 to another check of this run", "add an Allow edge over UDP to the same address and port in this test"},
			lacks:    []string{"readiness probe"},
		},
		{
			name:     "a Service over UDP: the same",
			to:       svc,
			check:    Check{Kind: KindUDP, Host: "a.z.svc.cluster.local.", Port: 53},
			target:   "10.96.0.7:53",
			contains: []string{"kubelet probes do not speak UDP", "or ready endpoints of a Service for that UDP port,", "add an Allow edge over UDP"},
		},
		{
			name:     "a host over UDP: only a reply",
			to:       host,
			check:    Check{Kind: KindUDP, Host: "db.example.com", Port: 5432},
			target:   "203.0.113.9:5432",
			contains: []string{"only a reply from 203.0.113.9:5432 to another check of this run would show it", "add an Allow edge over UDP"},
			lacks:    []string{"endpoints"},
		},
		{
			name:     "a look-up: an answered look-up through the same name server",
			to:       dns,
			check:    Check{Kind: KindDNS, Host: "example.com"},
			target:   "10.96.0.10:53",
			contains: []string{"no other look-up of this run got an answer from 10.96.0.10:53", "add an Allow dns edge"},
		},
		{
			name:     "no target reported: the check's address stands in",
			to:       host,
			check:    Check{Kind: KindTCP, Host: "db.example.com", Port: 5432},
			contains: []string{"add an Allow edge to db.example.com:5432 in this test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edge := v1alpha1.Edge{Name: "e", To: tt.to, Expect: v1alpha1.ExpectDeny}
			c := tt.check
			c.Edge, c.Deny = "e", true
			// Two checks, so the per-pod preamble is in the message too.
			checks := []Check{c, c}
			r := Result{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Target: tt.target, Message: "i/o timeout"}
			got := JudgeEdge(edge, checks, []Result{r, r}, func(Check, Result) (string, bool) { return "", false })
			if got.Verdict != inconclusive {
				t.Fatalf("verdict %s, want %s: %s", got.Verdict, inconclusive, got.Message)
			}
			for _, s := range tt.contains {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q lacks %q", got.Message, s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(got.Message, s) {
					t.Errorf("message %q says %q", got.Message, s)
				}
			}
			if len(got.Message) > 1024 || !strings.HasSuffix(got.Message, "in this test") {
				t.Errorf("message of %d bytes does not end with the next step: it must fit the API's 1024 whole", len(got.Message))
			}
		})
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A Listens that is nil must do no harm when every check connected: the evidence is
// only needed for denied checks.
func TestJudgeEdgeConnectedNeedsNoListens(t *testing.T) {
	checks := []Check{{Edge: "e", Kind: KindTCP, Host: "10.0.0.1", Port: 80}, {Edge: "e", Kind: KindTCP, Host: "10.0.0.2", Port: 80}}
	results := []Result{{Observation: v1alpha1.ObservedConnected, Attempts: 1}, {Observation: v1alpha1.ObservedConnected, Attempts: 1}}
	for _, tt := range []struct {
		expect v1alpha1.Expectation
		want   v1alpha1.Verdict
	}{{v1alpha1.ExpectAllow, pass}, {v1alpha1.ExpectDeny, fail}} {
		if got := JudgeEdge(v1alpha1.Edge{Name: "e", Expect: tt.expect}, checks, results, nil); got.Verdict != tt.want {
			t.Errorf("%s edge, all connected: verdict %s, want %s", tt.expect, got.Verdict, tt.want)
		}
	}
}

func TestJudgeEdgeBoundsMessage(t *testing.T) {
	checks := []Check{{Edge: "e", Kind: KindTCP, Host: "10.0.0.1", Port: 80}}
	results := []Result{{Observation: v1alpha1.ObservedError, Message: strings.Repeat("é", 2000)}}
	got := JudgeEdge(v1alpha1.Edge{Name: "e", Expect: v1alpha1.ExpectAllow}, checks, results, func(Check, Result) (string, bool) { return "", false })
	if len(got.Message) > 1024 || !strings.HasPrefix(got.Message, "the probe could not run") {
		t.Errorf("message of %d bytes: %.60q…; want at most 1024 (the API's limit)", len(got.Message), got.Message)
	}
}

func TestUnprobedEdge(t *testing.T) {
	for _, expect := range []v1alpha1.Expectation{v1alpha1.ExpectAllow, v1alpha1.ExpectDeny} {
		edge := v1alpha1.Edge{Name: "be-api", Expect: expect}
		r := Result{Observation: v1alpha1.ObservedError, Message: "no ready pod in namespace api matches app=api: start the destination or fix to.pods.podLabels"}
		got := UnprobedEdge(edge, r)
		want := v1alpha1.EdgeResult{Edge: "be-api", Expected: expect, Observed: v1alpha1.ObservedError, Verdict: inconclusive, Message: r.Message}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("UnprobedEdge\n got %+v\nwant %+v", got, want)
		}
	}
}
