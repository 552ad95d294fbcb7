package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
)

// clusterOf is the cluster each command that runs the reconciler talks to, given its flags.
var clusterOf = map[string]func(args []string) (*rest.Config, error){
	"manager": func(args []string) (*rest.Config, error) {
		var f managerFlags
		fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.bind(fs)
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		return f.restConfig()
	},
	"run": func(args []string) (*rest.Config, error) {
		var f runFlags
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.bind(fs)
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		return f.restConfig()
	},
}

// writeKubeconfig writes a kubeconfig with a context per server, named as in servers,
// the first one current, and returns its path.
func writeKubeconfig(t *testing.T, name string, servers ...string) string {
	t.Helper()
	var clusters, contexts []string
	for _, s := range servers {
		clusters = append(clusters, fmt.Sprintf(`{name: %s, cluster: {server: "https://%s:6443"}}`, s, s))
		contexts = append(contexts, fmt.Sprintf(`{name: %s, context: {cluster: %s, user: u}}`, s, s))
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [%s]
users: [{name: u, user: {token: t}}]
contexts: [%s]
current-context: %s
`, strings.Join(clusters, ", "), strings.Join(contexts, ", "), servers[0])
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A batch of tests makes bursts of requests: client-go's default client-side limit of 5
// a second would hold them back, so flow control is left to the API server.
func TestKubeconfigsAreNotThrottledClientSide(t *testing.T) {
	path := writeKubeconfig(t, "kubeconfig", "127.0.0.1")
	run, err := clusterOf["run"]([]string{"--kubeconfig", path})
	if err != nil {
		t.Fatal(err)
	}
	manager, err := clusterOf["manager"]([]string{"--kubeconfig", path})
	if err != nil {
		t.Fatal(err)
	}
	for name, qps := range map[string]float32{"run": run.QPS, "manager": manager.QPS} {
		if qps >= 0 {
			t.Errorf("%s: QPS %v, want client-side throttling off (negative)", name, qps)
		}
	}
}

// TestManagerAndRunFindTheClusterAlike: both follow kubectl's order, --kubeconfig, else
// $KUBECONFIG (else ~/.kube/config), and --context picks a context of what was loaded.
func TestManagerAndRunFindTheClusterAlike(t *testing.T) {
	env := writeKubeconfig(t, "env", "env-a.example", "env-b.example")
	flagged := writeKubeconfig(t, "flag", "flag.example")
	// Not in a pod, whatever runs the test: no in-cluster configuration to fall back to.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	tests := []struct {
		name      string
		kubeEnv   string
		args      []string
		wantHost  string
		wantError string
	}{
		{name: "$KUBECONFIG without --kubeconfig", kubeEnv: env, wantHost: "https://env-a.example:6443"},
		{name: "--kubeconfig over $KUBECONFIG", kubeEnv: env, args: []string{"--kubeconfig", flagged}, wantHost: "https://flag.example:6443"},
		{name: "--context in $KUBECONFIG", kubeEnv: env, args: []string{"--context", "env-b.example"}, wantHost: "https://env-b.example:6443"},
		{name: "--context missing from --kubeconfig", kubeEnv: env, args: []string{"--kubeconfig", flagged, "--context", "env-b.example"}, wantError: "no cluster to run on"},
		{name: "missing --kubeconfig", kubeEnv: env, args: []string{"--kubeconfig", filepath.Join(t.TempDir(), "missing")}, wantError: "no cluster to run on"},
		{name: "nothing configured", kubeEnv: filepath.Join(t.TempDir(), "missing"), wantError: "no cluster to run on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.kubeEnv)
			for command, config := range clusterOf {
				cfg, err := config(tt.args)
				switch {
				case tt.wantError != "":
					if err == nil || !strings.Contains(err.Error(), tt.wantError) {
						t.Errorf("%s: err = %v, want %q", command, err, tt.wantError)
					}
				case err != nil:
					t.Errorf("%s: %v", command, err)
				case cfg.Host != tt.wantHost:
					t.Errorf("%s: talks to %s, want %s", command, cfg.Host, tt.wantHost)
				}
			}
		})
	}
}
