package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netconform/netconform/canary"
)

func newCanaryClientCommand(code *int) *cobra.Command {
	var target string
	var interval, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "canary-client --target HOST:PORT",
		Short: "Probe the canary server without pause and log each change in what gets through",
		Args:  noArgs("give the server with --target"),
		Run: body(code, func(cmd *cobra.Command, _ []string) int {
			return runCanaryClient(target, interval, timeout, cmd.OutOrStdout(), cmd.ErrOrStderr())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&target, "target", "", "host:port of the canary server")
	fs.DurationVar(&interval, "interval", canary.Interval, "time between dials: the precision of the enforcement latency")
	fs.DurationVar(&timeout, "timeout", canary.DialTimeout, "time limit of each dial")
	return cmd
}

func runCanaryClient(target string, interval, timeout time.Duration, stdout, stderr io.Writer) int {
	if _, _, err := net.SplitHostPort(target); err != nil {
		fmt.Fprintf(stderr, "netconform canary-client: --target: want host:port, such as 10.244.0.7:8080: %v\n", err)
		return ExitUsage
	}
	if interval <= 0 || timeout <= 0 {
		fmt.Fprintln(stderr, "netconform canary-client: --interval and --timeout must be positive, such as 50ms and 1s")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := canary.Watch(ctx, target, interval, timeout, stdout); err != nil {
		fmt.Fprintf(stderr, "netconform canary-client: %v\n", err)
		return ExitFail
	}
	return ExitOK
}
