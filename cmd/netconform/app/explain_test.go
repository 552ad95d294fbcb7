package app

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netconform/netconform/internal/explain"
)

// TestExplainBadInput covers the answers that need no cluster: every flag named with the
// form it expects, exit 2 and nothing on stdout.
func TestExplainBadInput(t *testing.T) {
	const svc = "--to=svc/shop/db:5432"
	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{"no flags", nil, []string{"--from is required", "NAMESPACE/key=value"}},
		{"no --to", []string{"--from", "shop"}, []string{"--to is required", "svc/NAMESPACE/NAME:PORT"}},
		{"bad namespace", []string{"--from", "Shop_1/app=web", svc}, []string{`--from "Shop_1/app=web"`, "not a namespace name"}},
		{"label without =", []string{"--from", "shop/app", svc}, []string{`"app" is not key=value`}},
		{"bad label value", []string{"--from", "shop/app=a b", svc}, []string{`label "app=a b"`}},
		{"repeated label", []string{"--from", "shop/app=a,app=b", svc}, []string{`"app" is given twice`}},
		{"unknown kind", []string{"--from", "shop", "--to", "deploy/shop/db:5432"}, []string{`unknown kind "deploy"`, "ip/ADDRESS:PORT"}},
		{"service without name", []string{"--from", "shop", "--to", "svc/shop"}, []string{"no NAMESPACE/NAME"}},
		{"no port", []string{"--from", "shop", "--to", "svc/shop/db"}, []string{"no :PORT"}},
		{"port zero", []string{"--from", "shop", "--to", "pod/shop/db-0:0"}, []string{`port "0" is not a number from 1 to 65535`}},
		{"port too big", []string{"--from", "shop", "--to", "pod/shop/db-0:70000"}, []string{`port "70000"`}},
		{"named port", []string{"--from", "shop", "--to", "pod/shop/db-0:pg"}, []string{`port "pg"`}},
		{"bad address", []string{"--from", "shop", "--to", "ip/example.com:443"}, []string{`"example.com" is not an IP address`}},
		{"IPv6 without brackets", []string{"--from", "shop", "--to", "ip/fd00::1"}, []string{"in brackets"}},
		{"bad protocol", []string{"--from", "shop", svc, "--protocol", "ICMP"}, []string{`--protocol "ICMP": use TCP or UDP`}},
		{"stray argument", []string{"--from", "shop", svc, "extra"}, []string{`unexpected argument "extra"`}},
		{"unknown flag", []string{"--bogus"}, []string{"unknown flag: --bogus", "See 'netconform explain --help'"}},
		{"no cluster", []string{"--from", "shop/app=web", svc, "--kubeconfig", "/nonexistent/kubeconfig"}, []string{"no cluster", "--kubeconfig"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"explain"}, tt.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

func TestExplainParse(t *testing.T) {
	q, err := parseExplain("shop/app=web,tier=front", "ip/[fd00::1]:8443", "udp")
	if err != nil {
		t.Fatal(err)
	}
	if q.From.Namespace != "shop" || len(q.From.PodLabels) != 2 || q.From.PodLabels["tier"] != "front" ||
		q.Kind != explain.Address || q.IP != "fd00::1" || q.Port != 8443 || q.Protocol != corev1.ProtocolUDP {
		t.Errorf("parsed %+v", q)
	}
	q, err = parseExplain("shop", "svc/shop/db:5432", "TCP")
	if err != nil || q.From.PodLabels != nil || q.Kind != explain.Service || q.Namespace != "shop" || q.Name != "db" || q.Port != 5432 {
		t.Errorf("parsed %+v, %v", q, err)
	}
	q, err = parseExplain("node/worker-1", "pod/shop/db-0:5432", "TCP")
	if err != nil || q.FromNode != "worker-1" || q.From.Namespace != "" {
		t.Errorf("parsed %+v, %v: want the node worker-1 as the source", q, err)
	}
	// A namespace called node, with labels, is no node.
	q, err = parseExplain("node/app=web", "pod/shop/db-0:5432", "TCP")
	if err != nil || q.FromNode != "" || q.From.Namespace != "node" || q.From.PodLabels["app"] != "web" {
		t.Errorf("parsed %+v, %v: want pods app=web of namespace node", q, err)
	}
	if _, err = parseExplain("node/Worker_1", "pod/shop/db-0:5432", "TCP"); err == nil || !strings.Contains(err.Error(), `"Worker_1" is not a node name`) {
		t.Errorf("err = %v, want one naming the bad node name", err)
	}
}
