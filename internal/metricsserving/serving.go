// Package metricsserving is how the manager serves /metrics: over HTTPS, to callers the
// API server authenticates (TokenReview) and authorises (SubjectAccessReview) for a get on
// /metrics, as kubebuilder scaffolds it. The metrics map the cluster's open holes, so there
// is no plain-HTTP mode: --metrics-bind-address=0 turns them off instead.
package metricsserving

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Port is the manager's metrics port; config/manager and the NetworkPolicy name it too.
const Port = 8443

// Flags are the manager's metrics flags.
type Flags struct {
	BindAddress string
	// CertPath is a folder holding a certificate and its key; empty: a self-signed one.
	CertPath, CertName, KeyName string
}

// Bind registers the flags, with their defaults, on fs.
func (f *Flags) Bind(fs *flag.FlagSet) {
	fs.StringVar(&f.BindAddress, "metrics-bind-address", fmt.Sprintf(":%d", Port),
		"address the Prometheus metrics are served on, over HTTPS to callers allowed to get /metrics; 0 disables them")
	fs.StringVar(&f.CertPath, "metrics-cert-path", "",
		"folder holding the metrics server's certificate and key, such as a mounted cert-manager Secret; reloaded when they change (default: a self-signed certificate made at start)")
	fs.StringVar(&f.CertName, "metrics-cert-name", "tls.crt", "file name of the metrics certificate in --metrics-cert-path")
	fs.StringVar(&f.KeyName, "metrics-cert-key", "tls.key", "file name of the metrics certificate's key in --metrics-cert-path")
}

// Validate names the flag and the fix when the certificate cannot be read; the server
// itself would fall back to a self-signed certificate without a word.
func (f *Flags) Validate() error {
	if f.CertPath == "" {
		if f.CertName != "tls.crt" || f.KeyName != "tls.key" {
			return errors.New("--metrics-cert-name and --metrics-cert-key name files in --metrics-cert-path: give --metrics-cert-path too")
		}
		return nil
	}
	for _, file := range []struct{ flag, name string }{{"--metrics-cert-name", f.CertName}, {"--metrics-cert-key", f.KeyName}} {
		if _, err := os.Stat(filepath.Join(f.CertPath, file.name)); err != nil {
			return fmt.Errorf("--metrics-cert-path %s: %w; mount the certificate there, or set %s to its file name", f.CertPath, err, file.flag)
		}
	}
	return nil
}

// ServerOptions are controller-runtime's metrics server options for the flags.
func (f *Flags) ServerOptions() metricsserver.Options {
	o := metricsserver.Options{
		BindAddress:    f.BindAddress,
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
		// HTTP/2 stays off, as in kubebuilder's scaffold: scrapers need only HTTP/1.1, and
		// HTTP/2's stream resets have been a denial of service (CVE-2023-44487).
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if f.CertPath != "" {
		o.CertDir, o.CertName, o.KeyName = f.CertPath, f.CertName, f.KeyName
	}
	return o
}
