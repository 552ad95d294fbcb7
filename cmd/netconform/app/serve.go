package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/netconform/netconform/internal/serve"
)

func runServe(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tcp := fs.String("tcp", "", "comma-separated TCP ports to accept connections on, such as 8080,5432")
	udp := fs.String("udp", "", "comma-separated UDP ports to echo datagrams on")
	addr := fs.String("address", "", "address to bind (default: all)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	cfg := serve.Config{Addr: *addr}
	var err error
	if cfg.TCPPorts, err = parseOptionalPorts(*tcp); err != nil {
		fmt.Fprintf(stderr, "netconform serve: --tcp: %v\n", err)
		return ExitUsage
	}
	if cfg.UDPPorts, err = parseOptionalPorts(*udp); err != nil {
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
