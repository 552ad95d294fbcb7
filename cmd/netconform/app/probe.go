package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netconform/netconform/probes"
	"github.com/netconform/netconform/probes/dialer"
)

// probeFlags are what the controller gives a probe pod (probes.ProbeArgs).
type probeFlags struct {
	timeout, settle, maxSettle time.Duration
	attempts                   int
	checksJSON, out            string
}

func newProbeCommand(code *int) *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe --checks JSON",
		Short: "Run checks inside a probe pod and report them in the termination message",
		Args:  noArgs("give the checks with --checks"),
		Run: body(code, func(cmd *cobra.Command, _ []string) int {
			return runProbe(f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		}),
	}
	fs := cmd.Flags()
	fs.DurationVar(&f.timeout, "timeout", 2*time.Second, "time limit of each connection attempt and look-up")
	fs.IntVar(&f.attempts, "attempts", 3, "attempts per check while what it sees differs from what is expected")
	fs.StringVar(&f.checksJSON, "checks", "", "the checks to run, as the controller encodes them")
	fs.DurationVar(&f.settle, "settle", 0, "time a check without a policy verdict waits before its first attempt, for the policy enforcer to program this pod")
	fs.DurationVar(&f.maxSettle, "max-settle", 0, "time after the start a check with a policy verdict is retried while the dataplane disagrees with it")
	fs.StringVar(&f.out, "termination-log", "/dev/termination-log", "file the encoded results are written to")
	return cmd
}

func runProbe(f probeFlags, stdout, stderr io.Writer) int {
	checks, err := probes.DecodeChecks(f.checksJSON)
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
	cfg := dialer.Config{Timeout: f.timeout, Attempts: max(f.attempts, 1), Settle: f.settle, MaxSettle: f.maxSettle}
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
	if err := os.WriteFile(f.out, []byte(encoded), 0o644); err != nil {
		fmt.Fprintf(stderr, "netconform probe: writing results: %v\n", err)
		return ExitFail
	}
	return ExitOK
}
