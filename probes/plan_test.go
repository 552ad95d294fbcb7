package probes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// fakeResolver answers from maps. Pods are keyed by "namespace/selector" (the selector as
// selectorString renders it), Service ports by "namespace/service/portName".
type fakeResolver struct {
	pods         map[string][]PodTarget
	podErrs      map[string]error
	servicePorts map[string]int32
}

func (f fakeResolver) ReadyPods(_ context.Context, namespace string, labels map[string]string) ([]PodTarget, error) {
	key := namespace + "/" + selectorString(labels)
	if err := f.podErrs[key]; err != nil {
		return nil, err
	}
	return f.pods[key], nil
}

func (f fakeResolver) ServicePortNumber(_ context.Context, namespace, service, name string) (int32, error) {
	if port, ok := f.servicePorts[namespace+"/"+service+"/"+name]; ok {
		return port, nil
	}
	return 0, errors.New("the Service has no port named " + name)
}

// Builders for edges, so that tables read as the YAML a user writes.

func src(namespace, serviceAccount string, labels map[string]string) v1alpha1.Source {
	return v1alpha1.Source{Namespace: namespace, PodLabels: labels, ServiceAccountName: serviceAccount}
}

func toService(namespace, name string, port intstr.IntOrString) v1alpha1.Destination {
	return v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: namespace, Name: name, Port: port}}
}

func toPods(namespace string, labels map[string]string, port intstr.IntOrString) v1alpha1.Destination {
	return v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: namespace, PodLabels: labels, Port: port}}
}

func toHost(host string, port int32) v1alpha1.Destination {
	return v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: host, Port: port}}
}

func toDNS(name string) v1alpha1.Destination {
	return v1alpha1.Destination{DNS: &v1alpha1.DNSDestination{Name: name}}
}

func allow(name string, from v1alpha1.Source, to v1alpha1.Destination) v1alpha1.Edge {
	return v1alpha1.Edge{Name: name, From: from, To: to, Expect: v1alpha1.ExpectAllow}
}

func deny(name string, from v1alpha1.Source, to v1alpha1.Destination) v1alpha1.Edge {
	return v1alpha1.Edge{Name: name, From: from, To: to, Expect: v1alpha1.ExpectDeny}
}

func udp(e v1alpha1.Edge) v1alpha1.Edge {
	e.Protocol = v1alpha1.ProtocolUDP
	return e
}

var (
	frontend   = src("shop", "", map[string]string{"app": "frontend", "tier": "web"})
	backend    = src("shop", "", map[string]string{"app": "backend"})
	frontendID = Identity{Namespace: "shop", Labels: map[string]string{"app": "frontend", "tier": "web"}}
	backendID  = Identity{Namespace: "shop", Labels: map[string]string{"app": "backend"}}
	defaultOpt = PlanOptions{ClusterDomain: "cluster.local"}
)

