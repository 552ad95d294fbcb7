package app

import (
	"net"
	"strings"
	"testing"
)

// TestConnect: the agnhost-compatible connect exits 0 on a handshake, 1 with the
// reason first on stderr when refused, and 2 on arguments it cannot use.
func TestConnect(t *testing.T) {
	listening, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listening.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	open := listening.Addr().String()

	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"connects, target first as agnhost takes it", []string{"connect", open, "--timeout=1s", "--protocol=tcp"}, ExitOK, ""},
		{"connects, flags first", []string{"connect", "--timeout=1s", open}, ExitOK, ""},
		{"refused", []string{"connect", closedAddr, "--timeout=1s"}, ExitFail, "REFUSED: "},
		{"no port", []string{"connect", "127.0.0.1"}, ExitUsage, "UNKNOWN: want HOST:PORT"},
		{"port out of range", []string{"connect", "127.0.0.1:70000"}, ExitUsage, "UNKNOWN: want HOST:PORT with a port"},
		{"unknown protocol", []string{"connect", open, "--protocol=sctp"}, ExitUsage, "UNKNOWN: --protocol=sctp"},
		{"stray argument", []string{"connect", open, "--timeout=1s", "extra"}, ExitUsage, `UNKNOWN: unexpected argument "extra"`},
		{"bad flag", []string{"connect", open, "--bogus"}, ExitUsage, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if tt.wantStderr == "" && stderr != "" || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to hold %q", stderr, tt.wantStderr)
			}
		})
	}
}

// TestConnectUDP: a UDP connect succeeds only when the datagram is answered.
func TestConnectUDP(t *testing.T) {
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 1500)
		n, from, err := echo.ReadFrom(buf)
		if err == nil {
			_, _ = echo.WriteTo(buf[:n], from)
		}
	}()
	if code, _, stderr := runCLI("connect", echo.LocalAddr().String(), "--protocol=udp", "--timeout=2s"); code != ExitOK {
		t.Errorf("exit code %d, want %d (stderr %q)", code, ExitOK, stderr)
	}
}
