package dialer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// udpPayload is what a UDP check sends; netconform serve echoes it back.
var udpPayload = []byte("netconform-probe\n")

// attempt makes one try of c.
func (p *prober) attempt(ctx context.Context, c probes.Check) probes.Result {
	if c.Kind == probes.KindDNS {
		return p.lookupCheck(ctx, c.Host)
	}
	addr, failed := p.address(ctx, c.Host)
	if failed != nil {
		return *failed
	}
	target := net.JoinHostPort(addr.String(), strconv.Itoa(int(c.Port)))
	var err error
	switch c.Kind {
	case probes.KindTCP:
		err = p.dialTCP(ctx, target)
	case probes.KindUDP:
		err = p.exchangeUDP(ctx, target)
	default:
		return probes.Result{Observation: v1alpha1.ObservedError, Message: fmt.Sprintf("unknown check kind %q", c.Kind)}
	}
	r := probes.Result{Observation: v1alpha1.ObservedConnected, Target: target}
	if err != nil {
		r.Observation, r.Message = Classify(err)
	}
	if r.Observation == v1alpha1.ObservedTimeout {
		r.Message = fmt.Sprintf("no answer within %s", p.timeout)
	}
	return r
}

// address returns host as an IP, resolving a name through our own resolver so that a
// failure keeps its cause. On failure it returns the result to report instead.
func (p *prober) address(ctx context.Context, host string) (netip.Addr, *probes.Result) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	if p.resolverErr != nil {
		return netip.Addr{}, &probes.Result{Observation: v1alpha1.ObservedError, Message: p.resolverErr.Error()}
	}
	addrs, server, err := p.resolver.lookup(ctx, host)
	if err != nil {
		return netip.Addr{}, &probes.Result{Observation: v1alpha1.ObservedDNSFailure, Target: server, Message: err.Error()}
	}
	return addrs[0], nil
}

// dialTCP completes a handshake with target and hangs up.
func (p *prober) dialTCP(ctx context.Context, target string) error {
	d := net.Dialer{Timeout: p.timeout}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	return conn.Close()
}

// exchangeUDP sends one datagram and waits for any reply: UDP has no handshake, so only
// an answer proves that traffic got through both ways.
func (p *prober) exchangeUDP(ctx context.Context, target string) error {
	d := net.Dialer{Timeout: p.timeout}
	conn, err := d.DialContext(ctx, "udp", target)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := watch(ctx, conn, p.timeout)
	defer stop()
	if _, err := conn.Write(udpPayload); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 1500))
	return err
}

// watch bounds conn's I/O by timeout and unblocks it when ctx ends.
func watch(ctx context.Context, conn net.Conn, timeout time.Duration) (stop func() bool) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// Classify maps a dial or I/O error to an observation and a short message.
func Classify(err error) (v1alpha1.Observation, string) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return v1alpha1.ObservedRefused, "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return v1alpha1.ObservedUnreachable, "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return v1alpha1.ObservedUnreachable, "network unreachable"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		// A local firewall rule rejected the packet before it left.
		return v1alpha1.ObservedUnreachable, "rejected locally: " + errnoText(err)
	case isTimeout(err):
		return v1alpha1.ObservedTimeout, "timeout"
	}
	return v1alpha1.ObservedError, err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
