// Package app is the netconform command line: this file builds the command tree and
// turns its outcome into an exit code, each subcommand has a file of its own,
// cluster.go holds what the commands that talk to a cluster share, reconcilerflags.go
// the reconciler's flags that manager and run share, and suggest.go the help on typos.
package app

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// pluginPrefix starts the name of a binary kubectl runs as a plugin: kubectl-netconform
// is `kubectl netconform`. kubectl asks a binary named with completePrefix
// (kubectl_complete-netconform) to complete the plugin's command lines.
const (
	pluginPrefix   = "kubectl-"
	completePrefix = "kubectl_complete-"
)

// Run executes the subcommand named by args[0] and returns the process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	return RunAs("netconform", args, stdout, stderr)
}

// RunAs is Run for a binary called by the path binary (os.Args[0]): installed as
// kubectl-netconform, its usage text reads `kubectl netconform`.
func RunAs(binary string, args []string, stdout, stderr io.Writer) int {
	if strings.HasPrefix(filepath.Base(binary), completePrefix) {
		args = append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	code := ExitOK
	root := newRootCommand(displayName(binary), &code)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if len(args) == 0 {
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		root.SetOut(stderr)
		_ = root.Usage()
		return ExitUsage
	}
	cmd, err := root.ExecuteC()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), strings.TrimRight(err.Error(), "\n"))
		fmt.Fprintf(stderr, "See '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	}
	return code
}

// displayName is how usage text names the binary: `kubectl netconform` when kubectl
// runs it as a plugin, else netconform, whatever the file is called.
func displayName(binary string) string {
	name := strings.TrimSuffix(filepath.Base(binary), ".exe")
	if plugin, ok := strings.CutPrefix(name, completePrefix); ok && plugin != "" {
		return "kubectl " + plugin
	}
	if plugin, ok := strings.CutPrefix(name, pluginPrefix); ok && plugin != "" {
		return "kubectl " + strings.ReplaceAll(plugin, "_", "-")
	}
	return "netconform"
}

func newRootCommand(name string, code *int) *cobra.Command {
	root := &cobra.Command{
		Use:   "netconform",
		Short: "Prove on a live cluster that NetworkPolicy is really enforced",
		Long: "netconform proves on a live cluster that NetworkPolicy is really enforced: it runs the edges of\n" +
			"ReachabilityTests from probe pods and compares what they saw with what was declared.",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: name},
		SilenceErrors: true, // RunAs prints them, with the exit code they deserve
		SilenceUsage:  true,
	}
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(suggestFlag)
	root.SetUsageFunc(usage)
	for _, newCommand := range []func(*int) *cobra.Command{
		newCanaryClientCommand, newConnectCommand, newExplainCommand, newGenerateCommand, newManagerCommand,
		newProbeCommand, newRunCommand, newServeCommand, newVersionCommand,
	} {
		cmd := newCommand(code)
		cmd.Example = strings.ReplaceAll(cmd.Example, "  netconform ", "  "+name+" ")
		root.AddCommand(cmd)
	}
	return root
}

// body adapts a subcommand that returns an exit code to cobra, which knows only errors:
// the code is kept for RunAs.
func body(code *int, run func(cmd *cobra.Command, args []string) int) func(*cobra.Command, []string) {
	return func(cmd *cobra.Command, args []string) {
		*code = run(cmd, args)
	}
}

// noArgs refuses positional arguments, saying where what they meant goes instead.
func noArgs(instead string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unexpected argument %q: %s", args[0], instead)
		}
		return nil
	}
}
