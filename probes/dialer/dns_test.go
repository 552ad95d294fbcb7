package dialer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

func TestLookups(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	server := cfg.NameServers[0]
	tcpPort, udpPort := int32(tcpServer(t)), int32(udpServer(t, true))
	tcpTarget, udpTarget := hostPort(int(tcpPort)), hostPort(int(udpPort))
	tests := []struct {
		name    string
		check   probes.Check
		want    v1alpha1.Observation
		target  string
		message string // the whole message, or a part of it after "~"
	}{
		{"dns answer", dnsCheck("catalog.test"), v1alpha1.ObservedConnected, server, ""},
		{"dns trailing dot", dnsCheck("catalog.test."), v1alpha1.ObservedConnected, server, ""},
		{"dns upper case", dnsCheck("CATALOG.test"), v1alpha1.ObservedConnected, server, ""},
		{"dns cname", dnsCheck("alias.test"), v1alpha1.ObservedConnected, server, ""},
		{"dns only AAAA", dnsCheck("v6only.test"), v1alpha1.ObservedConnected, server, ""},
		{"dns truncated then tcp", dnsCheck("big.test"), v1alpha1.ObservedConnected, server, ""},
		{"dns forged reply ignored", dnsCheck("spoofed.test"), v1alpha1.ObservedConnected, server, ""},
		{"dns nxdomain", dnsCheck("missing.test"), v1alpha1.ObservedDNSFailure, server, "lookup missing.test: NXDOMAIN"},
		{"dns servfail", dnsCheck("broken.test"), v1alpha1.ObservedDNSFailure, server, "lookup broken.test: SERVFAIL"},
		{"dns refused rcode", dnsCheck("refused.test"), v1alpha1.ObservedDNSFailure, server, "lookup refused.test: REFUSED by name server"},
		{"dns no records", dnsCheck("empty.test"), v1alpha1.ObservedDNSFailure, server, "lookup empty.test: no A or AAAA records"},
		{"dns no reply", dnsCheck("silent.test"), v1alpha1.ObservedTimeout, server, "lookup silent.test: timeout: no reply from " + server},
		{"dns bad name", dnsCheck(strings.Repeat("a", 64) + ".test"), v1alpha1.ObservedError, "", "~segment length too long"},
		{"tcp by name", probes.Check{Kind: probes.KindTCP, Host: "catalog.test", Port: tcpPort}, v1alpha1.ObservedConnected, tcpTarget, ""},
		{"tcp by cname", probes.Check{Kind: probes.KindTCP, Host: "alias.test.", Port: tcpPort}, v1alpha1.ObservedConnected, tcpTarget, ""},
		{"tcp by name over dns tcp", probes.Check{Kind: probes.KindTCP, Host: "big.test", Port: tcpPort}, v1alpha1.ObservedConnected, tcpTarget, ""},
		{"udp by name", probes.Check{Kind: probes.KindUDP, Host: "catalog.test", Port: udpPort}, v1alpha1.ObservedConnected, udpTarget, ""},
		{"tcp nxdomain", probes.Check{Kind: probes.KindTCP, Host: "missing.test", Port: tcpPort}, v1alpha1.ObservedDNSFailure, server, "lookup missing.test: NXDOMAIN"},
		{"tcp servfail", probes.Check{Kind: probes.KindTCP, Host: "broken.test", Port: tcpPort}, v1alpha1.ObservedDNSFailure, server, "lookup broken.test: SERVFAIL"},
		{"tcp dns timeout", probes.Check{Kind: probes.KindTCP, Host: "silent.test", Port: tcpPort}, v1alpha1.ObservedDNSFailure, server, "lookup silent.test: timeout: no reply from " + server},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Run(t.Context(), cfg, []probes.Check{tt.check})[0]
			assertResult(t, got, tt.want, tt.target, tt.message)
		})
	}
}

