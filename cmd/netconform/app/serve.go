package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netconform/netconform/internal/serve"
)

func newServeCommand(code *int) *cobra.Command {
	var tcp, udp []string
	var addr string
	cmd := &cobra.Command{
		Use:   "serve --tcp PORTS [--udp PORTS]",
		Short: "Listen on TCP ports and echo UDP, for fixtures and canaries",
		Args:  noArgs("give the ports with --tcp or --udp"),
		Run: body(code, func(cmd *cobra.Command, _ []string) int {
			return runServe(strings.Join(tcp, ","), strings.Join(udp, ","), addr, cmd.ErrOrStderr())
		}),
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&tcp, "tcp", nil, "comma-separated TCP ports to accept connections on, such as 8080,5432 (repeatable)")
	fs.StringArrayVar(&udp, "udp", nil, "comma-separated UDP ports to echo datagrams on (repeatable)")
	fs.StringVar(&addr, "address", "", "address to bind (default: all)")
	return cmd
}

func runServe(tcp, udp, addr string, stderr io.Writer) int {
	cfg := serve.Config{Addr: addr}
	var err error
	if cfg.TCPPorts, err = parseOptionalPorts(tcp); err != nil {
		fmt.Fprintf(stderr, "netconform serve: --tcp: %v\n", err)
		return ExitUsage
	}
	if cfg.UDPPorts, err = parseOptionalPorts(udp); err != nil {
		fmt.Fprintf(stderr, "netconform serve: --udp: %v\n", err)
		return ExitUsage
	}
	if len(cfg.TCPPorts)+len(cfg.UDPPorts) == 0 {
		fmt.Fprintln(stderr, "netconform serve: give at least one port with --tcp or --udp, for example --tcp 8080")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	if err := serve.Run(ctx, cfg, logf); err != nil {
		fmt.Fprintf(stderr, "netconform serve: %v\n", err)
		return ExitFail
	}
	return ExitOK
}

func parseOptionalPorts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	return serve.ParsePorts(s)
}
