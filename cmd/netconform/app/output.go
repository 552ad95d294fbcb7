package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/netconform/netconform/internal/gate"
)

// reportFormats are what `run -o` prints: the report's formats.
var reportFormats = gate.Outputs()

// registerOutputCompletion makes the shell complete -o with the formats a command prints.
func registerOutputCompletion(cmd *cobra.Command, formats []string) {
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

// checkOutput names the formats a command prints when -o asks for another.
func checkOutput(output string, formats []string) error {
	if !slices.Contains(formats, output) {
		return fmt.Errorf("--output %q: use %s", output, strings.Join(formats, ", "))
	}
	return nil
}

// aliases keeps the names Go's flag package gave some flags (--f) working beside the
// names kubectl gives them (--filename).
func aliases(old map[string]string) func(*pflag.FlagSet, string) pflag.NormalizedName {
	return func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := old[name]; ok {
			return pflag.NormalizedName(to)
		}
		return pflag.NormalizedName(name)
	}
}
