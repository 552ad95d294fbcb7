package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

func newConnectCommand(code *int) *cobra.Command {
	var timeout time.Duration
	var protocol string
	cmd := &cobra.Command{
		Use:   "connect HOST:PORT [--timeout 5s] [--protocol tcp|udp]",
		Short: "Make one TCP or UDP connection, as agnhost connect does: exit 0 when it connects",
		Args:  cobra.ArbitraryArgs, // runConnect answers in agnhost's words
		Run: body(code, func(cmd *cobra.Command, args []string) int {
			return runConnect(args, timeout, protocol, cmd.ErrOrStderr())
		}),
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "time limit of the connection attempt (and the name look-up)")
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp, or udp (connected only when a reply comes back)")
	return cmd
}

// runConnect makes one connection attempt, as `agnhost connect HOST:PORT` does: exit 0
// when it connects, 1 otherwise, with the reason on stderr.
func runConnect(args []string, timeout time.Duration, protocol string, stderr io.Writer) int {
	if len(args) != 1 {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "UNKNOWN: want HOST:PORT")
		} else {
			fmt.Fprintf(stderr, "UNKNOWN: unexpected argument %q\n", args[1])
		}
		return ExitUsage
	}
	check, err := connectCheck(args[0], protocol)
	if err != nil {
		fmt.Fprintf(stderr, "UNKNOWN: %v\n", err)
		return ExitUsage
	}
	r := dialer.Run(context.Background(), dialer.Config{Timeout: timeout, Attempts: 1}, []probes.Check{check})[0]
	if r.Observation == v1alpha1.ObservedConnected {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %s\n", connectFailures[r.Observation], r.Message)
	return ExitFail
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