func TestIdentityKey(t *testing.T) {
	base := Identity{Namespace: "shop", ServiceAccount: "web", Labels: map[string]string{"app": "frontend", "tier": "web", "team": "a"}}
	with := func(f func(*Identity)) Identity {
		id := base
		id.Labels = maps.Clone(base.Labels)
		f(&id)
		return id
	}
	tests := []struct {
		name string
		a, b Identity
		same bool
	}{
		{"labels in another order", base, Identity{Namespace: "shop", ServiceAccount: "web", Labels: map[string]string{"team": "a", "tier": "web", "app": "frontend"}}, true},
		{"nil and empty labels", Identity{Namespace: "shop"}, Identity{Namespace: "shop", Labels: map[string]string{}}, true},
		{"other namespace", base, with(func(id *Identity) { id.Namespace = "shop2" }), false},
		{"other service account", base, with(func(id *Identity) { id.ServiceAccount = "robot" }), false},
		{"no service account", base, with(func(id *Identity) { id.ServiceAccount = "" }), false},
		{"other label value", base, with(func(id *Identity) { id.Labels["tier"] = "api" }), false},
		{"extra label", base, with(func(id *Identity) { id.Labels["canary"] = "true" }), false},
		{"missing label", base, with(func(id *Identity) { delete(id.Labels, "team") }), false},
		{"label value moved to the key", Identity{Namespace: "shop", Labels: map[string]string{"a": "b"}}, Identity{Namespace: "shop", Labels: map[string]string{"ab": ""}}, false},
		{"service account and namespace swapped", Identity{Namespace: "a", ServiceAccount: "b"}, Identity{Namespace: "b", ServiceAccount: "a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := tt.a.Key(), tt.b.Key()
			if (ka == kb) != tt.same {
				t.Errorf("Key() = %q and %q; want same=%v", ka, kb, tt.same)
			}
		})
	}
	t.Run("stable over map iteration order", func(t *testing.T) {
		labels := map[string]string{}
		for i := range 16 {
			labels[fmt.Sprintf("k%02d", i)] = fmt.Sprint(i)
		}
		id := Identity{Namespace: "ns", Labels: labels}
		want := id.Key()
		for range 50 {
			if got := id.Key(); got != want {
				t.Fatalf("Key() = %q, then %q", want, got)
			}
		}
	})
}

// unprobed is the expectation for an edge decided without a probe: an Error whose
// message contains every fragment.
type unprobed map[string][]string

