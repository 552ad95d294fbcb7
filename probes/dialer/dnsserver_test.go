package dialer

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Names the fake name server knows; any other name is NXDOMAIN.
const (
	nameLocal   = "catalog.test." // A 127.0.0.1
	nameAlias   = "alias.test."   // CNAME catalog.test., then its A
	nameV6      = "v6only.test."  // AAAA ::1 and no A
	nameEmpty   = "empty.test."   // no records at all
	nameBroken  = "broken.test."  // SERVFAIL
	nameRefused = "refused.test." // REFUSED
	nameSilent  = "silent.test."  // never answered
	nameBig     = "big.test."     // truncated over UDP, A 127.0.0.1 over TCP
	nameSpoofed = "spoofed.test." // a reply with the wrong ID comes first
	nameMissing = "missing.test." // NXDOMAIN, like every unknown name
	ttl         = 5
)

// fakeDNS serves the names above over UDP and TCP on one loopback port and returns
// its ip:port.
func fakeDNS(t *testing.T) string {
	t.Helper()
	for range 10 {
		pc, err := net.ListenPacket("udp", hostPort(0))
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", addr)
		if err != nil { // the TCP twin of the port is taken: pick another
			pc.Close()
			continue
		}
		t.Cleanup(func() { pc.Close(); ln.Close() })
		go serveDNSUDP(pc)
		go serveDNSTCP(ln)
		return addr
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return ""
}

func serveDNSUDP(pc net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		for _, out := range dnsAnswers(buf[:n], false) {
			_, _ = pc.WriteTo(out, from)
		}
	}
}

func serveDNSTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var size [2]byte
			if _, err := io.ReadFull(c, size[:]); err != nil {
				return
			}
			msg := make([]byte, binary.BigEndian.Uint16(size[:]))
			if _, err := io.ReadFull(c, msg); err != nil {
				return
			}
			for _, out := range dnsAnswers(msg, true) {
				_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...))
			}
		}()
	}
}

// dnsAnswers returns the packed replies to one query, in the order to send them.
func dnsAnswers(query []byte, overTCP bool) [][]byte {
	var m dnsmessage.Message
	if err := m.Unpack(query); err != nil || len(m.Questions) != 1 {
		return nil
	}
	q := m.Questions[0]
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: m.ID, Response: true, RecursionAvailable: true},
		Questions: m.Questions,
	}
	var first []byte
	switch strings.ToLower(q.Name.String()) {
	case nameSilent:
		return nil
	case nameLocal:
		resp.Answers = addrAnswer(q, "127.0.0.1")
	case nameAlias:
		target := dnsmessage.MustNewName(nameLocal)
		resp.Answers = append([]dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: ttl},
			Body:   &dnsmessage.CNAMEResource{CNAME: target},
		}}, addrAnswer(dnsmessage.Question{Name: target, Type: q.Type, Class: q.Class}, "127.0.0.1")...)
	case nameV6:
		resp.Answers = addrAnswer(q, "::1")
	case nameEmpty:
	case nameBroken:
		resp.RCode = dnsmessage.RCodeServerFailure
	case nameRefused:
		resp.RCode = dnsmessage.RCodeRefused
	case nameBig:
		resp.Truncated = !overTCP
		if overTCP {
			resp.Answers = addrAnswer(q, "127.0.0.1")
		}
	case nameSpoofed:
		forged := resp
		forged.ID++
		forged.RCode = dnsmessage.RCodeNameError
		first, _ = forged.Pack()
		resp.Answers = addrAnswer(q, "127.0.0.1")
	default:
		resp.RCode = dnsmessage.RCodeNameError
	}
	out, err := resp.Pack()
	if err != nil {
		return nil
	}
	if first != nil {
		return [][]byte{first, out}
	}
	return [][]byte{out}
}

// addrAnswer answers q with ip when ip is of q's type, and with nothing otherwise.
func addrAnswer(q dnsmessage.Question, ip string) []dnsmessage.Resource {
	a := netip.MustParseAddr(ip)
	h := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: dnsmessage.ClassINET, TTL: ttl}
	switch {
	case q.Type == dnsmessage.TypeA && a.Is4():
		return []dnsmessage.Resource{{Header: h, Body: &dnsmessage.AResource{A: a.As4()}}}
	case q.Type == dnsmessage.TypeAAAA && a.Is6():
		return []dnsmessage.Resource{{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}}}
	}
	return nil
}
