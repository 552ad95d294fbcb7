package probes

import (
	"reflect"
	"strings"
	"testing"
)

func TestChunkMakesASharedConnectionOnce(t *testing.T) {
	api := Check{Edge: "api", Kind: KindTCP, Host: "10.0.0.1", Port: 80}
	db := Check{Edge: "db", Kind: KindTCP, Host: "10.0.0.2", Port: 5432, Deny: true}
	dbAllowed := Check{Edge: "db-allowed", Kind: KindTCP, Host: "10.0.0.2", Port: 5432} // expects otherwise: retried otherwise
	var checks []Check
	for m := range 3 {
		for _, c := range []Check{api, db, dbAllowed} {
			c.Member = m
			checks = append(checks, c)
		}
	}
	pods := Chunk(checks, 2)
	var edges [][]string
	for _, p := range pods {
		var names []string
		for _, c := range p {
			names = append(names, c.Edge)
		}
		edges = append(edges, names)
	}
	want := [][]string{{"api", "db", "api", "db", "api", "db"}, {"db-allowed", "db-allowed", "db-allowed"}}
	if !reflect.DeepEqual(edges, want) {
		t.Fatalf("pods carry %v, want %v: two connections a pod", edges, want)
	}
	if made := Made(pods[0]); len(made) != 2 || !reflect.DeepEqual(ResultIndexes(pods[0]), []int{0, 1, 0, 1, 0, 1}) {
		t.Errorf("the first pod makes %d connections, results %v; want 2, each answering three checks", len(made), ResultIndexes(pods[0]))
	}
}

func TestChunkKeepsEachPodsArgumentUnderTheKernelsLimit(t *testing.T) {
	host := strings.Repeat("a", 60) + ".shop.svc.cluster.local."
	var checks []Check
	for i := range 4000 { // all towards one connection
		checks = append(checks, Check{Edge: strings.Repeat("x", 40) + string(rune('a'+i%26)), Kind: KindTCP, Host: host, Port: 443, Member: i / 100})
	}
	pods := Chunk(checks, MaxChecksPerPod)
	listed := 0
	for i, p := range pods {
		if encoded := EncodeChecks(p); len(encoded) > 128<<10 {
			t.Errorf("pod %d carries a checks argument of %d bytes, more than the kernel takes", i, len(encoded))
		}
		listed += len(p)
	}
	if listed != len(checks) || len(pods) < 2 {
		t.Errorf("%d pods list %d checks, want %d checks over more than one pod", len(pods), listed, len(checks))
	}
}