func TestBuildPlan(t *testing.T) {
	podsRes := fakeResolver{
		pods: map[string][]PodTarget{
			"db/app=db": {
				{Name: "db-0", IP: "10.0.0.10", Ports: map[string]int32{"pg": 5432}},
				{Name: "db-1", IP: "fd00::11", Ports: map[string]int32{"pg": 6432}},
			},
			"db/app=cache": {
				{Name: "cache-0", IP: "10.0.0.20", Ports: map[string]int32{"redis": 6379}},
				{Name: "cache-1", IP: "10.0.0.21", Ports: map[string]int32{"metrics": 9121}},
			},
		},
		podErrs:      map[string]error{"broken/app=x": errors.New("forbidden")},
		servicePorts: map[string]int32{"shop/web/http": 80, "shop/dns/dns": 53},
	}
	tests := []struct {
		name     string
		edges    []v1alpha1.Edge
		opts     PlanOptions
		want     []SourceChecks
		unprobed unprobed
	}{
		{
			name:  "service with a numeric port",
			edges: []v1alpha1.Edge{allow("fe-web", frontend, toService("shop", "web", intstr.FromInt32(8080)))},
			want:  []SourceChecks{{Identity: frontendID, Checks: []Check{{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 8080}}}},
		},
		{
			name:  "cluster domain given with a trailing dot",
			edges: []v1alpha1.Edge{allow("fe-web", frontend, toService("shop", "web", intstr.FromInt32(8080)))},
			opts:  PlanOptions{ClusterDomain: "corp.example."},
			want:  []SourceChecks{{Identity: frontendID, Checks: []Check{{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.corp.example.", Port: 8080}}}},
		},
		{
			name:  "service with a named port resolved through the resolver",
			edges: []v1alpha1.Edge{allow("fe-web", frontend, toService("shop", "web", intstr.FromString("http")))},
			want:  []SourceChecks{{Identity: frontendID, Checks: []Check{{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 80}}}},
		},
		{
			name:     "service whose named port does not resolve",
			edges:    []v1alpha1.Edge{allow("fe-web", frontend, toService("shop", "web", intstr.FromString("https")))},
			unprobed: unprobed{"fe-web": {`"https"`, "Service shop/web", "no port named https"}},
		},
		{
			name:  "UDP service",
			edges: []v1alpha1.Edge{udp(allow("fe-dns", frontend, toService("shop", "dns", intstr.FromString("dns"))))},
			want:  []SourceChecks{{Identity: frontendID, Checks: []Check{{Edge: "fe-dns", Kind: KindUDP, Host: "dns.shop.svc.cluster.local.", Port: 53}}}},
		},
		{
			name:  "pods with a numeric port: one check per ready pod, in resolver order",
			edges: []v1alpha1.Edge{deny("fe-db", frontend, toPods("db", map[string]string{"app": "db"}, intstr.FromInt32(5432)))},
			want: []SourceChecks{{Identity: frontendID, Checks: []Check{
				{Edge: "fe-db", Kind: KindTCP, Host: "10.0.0.10", Port: 5432, Deny: true},
				{Edge: "fe-db", Kind: KindTCP, Host: "fd00::11", Port: 5432, Deny: true},
			}}},
		},
		{
			name:  "pods with a named port resolved per pod",
			edges: []v1alpha1.Edge{allow("be-db", backend, toPods("db", map[string]string{"app": "db"}, intstr.FromString("pg")))},
			want: []SourceChecks{{Identity: backendID, Checks: []Check{
				{Edge: "be-db", Kind: KindTCP, Host: "10.0.0.10", Port: 5432},
				{Edge: "be-db", Kind: KindTCP, Host: "fd00::11", Port: 6432},
			}}},
		},
		{
			name:     "pods with no ready pod",
			edges:    []v1alpha1.Edge{allow("be-api", backend, toPods("api", map[string]string{"app": "api", "tier": "x"}, intstr.FromInt32(80)))},
			unprobed: unprobed{"be-api": {"no ready pod", "namespace api", "app=api,tier=x", "start the destination or fix to.pods.podLabels"}},
		},
		{
			name:     "pods where one pod lacks the named port",
			edges:    []v1alpha1.Edge{allow("be-cache", backend, toPods("db", map[string]string{"app": "cache"}, intstr.FromString("redis")))},
			unprobed: unprobed{"be-cache": {"pod cache-1", `"redis"`, "give to.pods.port as a number"}},
		},
		{
			name:     "pods that cannot be listed",
			edges:    []v1alpha1.Edge{allow("be-x", backend, toPods("broken", map[string]string{"app": "x"}, intstr.FromInt32(80)))},
			unprobed: unprobed{"be-x": {"listing pods in broken", "forbidden"}},
		},
		{
			name: "host, TCP and UDP",
			edges: []v1alpha1.Edge{
				allow("fe-api", frontend, toHost("api.example.com", 443)),
				udp(deny("fe-ntp", frontend, toHost("192.0.2.1", 123))),
			},
			want: []SourceChecks{{Identity: frontendID, Checks: []Check{
				{Edge: "fe-api", Kind: KindTCP, Host: "api.example.com", Port: 443},
				{Edge: "fe-ntp", Kind: KindUDP, Host: "192.0.2.1", Port: 123, Deny: true},
			}}},
		},
		{
			name: "dns: a look-up with no port",
			edges: []v1alpha1.Edge{
				allow("fe-dns", frontend, toDNS("kubernetes.default.svc.cluster.local")),
				deny("fe-ext", frontend, toDNS("example.com")),
			},
			want: []SourceChecks{{Identity: frontendID, Checks: []Check{
				{Edge: "fe-dns", Kind: KindDNS, Host: "kubernetes.default.svc.cluster.local"},
				{Edge: "fe-ext", Kind: KindDNS, Host: "example.com", Deny: true},
			}}},
		},
		{
			name:     "no destination",
			edges:    []v1alpha1.Edge{allow("fe-nothing", frontend, v1alpha1.Destination{})},
			unprobed: unprobed{"fe-nothing": {`edge "fe-nothing" has no destination`}},
		},
		{
			name: "an unprobed edge does not split its identity's checks",
			edges: []v1alpha1.Edge{
				allow("a", frontend, toHost("10.0.0.1", 80)),
				allow("b", frontend, toPods("api", map[string]string{"app": "api"}, intstr.FromInt32(80))),
				deny("c", frontend, toHost("10.0.0.2", 80)),
			},
			want: []SourceChecks{{Identity: frontendID, Checks: []Check{
				{Edge: "a", Kind: KindTCP, Host: "10.0.0.1", Port: 80},
				{Edge: "c", Kind: KindTCP, Host: "10.0.0.2", Port: 80, Deny: true},
			}}},
			unprobed: unprobed{"b": {"no ready pod"}},
		},
		{
			name: "identities grouped in first-appearance order",
			edges: []v1alpha1.Edge{
				allow("1", backend, toHost("10.0.0.1", 1)),
				allow("2", frontend, toHost("10.0.0.1", 2)),
				// The same identity as frontend, its labels written in another order.
				allow("3", src("shop", "", map[string]string{"tier": "web", "app": "frontend"}), toHost("10.0.0.1", 3)),
				allow("4", src("shop", "robot", frontend.PodLabels), toHost("10.0.0.1", 4)),
				allow("5", src("shop", "", map[string]string{"app": "frontend", "tier": "web", "canary": "true"}), toHost("10.0.0.1", 5)),
				allow("6", src("other", "", frontend.PodLabels), toHost("10.0.0.1", 6)),
				allow("7", backend, toHost("10.0.0.1", 7)),
				allow("8", src("shop", "", nil), toHost("10.0.0.1", 8)),
				allow("9", src("shop", "", map[string]string{}), toHost("10.0.0.1", 9)),
			},
			want: []SourceChecks{
				{Identity: backendID, Checks: []Check{{Edge: "1", Kind: KindTCP, Host: "10.0.0.1", Port: 1}, {Edge: "7", Kind: KindTCP, Host: "10.0.0.1", Port: 7}}},
				{Identity: frontendID, Checks: []Check{{Edge: "2", Kind: KindTCP, Host: "10.0.0.1", Port: 2}, {Edge: "3", Kind: KindTCP, Host: "10.0.0.1", Port: 3}}},
				{Identity: Identity{Namespace: "shop", ServiceAccount: "robot", Labels: frontendID.Labels}, Checks: []Check{{Edge: "4", Kind: KindTCP, Host: "10.0.0.1", Port: 4}}},
				{Identity: Identity{Namespace: "shop", Labels: map[string]string{"app": "frontend", "tier": "web", "canary": "true"}}, Checks: []Check{{Edge: "5", Kind: KindTCP, Host: "10.0.0.1", Port: 5}}},
				{Identity: Identity{Namespace: "other", Labels: frontendID.Labels}, Checks: []Check{{Edge: "6", Kind: KindTCP, Host: "10.0.0.1", Port: 6}}},
				// An unlabelled source, however it is written, is one identity.
				{Identity: Identity{Namespace: "shop"}, Checks: []Check{{Edge: "8", Kind: KindTCP, Host: "10.0.0.1", Port: 8}, {Edge: "9", Kind: KindTCP, Host: "10.0.0.1", Port: 9}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if opts.ClusterDomain == "" && opts.Nodes == nil {
				opts = defaultOpt
			}
			plan := BuildPlan(t.Context(), tt.edges, podsRes, opts)

			if len(plan.Sources) != len(tt.want) {
				t.Fatalf("got %d sources, want %d:\n%s", len(plan.Sources), len(tt.want), dumpSources(plan.Sources))
			}
			for i, got := range plan.Sources {
				want := tt.want[i]
				if got.Identity.Key() != want.Identity.Key() {
					t.Errorf("source %d: identity %q, want %q", i, got.Identity.Key(), want.Identity.Key())
				}
				if !reflect.DeepEqual(got.Checks, want.Checks) {
					t.Errorf("source %d: checks\n got %+v\nwant %+v", i, got.Checks, want.Checks)
				}
			}

			if len(plan.Unprobed) != len(tt.unprobed) {
				t.Errorf("unprobed edges %v, want %v", slices.Sorted(maps.Keys(plan.Unprobed)), slices.Sorted(maps.Keys(tt.unprobed)))
			}
			for edge, fragments := range tt.unprobed {
				r, ok := plan.Unprobed[edge]
				if !ok {
					t.Errorf("edge %s was probed, want it unprobed", edge)
					continue
				}
				if r.Observation != v1alpha1.ObservedError {
					t.Errorf("edge %s: observation %s, want Error", edge, r.Observation)
				}
				for _, f := range fragments {
					if !strings.Contains(r.Message, f) {
						t.Errorf("edge %s: message %q does not contain %q", edge, r.Message, f)
					}
				}
			}
			for _, p := range plan.Sources {
				for _, c := range p.Checks {
					if _, ok := plan.Unprobed[c.Edge]; ok {
						t.Errorf("edge %s is both unprobed and probed", c.Edge)
					}
					if err := c.validate(); err != nil {
						t.Errorf("planned check %+v is invalid: %v", c, err)
					}
				}
			}
		})
	}
}

func dumpSources(sources []SourceChecks) string {
	var b strings.Builder
	for _, p := range sources {
		fmt.Fprintf(&b, "  %s: %d checks\n", p.Identity.Key(), len(p.Checks))
	}
	return b.String()
}

// hostEdges makes n Allow edges to distinct ports of one host.
func hostEdges(prefix string, from v1alpha1.Source, n int) []v1alpha1.Edge {
	return hostEdgesTo("10.1.0.1", prefix, from, n)
}

func hostEdgesTo(host, prefix string, from v1alpha1.Source, n int) []v1alpha1.Edge {
	edges := make([]v1alpha1.Edge, n)
	for i := range edges {
		edges[i] = allow(fmt.Sprintf("%s-%d", prefix, i), from, toHost(host, int32(i+1)))
	}
	return edges
}

// podsOf chunks each source's checks into pods, as the probe-pod pool does.
func podsOf(plan Plan, perPod int) []PodPlan {
	var pods []PodPlan
	for _, s := range plan.Sources {
		for i, checks := range Chunk(s.Checks, perPod) {
			pods = append(pods, PodPlan{Identity: s.Identity, Index: i, Checks: checks})
		}
	}
	return pods
}

func TestChunkSplitsPods(t *testing.T) {
	type pod struct {
		key    string
		index  int
		checks int
	}
	fe, be := frontendID.Key(), backendID.Key()
	tests := []struct {
		name   string
		edges  []v1alpha1.Edge
		perPod int
		want   []pod
	}{
		{"250 checks, 100 per pod", hostEdges("e", frontend, 250), 100, []pod{{fe, 0, 100}, {fe, 1, 100}, {fe, 2, 50}}},
		{"exactly one pod's worth", hostEdges("e", frontend, 100), 100, []pod{{fe, 0, 100}}},
		{"one more than a pod's worth", hostEdges("e", frontend, 101), 100, []pod{{fe, 0, 100}, {fe, 1, 1}}},
		{"one check per pod", hostEdges("e", frontend, 3), 1, []pod{{fe, 0, 1}, {fe, 1, 1}, {fe, 2, 1}}},
		{"unset limit falls back to MaxChecksPerPod", hostEdges("e", frontend, 600), 0, []pod{{fe, 0, MaxChecksPerPod}, {fe, 1, 600 - MaxChecksPerPod}}},
		{"negative limit falls back to MaxChecksPerPod", hostEdges("e", frontend, 600), -1, []pod{{fe, 0, MaxChecksPerPod}, {fe, 1, 600 - MaxChecksPerPod}}},
		{"limit above MaxChecksPerPod is capped", hostEdges("e", frontend, 600), 1000, []pod{{fe, 0, MaxChecksPerPod}, {fe, 1, 600 - MaxChecksPerPod}}},
		{
			"each identity split on its own, identities in order",
			append(append(hostEdges("a", frontend, 60), hostEdges("b", backend, 30)...), hostEdgesTo("10.1.0.2", "c", frontend, 90)...),
			100,
			[]pod{{fe, 0, 100}, {fe, 1, 50}, {be, 0, 30}},
		},
		{
			"one pods edge spans pods",
			[]v1alpha1.Edge{allow("fe-all", frontend, toPods("big", map[string]string{"app": "big"}, intstr.FromInt32(80)))},
			100,
			[]pod{{fe, 0, 100}, {fe, 1, 100}, {fe, 2, 50}},
		},
	}
	bigPods := make([]PodTarget, 250)
	for i := range bigPods {
		bigPods[i] = PodTarget{Name: fmt.Sprintf("big-%d", i), IP: fmt.Sprintf("10.2.%d.%d", i/256, i%256)}
	}
	res := fakeResolver{pods: map[string][]PodTarget{"big/app=big": bigPods}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods := podsOf(BuildPlan(t.Context(), tt.edges, res, defaultOpt), tt.perPod)
			got := make([]pod, len(pods))
			for i, p := range pods {
				got[i] = pod{p.Identity.Key(), p.Index, len(p.Checks)}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("pods %+v, want %+v", got, tt.want)
			}
			// Splitting keeps every check once, in edge order within an identity.
			var want, all []Check
			for _, key := range []string{fe, be} {
				for _, e := range tt.edges {
					if IdentityOf(e.From).Key() != key {
						continue
					}
					checks, err := ChecksFor(t.Context(), e, res, "cluster.local")
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, checks...)
				}
			}
			for _, p := range pods {
				all = append(all, p.Checks...)
			}
			if !reflect.DeepEqual(all, want) {
				t.Errorf("the pods' checks, concatenated, differ from the edges' checks")
			}
		})
	}

	t.Run("pods do not share backing arrays", func(t *testing.T) {
		pods := podsOf(BuildPlan(t.Context(), hostEdges("e", frontend, 3), res, defaultOpt), 2)
		next := pods[1].Checks[0]
		_ = append(pods[0].Checks, Check{Edge: "intruder"})
		if pods[1].Checks[0] != next {
			t.Fatalf("appending to pod 0's checks overwrote pod 1's: %+v", pods[1].Checks[0])
		}
	})

	t.Run("checks that share a connection count once", func(t *testing.T) {
		edges := append(hostEdges("a", frontend, 60), hostEdges("c", frontend, 90)...)
		pods := podsOf(BuildPlan(t.Context(), edges, res, defaultOpt), 100)
		if len(pods) != 1 || len(Made(pods[0].Checks)) != 90 {
			t.Fatalf("%d pods, want 1 making the 90 distinct connections of 150 checks", len(pods))
		}
	})
}

func TestBuildPlanIsDeterministic(t *testing.T) {
	var edges []v1alpha1.Edge
	for i := range 300 {
		from := src(fmt.Sprintf("ns%d", i%7), fmt.Sprintf("sa%d", i%3), map[string]string{"app": fmt.Sprint(i % 11), "x": "y", "z": fmt.Sprint(i % 2)})
		switch i % 4 {
		case 0:
			edges = append(edges, allow(fmt.Sprint(i), from, toService("shop", "web", intstr.FromString("http"))))
		case 1:
			edges = append(edges, deny(fmt.Sprint(i), from, toHost("10.0.0.1", int32(i))))
		case 2:
			edges = append(edges, allow(fmt.Sprint(i), from, toDNS("example.com")))
		case 3:
			edges = append(edges, allow(fmt.Sprint(i), from, toPods("db", map[string]string{"app": "db"}, intstr.FromInt32(5432))))
		}
	}
	edges = append(edges, allow("unresolved", frontend, toService("shop", "web", intstr.FromString("nope"))))
	res := fakeResolver{
		servicePorts: map[string]int32{"shop/web/http": 80},
		pods:         map[string][]PodTarget{"db/app=db": {{Name: "db-0", IP: "10.0.0.10"}, {Name: "db-1", IP: "10.0.0.11"}}},
	}
	first := BuildPlan(t.Context(), edges, res, defaultOpt)
	for range 5 {
		if again := BuildPlan(t.Context(), edges, res, defaultOpt); !reflect.DeepEqual(first, again) {
			t.Fatalf("the same edges planned twice gave different plans:\n%s\nthen\n%s", dumpSources(first.Sources), dumpSources(again.Sources))
		}
		if pods, again := podsOf(first, 7), podsOf(first, 7); !reflect.DeepEqual(pods, again) {
			t.Fatal("the same plan chunked twice gave different pods")
		}
	}
	if len(first.Unprobed) != 1 {
		t.Errorf("unprobed %v, want only the unresolved edge", slices.Collect(maps.Keys(first.Unprobed)))
	}
}

func TestBuildPlanCopiesLabels(t *testing.T) {
	labels := map[string]string{"app": "frontend"}
	edges := []v1alpha1.Edge{allow("e", src("shop", "", labels), toHost("10.0.0.1", 80))}
	plan := BuildPlan(t.Context(), edges, fakeResolver{}, defaultOpt)
	labels["app"] = "changed"
	if got := plan.Sources[0].Identity.Labels["app"]; got != "frontend" {
		t.Fatalf("changing the edge's labels after planning changed the plan's identity to %q", got)
	}
}

func TestServiceDNSName(t *testing.T) {
	tests := []struct{ name, namespace, domain, want string }{
		{"web", "shop", "cluster.local", "web.shop.svc.cluster.local."},
		{"web", "shop", "cluster.local.", "web.shop.svc.cluster.local."},
		{"api", "team-a", "k8s.corp.example", "api.team-a.svc.k8s.corp.example."},
	}
	for _, tt := range tests {
		if got := ServiceDNSName(tt.name, tt.namespace, tt.domain); got != tt.want {
			t.Errorf("ServiceDNSName(%q, %q, %q) = %q, want %q", tt.name, tt.namespace, tt.domain, got, tt.want)
		}
	}
}

// BenchmarkBuildPlan10000Edges plans the largest kind of run as the operator does: 10,000
// edges from 10 identities, a mix of Services (half of them by port name), hosts and
// look-ups, grouped by identity and chunked into pods of 100 connections.
// wantBenchPods: each identity makes 10 connections to Services and 500 distinct
// ones, 510 in 6 pods of at most 100.
const wantBenchPods = 60

func BenchmarkBuildPlan10000Edges(b *testing.B) {
	res := fakeResolver{servicePorts: map[string]int32{}}
	for s := range 50 {
		res.servicePorts[fmt.Sprintf("ns%d/svc%d/http", s%5, s)] = 8080
	}
	edges := make([]v1alpha1.Edge, 10_000)
	for i := range edges {
		from := src(fmt.Sprintf("src%d", i%10), "", map[string]string{"app": fmt.Sprintf("app%d", i%10), "team": "payments", "tier": "backend"})
		name := fmt.Sprintf("edge-%d", i)
		switch i % 4 {
		case 0:
			edges[i] = allow(name, from, toService(fmt.Sprintf("ns%d", i%50%5), fmt.Sprintf("svc%d", i%50), intstr.FromString("http")))
		case 1:
			edges[i] = deny(name, from, toService(fmt.Sprintf("ns%d", i%5), fmt.Sprintf("svc%d", i%50), intstr.FromInt32(443)))
		case 2:
			edges[i] = udp(deny(name, from, toHost(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), 53)))
		case 3:
			edges[i] = allow(name, from, toDNS(fmt.Sprintf("host%d.example.com", i)))
		}
	}
	ctx := b.Context()
	plan := BuildPlan(ctx, edges, res, defaultOpt)
	if pods := podsOf(plan, 100); len(pods) != wantBenchPods || len(plan.Unprobed) != 0 {
		b.Fatalf("plan has %d pods and %d unprobed edges, want %d and 0", len(pods), len(plan.Unprobed), wantBenchPods)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		podsOf(BuildPlan(ctx, edges, res, defaultOpt), 100)
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(n), "ms/plan")
}
