package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netconform/netconform/internal/version"
)

func newVersionCommand(code *int) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: body(code, func(cmd *cobra.Command, _ []string) int {
			fmt.Fprintln(cmd.OutOrStdout(), version.Version)
			return ExitOK
		}),
	}
}
