//go:build linux

// Command pause is the pod sandbox ("pause") container for the local e2e
// cluster. Its only jobs are to hold the pod's namespaces open until the
// runtime stops it (SIGTERM/SIGINT, exit 0) and, because it is PID 1 of the
// sandbox's PID namespace (which every container shares when
// shareProcessNamespace is set), to reap orphaned children so they don't pile
// up as zombies. Build it statically: CGO_ENABLED=0 go build ./e2e/cluster/pause
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// SIGCHLDs coalesce, so reap every exited child, not just one.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if pid <= 0 || err != nil { // 0: children still running; ECHILD: none left
				break
			}
		}
	}
}