func TestLookupsThroughUnreachableServer(t *testing.T) {
	t.Parallel()
	closed := hostPort(freePort(t, "udp"))
	good := fakeDNS(t)
	tests := []struct {
		name    string
		servers []string
		check   probes.Check
		want    v1alpha1.Observation
		target  string
		message string
	}{
		{"dns refused", []string{closed}, dnsCheck("catalog.test"), v1alpha1.ObservedRefused, closed, "lookup catalog.test: connection refused by name server " + closed},
		{"tcp refused", []string{closed}, probes.Check{Kind: probes.KindTCP, Host: "catalog.test", Port: 1}, v1alpha1.ObservedDNSFailure, closed, "lookup catalog.test: connection refused by name server " + closed},
		{"second server answers", []string{closed, good}, dnsCheck("catalog.test"), v1alpha1.ObservedConnected, good, ""},
		{"nxdomain is final", []string{good, closed}, dnsCheck("missing.test"), v1alpha1.ObservedDNSFailure, good, "lookup missing.test: NXDOMAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Timeout: testTimeout, Attempts: 1, NameServers: tt.servers}
			got := Run(t.Context(), cfg, []probes.Check{tt.check})[0]
			assertResult(t, got, tt.want, tt.target, tt.message)
		})
	}
}

func dnsCheck(name string) probes.Check { return probes.Check{Kind: probes.KindDNS, Host: name} }

func assertResult(t *testing.T, got probes.Result, want v1alpha1.Observation, target, message string) {
	t.Helper()
	if got.Observation != want || got.Target != target {
		t.Errorf("got %s to %q (%s), want %s to %q", got.Observation, got.Target, got.Message, want, target)
	}
	if part, ok := strings.CutPrefix(message, "~"); ok {
		if !strings.Contains(got.Message, part) {
			t.Errorf("message %q does not contain %q", got.Message, part)
		}
	} else if got.Message != message {
		t.Errorf("message %q, want %q", got.Message, message)
	}
}

func TestNameServers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	kube := write("kube", `# written by the kubelet
search bookstore.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
nameserver  fd00:10::a	# trailing comment
nameserver not-an-ip
;nameserver 10.0.0.99
options ndots:5
`)
	tests := []struct {
		name    string
		cfg     Config
		want    []string
		wantErr string
	}{
		{"resolv.conf", Config{ResolvConf: kube}, []string{"10.96.0.10:53", "[fd00:10::a]:53"}, ""},
		{"no nameserver", Config{ResolvConf: write("empty", "search cluster.local\n")}, nil, "no nameserver line"},
		{"missing file", Config{ResolvConf: filepath.Join(dir, "absent")}, nil, "no such file"},
		{"configured wins", Config{ResolvConf: kube, NameServers: []string{"127.0.0.1:5353", "::1"}}, []string{"127.0.0.1:5353", "[::1]:53"}, ""},
		{"configured invalid", Config{NameServers: []string{"dns.local:53"}}, nil, `name server "dns.local:53" is not an ip or ip:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nameServers(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("nameServers() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// Without name servers only the checks that need a name fail, and they say why.
func TestNoNameServers(t *testing.T) {
	t.Parallel()
	port := int32(tcpServer(t))
	cfg := Config{Timeout: testTimeout, ResolvConf: filepath.Join(t.TempDir(), "resolv.conf")}
	got := Run(t.Context(), cfg, []probes.Check{
		{Kind: probes.KindTCP, Host: loopback, Port: port},
		{Kind: probes.KindTCP, Host: "catalog.test", Port: port},
		dnsCheck("catalog.test"),
	})
	if got[0].Observation != v1alpha1.ObservedConnected {
		t.Errorf("ip check: %+v, want Connected", got[0])
	}
	for _, r := range got[1:] {
		if r.Observation != v1alpha1.ObservedError || !strings.Contains(r.Message, "resolv.conf") {
			t.Errorf("name check: %+v, want Error naming resolv.conf", r)
		}
	}
}
