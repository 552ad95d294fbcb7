// Package version holds the build's version, set at link time.
package version

// Version is set with -ldflags "-X github.com/netconform/netconform/internal/version.Version=...".
var Version = "dev"

// DefaultImage is the image probe pods run unless the manager or a test says otherwise.
func DefaultImage() string {
	tag := Version
	if tag == "dev" {
		tag = "latest"
	}
	return "ghcr.io/netconform/netconform:" + tag
}
