package app

import (
	"fmt"
	"io"

	"github.com/netconform/netconform/internal/version"
)

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, version.Version)
	return ExitOK
}
