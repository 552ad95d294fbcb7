package placement

import (
	"slices"
	"testing"
)

const (
	node1 = "netconform-node"
	node2 = "netconform-node-2"
	open3 = "netconform-node-3"
)

var partial = []string{open3}

func TestHopPasses(t *testing.T) {
	cases := []struct {
		name string
		hop  Hop
		open []string
		want bool
	}{
		{"allowed both sides, enforcing", Hop{From: node1, To: node2}, nil, true},
		{"ingress denial, enforcing", Hop{From: node1, To: node2, DenyIngress: true}, nil, false},
		{"ingress denial, destination open", Hop{From: node1, To: open3, DenyIngress: true}, partial, true},
		{"ingress denial, only the source open", Hop{From: open3, To: node1, DenyIngress: true}, partial, false},
		{"egress denial, source open", Hop{From: open3, To: node1, DenyEgress: true}, partial, true},
		{"egress denial, only the destination open", Hop{From: node1, To: open3, DenyEgress: true}, partial, false},
		{"both denials, only the source open", Hop{From: open3, To: node1, DenyEgress: true, DenyIngress: true}, partial, false},
		{"both denials, only the destination open", Hop{From: node1, To: open3, DenyEgress: true, DenyIngress: true}, partial, false},
		{"both denials, both ends open", Hop{From: open3, To: open3, DenyEgress: true, DenyIngress: true}, partial, true},
		{"egress denial to an address, source open", Hop{From: open3, DenyEgress: true}, partial, true},
		{"egress denial to an address, enforcing", Hop{From: open3, DenyEgress: true}, nil, false},
		{"every node open (noop)", Hop{From: node1, To: node2, DenyEgress: true, DenyIngress: true}, []string{node1, node2, open3}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.hop.Passes(c.open); got != c.want {
				t.Errorf("Passes(%v) = %t, want %t", c.open, got, c.want)
			}
		})
	}
}

func TestPathReach(t *testing.T) {
	dnsOK := []Hop{{From: node1, To: node1}}
	dnsDeniedByEgress := func(from string) []Hop { return []Hop{{From: from, To: node1, DenyEgress: true}} }
	ingressDenied := func(from, to string) []Hop { return []Hop{{From: from, To: to, DenyIngress: true}} }
	allowed := func(from, to string) []Hop { return []Hop{{From: from, To: to}} }
	cases := []struct {
		name                 string
		path                 Path
		enforcing, onPartial Reach
	}{
		{"a Deny edge into the open node", Path{Checks: [][]Hop{ingressDenied(node1, open3)}, AnyCheck: true}, Blocked, Connects},
		{"a Deny edge from the open node, denied by ingress", Path{Checks: [][]Hop{ingressDenied(open3, node2)}, AnyCheck: true}, Blocked, Blocked},
		{"an Allow edge", Path{Lookup: dnsOK, Checks: [][]Hop{allowed(node1, node2)}}, Connects, Connects},
		{"no DNS egress, source open", Path{Lookup: dnsDeniedByEgress(open3), Checks: [][]Hop{allowed(open3, node2)}}, LookupBlocked, Connects},
		{"no DNS egress, source enforcing", Path{Lookup: dnsDeniedByEgress(node2), Checks: [][]Hop{allowed(node2, open3)}}, LookupBlocked, LookupBlocked},
		{"no DNS egress, source open, connection denied by an enforcing ingress", Path{Lookup: dnsDeniedByEgress(open3), Checks: [][]Hop{ingressDenied(open3, node1)}, AnyCheck: true}, LookupBlocked, Blocked},
		{"a Deny edge to two pods, one on the open node", Path{Checks: [][]Hop{ingressDenied(node1, node2), ingressDenied(node1, open3)}, AnyCheck: true}, Blocked, Connects},
		{"an Allow edge to two pods, one denied on an enforcing node", Path{Checks: [][]Hop{ingressDenied(node1, node2), allowed(node1, open3)}}, Blocked, Blocked},
		{"a Service whose backends disagree", Path{Checks: [][]Hop{{{From: node1, To: node2, DenyIngress: true}, {From: node1, To: open3, DenyIngress: true}}}, AnyCheck: true}, Blocked, Unsettled},
		{"the cluster DNS on open and enforcing nodes, look-up denied by ingress", Path{Lookup: []Hop{{From: node1, To: node2, DenyIngress: true}, {From: node1, To: open3, DenyIngress: true}}, Checks: [][]Hop{allowed(node1, node2)}}, LookupBlocked, Unsettled},
		{"no connection", Path{}, Unknown, Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.path.Reach(nil); got != c.enforcing {
				t.Errorf("Reach on an enforcing cluster = %s, want %s", got, c.enforcing)
			}
			if got := c.path.Reach(partial); got != c.onPartial {
				t.Errorf("Reach with %s open = %s, want %s", open3, got, c.onPartial)
			}
		})
	}
}

func TestEnds(t *testing.T) {
	cases := []struct {
		name            string
		ends            Ends
		cross, involves bool
	}{
		{"a pod on another node", Ends{Probe: node1, Destinations: []string{node2}}, true, false},
		{"a pod on the same node", Ends{Probe: node2, Destinations: []string{node2}}, false, false},
		{"a Service with a backend on the probe's node", Ends{Probe: node1, Destinations: []string{node2, node1}}, false, false},
		{"a Service whose backends are all elsewhere", Ends{Probe: node1, Destinations: []string{node2, open3}}, true, true},
		{"an off-cluster address", Ends{Probe: node1}, false, false},
		{"a probe on the open node to an address", Ends{Probe: open3}, false, true},
		{"an unknown probe node", Ends{Destinations: []string{node2}}, false, false},
		{"a destination whose node is unknown", Ends{Probe: node1, Destinations: []string{""}}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.ends.CrossNode(); got != c.cross {
				t.Errorf("CrossNode() = %t, want %t", got, c.cross)
			}
			if got := c.ends.Involves(partial); got != c.involves {
				t.Errorf("Involves(%v) = %t, want %t", partial, got, c.involves)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	nodes := []string{node1, node2, open3}
	cases := []struct {
		n        int
		nodes    []string
		probe    string
		fixtures []string
	}{
		{1, nodes, node1, []string{node2, open3, node1}},
		{2, nodes, node2, []string{open3, node1, node2}},
		{3, nodes, open3, []string{node1, node2, open3}},
		{4, nodes, node1, []string{node2, open3, node1}},
		{1, []string{node1, node2}, node1, []string{node2, node1}},
		{1, []string{node1}, "", nil},
		{1, nil, "", nil},
	}
	for _, c := range cases {
		probe, fixtures := Spread(c.n, c.nodes)
		if probe != c.probe || !slices.Equal(fixtures, c.fixtures) {
			t.Errorf("Spread(%d, %v) = %q, %v; want %q, %v", c.n, c.nodes, probe, fixtures, c.probe, c.fixtures)
		}
	}
}
