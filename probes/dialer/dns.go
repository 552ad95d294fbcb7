package dialer

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// resolver queries name servers itself, rather than through the system resolver, so that
// a failed look-up keeps its cause (NXDOMAIN, SERVFAIL, timeout, refused) and its server.
type resolver struct {
	servers []string // ip:port
	timeout time.Duration
}

var (
	errNoRecords = errors.New("no A or AAAA records")
	// errMismatch marks a datagram that answers some other query; the wait goes on.
	errMismatch = errors.New("reply does not match the query")
)

// rcodeError is a reply that failed with a response code.
type rcodeError dnsmessage.RCode

func (e rcodeError) Error() string {
	switch dnsmessage.RCode(e) {
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeRefused:
		return "REFUSED by name server"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	}
	return fmt.Sprintf("rcode %d", uint16(e))
}

// lookupError is a failed look-up of one name through one server.
type lookupError struct {
	name   string
	server string
	err    error
}

func (e *lookupError) Error() string {
	cause := e.err.Error()
	var rc rcodeError
	if !errors.As(e.err, &rc) && !errors.Is(e.err, errNoRecords) {
		switch o, _ := Classify(e.err); o {
		case v1alpha1.ObservedTimeout:
			cause = "timeout: no reply from " + e.server
		case v1alpha1.ObservedRefused:
			cause = "connection refused by name server " + e.server
		case v1alpha1.ObservedUnreachable:
			cause = "name server " + e.server + " unreachable: " + errnoText(e.err)
		}
	}
	return "lookup " + e.name + ": " + cause
}

func (e *lookupError) Unwrap() error { return e.err }

// lookupCheck is a dns check: any address in the answer means the look-up got through.
func (p *prober) lookupCheck(ctx context.Context, host string) probes.Result {
	if p.resolverErr != nil {
		return probes.Result{Observation: v1alpha1.ObservedError, Message: p.resolverErr.Error()}
	}
	_, server, err := p.resolver.lookup(ctx, host)
	r := probes.Result{Observation: v1alpha1.ObservedConnected, Target: server}
	if err != nil {
		r.Observation, r.Message = lookupObservation(err), err.Error()
	}
	return r
}

// lookupObservation tells an answer that failed (DNSFailure) from a server that could
// not be reached at all (Timeout, Refused, Unreachable).
func lookupObservation(err error) v1alpha1.Observation {
	var rc rcodeError
	if errors.As(err, &rc) || errors.Is(err, errNoRecords) {
		return v1alpha1.ObservedDNSFailure
	}
	o, _ := Classify(err)
	return o
}

// lookup returns host's A records, or its AAAA records when it has no A, and the server
// that answered last.
func (r *resolver) lookup(ctx context.Context, host string) ([]netip.Addr, string, error) {
	display := strings.TrimSuffix(host, ".")
	name, err := dnsmessage.NewName(display + ".")
	if err != nil {
		return nil, "", &lookupError{name: display, err: err}
	}
	server := ""
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		var addrs []netip.Addr
		addrs, server, err = r.query(ctx, dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET})
		if err != nil {
			return nil, server, &lookupError{name: display, server: server, err: err}
		}
		if len(addrs) > 0 {
			return addrs, server, nil
		}
	}
	return nil, server, &lookupError{name: display, server: server, err: errNoRecords}
}

// query asks each server in turn until one gives an authoritative answer: an address
// list or NXDOMAIN. Otherwise it returns the last server's failure.
func (r *resolver) query(ctx context.Context, q dnsmessage.Question) ([]netip.Addr, string, error) {
	// Packed once, so that a name that cannot be sent fails before any server is asked.
	msg, err := (&dnsmessage.Message{
		Header:    dnsmessage.Header{RecursionDesired: true},
		Questions: []dnsmessage.Question{q},
	}).Pack()
	if err != nil {
		return nil, "", err
	}
	err = errors.New("no name servers")
	server := ""
	for _, server = range r.servers {
		var rep reply
		rep, err = r.exchange(ctx, server, msg, q)
		switch {
		case err != nil: // a network failure: the next server may answer
		case rep.rcode == dnsmessage.RCodeSuccess:
			return rep.addrs, server, nil
		case rep.rcode == dnsmessage.RCodeNameError:
			return nil, server, rcodeError(rep.rcode)
		default:
			err = rcodeError(rep.rcode)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, server, err
}

// reply is what matters of a DNS response.
type reply struct {
	rcode     dnsmessage.RCode
	truncated bool
	addrs     []netip.Addr
}

// exchange sends q to server over UDP, and again over TCP when the answer was truncated.
// packed is q as a message; exchange gives it a fresh ID.
func (r *resolver) exchange(ctx context.Context, server string, packed []byte, q dnsmessage.Question) (reply, error) {
	id := uint16(rand.Uint32()) // unpredictable, so a stray or forged datagram is ignored
	msg := append(binary.BigEndian.AppendUint16(nil, id), packed[2:]...)
	rep, err := r.exchangeUDP(ctx, server, msg, id, q)
	if err == nil && rep.truncated {
		rep, err = r.exchangeTCP(ctx, server, msg, id, q)
	}
	return rep, err
}

func (r *resolver) exchangeUDP(ctx context.Context, server string, msg []byte, id uint16, q dnsmessage.Question) (reply, error) {
	d := net.Dialer{Timeout: r.timeout}
	conn, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return reply{}, err
	}
	defer conn.Close()
	stop := watch(ctx, conn, r.timeout)
	defer stop()
	if _, err := conn.Write(msg); err != nil {
		return reply{}, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return reply{}, err
		}
		rep, err := parseReply(buf[:n], id, q)
		if !errors.Is(err, errMismatch) {
			return rep, err
		}
	}
}

