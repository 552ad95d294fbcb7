// Package serve is `netconform serve`: a TCP listener that greets and hangs up and a UDP
// echo, the destinations that fixtures and the enforcement canary probe.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Banner is what every TCP client reads before the server hangs up.
const Banner = "netconform\n"

// writeTimeout bounds the banner write, so a client that never reads cannot pin a goroutine.
const writeTimeout = 5 * time.Second

// Config names the ports to serve.
type Config struct {
	TCPPorts []int
	UDPPorts []int
	// Addr is the host to bind; empty binds every address.
	Addr string
}

// Run listens on every port until ctx is done. It binds all ports before serving any,
// so a port that cannot be bound fails the whole server at once, named in the error.
func Run(ctx context.Context, cfg Config, log func(format string, args ...any)) error {
	if log == nil {
		log = func(string, ...any) {}
	}
	if len(cfg.TCPPorts)+len(cfg.UDPPorts) == 0 {
		return errors.New("no ports to serve")
	}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	var lc net.ListenConfig
	var listeners []net.Listener
	for _, port := range cfg.TCPPorts {
		ln, err := lc.Listen(ctx, "tcp", bindAddr(cfg.Addr, port))
		if err != nil {
			closeAll()
			return fmt.Errorf("listening on TCP port %d: %w", port, err)
		}
		listeners, closers = append(listeners, ln), append(closers, ln.Close)
	}
	var conns []net.PacketConn
	for _, port := range cfg.UDPPorts {
		pc, err := lc.ListenPacket(ctx, "udp", bindAddr(cfg.Addr, port))
		if err != nil {
			closeAll()
			return fmt.Errorf("listening on UDP port %d: %w", port, err)
		}
		conns, closers = append(conns, pc), append(closers, pc.Close)
	}

	// Closing the sockets is what ends the loops below.
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	var wg sync.WaitGroup
	for _, ln := range listeners {
		log("Serving TCP on %s", ln.Addr())
		wg.Go(func() { serveTCP(ctx, ln, log) })
	}
	for _, pc := range conns {
		log("Echoing UDP on %s", pc.LocalAddr())
		wg.Go(func() { echoUDP(ctx, pc, log) })
	}
	wg.Wait()
	return nil
}

func bindAddr(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// serveTCP greets each client and hangs up until ln is closed.
func serveTCP(ctx context.Context, ln net.Listener, log func(string, ...any)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Such as running out of file descriptors: wait for some to be freed.
			log("Accepting on %s: %v", ln.Addr(), err)
			pause(ctx)
			continue
		}
		wg.Go(func() {
			defer conn.Close()
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			_, _ = conn.Write([]byte(Banner))
		})
	}
}

// echoUDP sends every datagram back to its sender until pc is closed.
func echoUDP(ctx context.Context, pc net.PacketConn, log func(string, ...any)) {
	buf := make([]byte, 64*1024)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			log("Reading on %s: %v", pc.LocalAddr(), err)
			pause(ctx)
			continue
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			log("Echoing to %s: %v", from, err)
		}
	}
}

func pause(ctx context.Context) {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ParsePorts parses a comma-separated list of ports such as "8080,5432". An empty
// string is no ports.
func ParsePorts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ports []int
	seen := map[int]bool{}
	for field := range strings.SplitSeq(s, ",") {
		field = strings.TrimSpace(field)
		port, err := strconv.Atoi(field)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("invalid port %q in %q: ports are numbers from 1 to 65535", field, s)
		}
		if seen[port] {
			return nil, fmt.Errorf("port %d is listed twice in %q", port, s)
		}
		seen[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}
