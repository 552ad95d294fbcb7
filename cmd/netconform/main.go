// Command netconform is the operator, the probe, the fixture server and the CI gate.
package main

import (
	"os"

	"github.com/netconform/netconform/cmd/netconform/app"
)

func main() {
	os.Exit(app.Run(os.Args[1:], os.Stdout, os.Stderr))
}
