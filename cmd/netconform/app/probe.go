package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/netconform/netconform/probes"
	"github.com/netconform/netconform/probes/dialer"
)

func runProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "time limit of each connection attempt and look-up")
	attempts := fs.Int("attempts", 3, "attempts per check while what it sees differs from what is expected")
	checksJSON := fs.String("checks", "", "the checks to run, as the controller encodes them")
	settle := fs.Duration("settle", 0, "time a check without a policy verdict waits before its first attempt, for the policy enforcer to program this pod")
	maxSettle := fs.Duration("max-settle", 0, "time after the start a check with a policy verdict is retried while the dataplane disagrees with it")
	out := fs.String("termination-log", "/dev/termination-log", "file the encoded results are written to")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	checks, err := probes.DecodeChecks(*checksJSON)
	if err != nil {
		fmt.Fprintf(stderr, "netconform probe: --checks: %v\n", err)
		return ExitUsage
	}
	checks = probes.Made(checks) // a connection several edges share is made once
	if len(checks) > probes.MaxChecksPerPod {
		fmt.Fprintf(stderr, "netconform probe: --checks holds %d checks, at most %d fit in one pod\n", len(checks), probes.MaxChecksPerPod)
		return ExitUsage
	}
	start := time.Now()
	cfg := dialer.Config{Timeout: *timeout, Attempts: max(*attempts, 1), Settle: *settle, MaxSettle: *maxSettle}
	results := dialer.Run(context.Background(), cfg, checks)
	took := time.Since(start)
	var oneAfterAnother time.Duration
	for i, c := range checks {
		r := results[i]
		oneAfterAnother += r.Latency
		fmt.Fprintf(stdout, "%s %s %s -> %s (%s, %d attempts) %s\n", c.Edge, c.Kind, c.Address(), r.Observation, r.Latency.Round(time.Millisecond), r.Attempts, r.Message)
	}
	// The checks run at once: say how long they took, and what their last attempts alone
	// would have taken one after another.
	fmt.Fprintf(stdout, "%d checks in %s (last attempts add up to %s)\n", len(checks), took.Round(time.Millisecond), oneAfterAnother.Round(time.Millisecond))
	encoded, err := probes.EncodeResults(results)
	if err != nil {
		fmt.Fprintf(stderr, "netconform probe: %v\n", err)
		return ExitFail
	}
	if err := os.WriteFile(*out, []byte(encoded), 0o644); err != nil {
		fmt.Fprintf(stderr, "netconform probe: writing results: %v\n", err)
		return ExitFail
	}
	return ExitOK
}
