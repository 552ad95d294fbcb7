// Package app is the netconform command line: this file dispatches, each subcommand has
// a file of its own, cluster.go holds what the commands that talk to a cluster share, and
// reconcilerflags.go the reconciler's flags that manager and run share.
package app

import (
	"fmt"
	"io"
	"sort"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"canary-client": {"probe the canary server without pause and log each change in what gets through", runCanaryClient},
	"connect":       {"make one TCP or UDP connection, as agnhost connect does: exit 0 when it connects", runConnect},
	"explain":       {"say whether the cluster's NetworkPolicies allow a connection, and why, without sending a packet", runExplain},
	"generate":      {"print a ReachabilityTest of the edges a namespace's NetworkPolicies imply, to review and commit", runGenerate},
	"manager":       {"run the operator", runManager},
	"probe":         {"run checks inside a probe pod and report them in the termination message", runProbe},
	"run":           {"apply ReachabilityTests, run them and exit 0 (passed), 1 (failed) or 2 (could not run)", runRun},
	"serve":         {"listen on TCP ports and echo UDP, for fixtures and canaries", runServe},
	"version":       {"print the version", runVersion},
}

// Run executes the subcommand named by args[0] and returns the process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "netconform: unknown command %q\n\n", args[0])
		usage(stderr)
		return ExitUsage
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: netconform COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-13s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'netconform COMMAND -h' for the flags of a command.")
}
