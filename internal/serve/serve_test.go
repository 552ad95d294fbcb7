package serve

import (
	"context"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests bind and dial 127.0.0.1 only.
const loopback = "127.0.0.1"

// freePorts returns a TCP and a UDP port that nothing on loopback listens on.
func freePorts(t *testing.T) (tcp, udp int) {
	t.Helper()
	ln, err := net.Listen("tcp", loopback+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", loopback+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return ln.Addr().(*net.TCPAddr).Port, pc.LocalAddr().(*net.UDPAddr).Port
}

// start runs the server, waits until every port is served and returns a stop that
// cancels it and returns what Run returned. The test's end stops it too.
func start(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	serving := 0
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if strings.HasPrefix(format, "Serving TCP") || strings.HasPrefix(format, "Echoing UDP") {
				if serving++; serving == len(cfg.TCPPorts)+len(cfg.UDPPorts) {
					close(ready)
				}
			}
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run() = %v before serving", err)
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestServe(t *testing.T) {
	tcp, udp := freePorts(t)
	start(t, Config{TCPPorts: []int{tcp}, UDPPorts: []int{udp}, Addr: loopback})

	t.Run("tcp banner", func(t *testing.T) {
		for range 2 { // the server goes on after the first client
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(loopback, strconv.Itoa(tcp)), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(conn)
			conn.Close()
			if err != nil || string(got) != Banner {
				t.Fatalf("read %q, %v; want %q then EOF", got, err, Banner)
			}
		}
	})
	t.Run("udp echo", func(t *testing.T) {
		conn, err := net.Dial("udp", net.JoinHostPort(loopback, strconv.Itoa(udp)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		for _, msg := range []string{"netconform-probe\n", "second"} {
			if _, err := conn.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			n, err := conn.Read(buf)
			if err != nil || string(buf[:n]) != msg {
				t.Fatalf("echo %q, %v; want %q", buf[:n], err, msg)
			}
		}
	})
}

func TestRunFailsOnBusyPort(t *testing.T) {
	busyTCP, err := net.Listen("tcp", loopback+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	busyUDP, err := net.ListenPacket("udp", loopback+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	tcpPort, udpPort := busyTCP.Addr().(*net.TCPAddr).Port, busyUDP.LocalAddr().(*net.UDPAddr).Port
	freeTCP, freeUDP := freePorts(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"tcp", Config{TCPPorts: []int{freeTCP, tcpPort}, Addr: loopback}, "TCP port " + strconv.Itoa(tcpPort)},
		{"udp", Config{TCPPorts: []int{freeTCP}, UDPPorts: []int{freeUDP, udpPort}, Addr: loopback}, "UDP port " + strconv.Itoa(udpPort)},
		{"nothing", Config{Addr: loopback}, "no ports to serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(t.Context(), tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run() = %v, want an error naming %q", err, tt.want)
			}
			// The ports bound before the failure were released.
			ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(freeTCP)))
			if err != nil {
				t.Fatalf("port %d still bound after the failure: %v", freeTCP, err)
			}
			ln.Close()
		})
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	tcp, udp := freePorts(t)
	stop := start(t, Config{TCPPorts: []int{tcp}, UDPPorts: []int{udp}, Addr: loopback})
	if err := stop(); err != nil {
		t.Fatalf("Run() = %v, want nil after cancel", err)
	}
	// Run closed its sockets before returning: both ports can be bound again.
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(tcp)))
	if err != nil {
		t.Fatalf("TCP port %d still bound: %v", tcp, err)
	}
	ln.Close()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(loopback, strconv.Itoa(udp)))
	if err != nil {
		t.Fatalf("UDP port %d still bound: %v", udp, err)
	}
	pc.Close()
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"8080", []int{8080}, ""},
		{"8080,5432", []int{8080, 5432}, ""},
		{" 53 , 8080 ", []int{53, 8080}, ""},
		{"1,65535", []int{1, 65535}, ""},
		{"", nil, ""},
		{"0", nil, `invalid port "0" in "0": ports are numbers from 1 to 65535`},
		{"65536", nil, `invalid port "65536"`},
		{"8080,http", nil, `invalid port "http" in "8080,http"`},
		{"8080,", nil, `invalid port "" in "8080,"`},
		{"-1", nil, `invalid port "-1"`},
		{"80,80", nil, `port 80 is listed twice in "80,80"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePorts(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePorts(%q) error %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParsePorts(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