func (r *resolver) exchangeTCP(ctx context.Context, server string, msg []byte, id uint16, q dnsmessage.Question) (reply, error) {
	d := net.Dialer{Timeout: r.timeout}
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return reply{}, err
	}
	defer conn.Close()
	stop := watch(ctx, conn, r.timeout)
	defer stop()
	if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
		return reply{}, err
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return reply{}, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return reply{}, err
	}
	return parseReply(buf, id, q)
}

// parseReply reads the answer to q out of b, or errMismatch when b answers another query.
func parseReply(b []byte, id uint16, q dnsmessage.Question) (reply, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || h.ID != id || !h.Response {
		return reply{}, errMismatch
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class ||
		!strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		return reply{}, errMismatch
	}
	rep := reply{rcode: h.RCode, truncated: h.Truncated}
	if rep.truncated || rep.rcode != dnsmessage.RCodeSuccess {
		return rep, nil
	}
	rep.addrs, err = answerAddrs(&p, q.Type)
	if err != nil {
		return reply{}, fmt.Errorf("malformed reply: %w", err)
	}
	return rep, nil
}

// answerAddrs collects the answers of type t; a CNAME chain's records are skipped.
func answerAddrs(p *dnsmessage.Parser, t dnsmessage.Type) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for {
		h, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return addrs, nil
		}
		if err != nil {
			return nil, err
		}
		switch {
		case h.Type != t:
			err = p.SkipAnswer()
		case t == dnsmessage.TypeA:
			var a dnsmessage.AResource
			if a, err = p.AResource(); err == nil {
				addrs = append(addrs, netip.AddrFrom4(a.A))
			}
		case t == dnsmessage.TypeAAAA:
			var a dnsmessage.AAAAResource
			if a, err = p.AAAAResource(); err == nil {
				addrs = append(addrs, netip.AddrFrom16(a.AAAA))
			}
		default:
			err = p.SkipAnswer()
		}
		if err != nil {
			return nil, err
		}
	}
}

// nameServers returns cfg's name servers as ip:port, read from resolv.conf when none is set.
func nameServers(cfg Config) ([]string, error) {
	if len(cfg.NameServers) == 0 {
		path := cmp.Or(cfg.ResolvConf, defaultResolvConf)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading name servers: %w", err)
		}
		defer f.Close()
		servers, err := parseResolvConf(f)
		if err == nil && len(servers) == 0 {
			err = errors.New("no nameserver line")
		}
		if err != nil {
			return nil, fmt.Errorf("reading name servers from %s: %w", path, err)
		}
		return servers, nil
	}
	servers := make([]string, 0, len(cfg.NameServers))
	for _, s := range cfg.NameServers {
		ap, err := serverAddr(s)
		if err != nil {
			return nil, fmt.Errorf("name server %q is not an ip or ip:port", s)
		}
		servers = append(servers, ap.String())
	}
	return servers, nil
}

// parseResolvConf returns the nameserver lines of a resolv.conf as ip:port, skipping
// lines that are not an IP, as the C library does.
func parseResolvConf(r io.Reader) ([]string, error) {
	var servers []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if ap, err := serverAddr(f[1]); err == nil {
			servers = append(servers, ap.String())
		}
	}
	return servers, sc.Err()
}

// serverAddr parses ip:port or a bare ip, which means port 53.
func serverAddr(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ip, 53), nil
}
