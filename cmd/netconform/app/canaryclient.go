package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/netconform/netconform/canary"
)

func runCanaryClient(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("canary-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "host:port of the canary server")
	interval := fs.Duration("interval", canary.Interval, "time between dials: the precision of the enforcement latency")
	timeout := fs.Duration("timeout", canary.DialTimeout, "time limit of each dial")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if _, _, err := net.SplitHostPort(*target); err != nil {
		fmt.Fprintf(stderr, "netconform canary-client: --target: want host:port, such as 10.244.0.7:8080: %v\n", err)
		return ExitUsage
	}
	if *interval <= 0 || *timeout <= 0 {
		fmt.Fprintln(stderr, "netconform canary-client: --interval and --timeout must be positive, such as 50ms and 1s")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := canary.Watch(ctx, *target, *interval, *timeout, stdout); err != nil {
		fmt.Fprintf(stderr, "netconform canary-client: %v\n", err)
		return ExitFail
	}
	return ExitOK
}
