package dialer

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Every helper listens on 127.0.0.1 only: the tests send no traffic anywhere else.

const loopback = "127.0.0.1"

func hostPort(port int) string { return net.JoinHostPort(loopback, strconv.Itoa(port)) }

// tcpServer accepts and closes connections on a free loopback port.
func tcpServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", hostPort(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePort returns a loopback port that nothing listens on for network ("tcp" or "udp").
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "tcp":
		ln, err := net.Listen("tcp", hostPort(0))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	default:
		pc, err := net.ListenPacket("udp", hostPort(0))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
}

// udpServer reads datagrams on a free loopback port and echoes them when echo is set.
func udpServer(t *testing.T, echo bool) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", hostPort(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if echo {
				_, _ = pc.WriteTo(buf[:n], from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// blackholePort returns a loopback port whose SYNs go unanswered: a socket listens with
// a backlog of 0 and never accepts, and once its accept queue is full the kernel drops
// further SYNs (it neither answers nor resets), which is what a dropping policy does.
func blackholePort(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	for range 16 {
		c, err := net.DialTimeout("tcp", hostPort(port), 200*time.Millisecond)
		if isTimeout(err) {
			return port
		}
		if err != nil {
			t.Fatalf("filling the accept queue: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the accept queue of a backlog-0 socket never filled")
	return 0
}

// listenLate starts a server on a freed port, one that comes up while a probe retries;
// false when it cannot.
func listenLate(t *testing.T, port int) bool {
	t.Helper()
	ln, err := net.Listen("tcp", hostPort(port))
	if err != nil {
		t.Errorf("listening on the freed port: %v", err)
		return false
	}
	t.Cleanup(func() { ln.Close() })
	return true
}
