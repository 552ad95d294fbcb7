// Command netconform is the operator, the probe, the fixture server and the CI gate;
// installed as kubectl-netconform, it is the kubectl plugin `kubectl netconform`.
package main

import (
	"os"

	"github.com/netconform/netconform/cmd/netconform/app"
)

func main() {
	os.Exit(app.RunAs(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}
