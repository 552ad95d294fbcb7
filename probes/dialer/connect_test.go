package dialer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

const testTimeout = 300 * time.Millisecond

func testConfig(t *testing.T) Config {
	return Config{Timeout: testTimeout, Attempts: 1, NameServers: []string{fakeDNS(t)}}
}

func TestConnections(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	listening, closedTCP, blackhole := tcpServer(t), freePort(t, "tcp"), blackholePort(t)
	echo, silent, closedUDP := udpServer(t, true), udpServer(t, false), freePort(t, "udp")
	tests := []struct {
		name    string
		kind    probes.Kind
		port    int
		want    v1alpha1.Observation
		message string
	}{
		{"tcp listening", probes.KindTCP, listening, v1alpha1.ObservedConnected, ""},
		{"tcp closed port", probes.KindTCP, closedTCP, v1alpha1.ObservedRefused, "connection refused"},
		{"tcp dropped", probes.KindTCP, blackhole, v1alpha1.ObservedTimeout, "no answer within 300ms"},
		{"udp echo", probes.KindUDP, echo, v1alpha1.ObservedConnected, ""},
		{"udp never replies", probes.KindUDP, silent, v1alpha1.ObservedTimeout, "no answer within 300ms"},
		{"udp closed port", probes.KindUDP, closedUDP, v1alpha1.ObservedRefused, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := probes.Check{Edge: "e", Kind: tt.kind, Host: loopback, Port: int32(tt.port)}
			got := Run(t.Context(), cfg, []probes.Check{c})[0]
			want := probes.Result{Observation: tt.want, Attempts: 1, Target: hostPort(tt.port), Message: tt.message}
			got.Latency = 0
			if got != want {
				t.Errorf("Run() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestConnectIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	checks := []probes.Check{
		{Kind: probes.KindTCP, Host: "::1", Port: int32(port)},
		{Kind: probes.KindTCP, Host: "v6only.test", Port: int32(port)},
	}
	want := "[::1]:" + strconv.Itoa(port)
	for i, got := range Run(t.Context(), testConfig(t), checks) {
		if got.Observation != v1alpha1.ObservedConnected || got.Target != want {
			t.Errorf("check %d: got %s to %q (%s), want Connected to %q", i, got.Observation, got.Target, got.Message, want)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		name    string
		err     error
		want    v1alpha1.Observation
		message string
	}{
		{"refused", opErr(syscall.ECONNREFUSED), v1alpha1.ObservedRefused, "connection refused"},
		{"refused wrapped twice", fmt.Errorf("probe: %w", opErr(syscall.ECONNREFUSED)), v1alpha1.ObservedRefused, "connection refused"},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), v1alpha1.ObservedUnreachable, "host unreachable"},
		{"network unreachable", fmt.Errorf("x: %w", syscall.ENETUNREACH), v1alpha1.ObservedUnreachable, "network unreachable"},
		{"local reject", opErr(syscall.EPERM), v1alpha1.ObservedUnreachable, "rejected locally: operation not permitted"},
		{"local reject EACCES", opErr(syscall.EACCES), v1alpha1.ObservedUnreachable, "rejected locally: permission denied"},
		{"deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, v1alpha1.ObservedTimeout, "timeout"},
		{"context deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), v1alpha1.ObservedTimeout, "timeout"},
		{"other", errors.New("no route to the moon"), v1alpha1.ObservedError, "no route to the moon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := Classify(tt.err)
			if got != tt.want || msg != tt.message {
				t.Errorf("Classify(%v) = %s, %q; want %s, %q", tt.err, got, msg, tt.want, tt.message)
			}
		})
	}
}

func TestLookupObservation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want v1alpha1.Observation
	}{
		{&lookupError{name: "a", err: rcodeError(3)}, v1alpha1.ObservedDNSFailure},
		{&lookupError{name: "a", err: errNoRecords}, v1alpha1.ObservedDNSFailure},
		{&lookupError{name: "a", err: os.ErrDeadlineExceeded}, v1alpha1.ObservedTimeout},
		{&lookupError{name: "a", err: syscall.ECONNREFUSED}, v1alpha1.ObservedRefused},
		{&lookupError{name: "a", err: syscall.ENETUNREACH}, v1alpha1.ObservedUnreachable},
	}
	for _, tt := range tests {
		if got := lookupObservation(tt.err); got != tt.want {
			t.Errorf("lookupObservation(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
	if got, want := (&lookupError{name: "a", server: "s:53", err: syscall.ENETUNREACH}).Error(), "lookup a: name server s:53 unreachable: network is unreachable"; !strings.EqualFold(got, want) {
		t.Errorf("message %q, want %q", got, want)
	}
}
