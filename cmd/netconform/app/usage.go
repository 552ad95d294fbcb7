package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// clientFlag marks kubectl's client flags, which usage lists apart from a command's own.
const clientFlag = "netconform.io/client-flag"

// markClientFlags adds the flags of from to fs, marked as client flags.
func markClientFlags(fs, from *pflag.FlagSet) {
	from.VisitAll(func(f *pflag.Flag) {
		_ = from.SetAnnotation(f.Name, clientFlag, []string{"true"})
		fs.AddFlag(f)
	})
}

// usage is cobra's usage text, with kubectl's client flags apart from the command's own
// so that these stay readable.
func usage(c *cobra.Command) error {
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() {
		b.WriteString("\n  " + c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n  " + c.CommandPath() + " [command]")
	}
	if c.HasExample() {
		b.WriteString("\n\nExamples:\n" + c.Example)
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n\nAvailable Commands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(&b, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	own, client := pflag.NewFlagSet("own", pflag.ContinueOnError), pflag.NewFlagSet("client", pflag.ContinueOnError)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[clientFlag]; ok {
			client.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	for _, section := range []struct {
		title string
		flags *pflag.FlagSet
	}{{"Flags", own}, {"Kubernetes client flags", client}, {"Global Flags", c.InheritedFlags()}} {
		if section.flags.HasAvailableFlags() {
			b.WriteString("\n\n" + section.title + ":\n" + strings.TrimRight(section.flags.FlagUsages(), " \n"))
		}
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	fmt.Fprintln(c.OutOrStderr(), b.String())
	return nil
}
