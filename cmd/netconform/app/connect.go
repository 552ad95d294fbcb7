package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
	"github.com/netconform/netconform/probes/dialer"
)

// connectFailures are the words agnhost's connect prints first on stderr, so that
// scripts written for the upstream NetworkPolicy suite read netconform's answers alike.
var connectFailures = map[v1alpha1.Observation]string{
	v1alpha1.ObservedRefused:     "REFUSED",
	v1alpha1.ObservedTimeout:     "TIMEOUT",
	v1alpha1.ObservedDNSFailure:  "DNS",
	v1alpha1.ObservedUnreachable: "OTHER",
	v1alpha1.ObservedError:       "UNKNOWN",
}

// runConnect makes one connection attempt, as `agnhost connect HOST:PORT` does: exit 0
// when it connects, 1 otherwise, with the reason on stderr.
func runConnect(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Second, "time limit of the connection attempt (and the name look-up)")
	protocol := fs.String("protocol", "tcp", "tcp, or udp (connected only when a reply comes back)")
	target, rest := splitTarget(args)
	if err := fs.Parse(rest); err != nil {
		return ExitUsage
	}
	if target == "" && fs.NArg() == 1 {
		target = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "UNKNOWN: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	check, err := connectCheck(target, *protocol)
	if err != nil {
		fmt.Fprintf(stderr, "UNKNOWN: %v\n", err)
		return ExitUsage
	}
	r := dialer.Run(context.Background(), dialer.Config{Timeout: *timeout, Attempts: 1}, []probes.Check{check})[0]
	if r.Observation == v1alpha1.ObservedConnected {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %s\n", connectFailures[r.Observation], r.Message)
	return ExitFail
}

// splitTarget takes the destination off the front of args: agnhost's usage puts it
// before the flags, where the flag package would stop parsing.
func splitTarget(args []string) (target string, rest []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// connectCheck turns HOST:PORT and a protocol into the check the probe would make.
func connectCheck(target, protocol string) (probes.Check, error) {
	host, portText, err := net.SplitHostPort(target)
	if err != nil {
		return probes.Check{}, fmt.Errorf("want HOST:PORT, got %q", target)
	}
	port, err := strconv.ParseInt(portText, 10, 32)
	if err != nil || port < 1 || port > 65535 || host == "" {
		return probes.Check{}, fmt.Errorf("want HOST:PORT with a port from 1 to 65535, got %q", target)
	}
	kind := probes.Kind(strings.ToLower(protocol))
	if kind != probes.KindTCP && kind != probes.KindUDP {
		return probes.Check{}, fmt.Errorf("--protocol=%s: want tcp or udp", protocol)
	}
	return probes.Check{Edge: "connect", Kind: kind, Host: host, Port: int32(port)}, nil
}
