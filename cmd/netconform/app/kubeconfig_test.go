package app

import (
	"os"
	"path/filepath"
	"testing"
)

// A batch of tests makes bursts of requests: client-go's default client-side limit of 5
// a second would hold them back, so flow control is left to the API server.
func TestKubeconfigsAreNotThrottledClientSide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	run, err := kubeConfig(path, "")
	if err != nil {
		t.Fatal(err)
	}
	manager, err := restConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, qps := range map[string]float32{"run": run.QPS, "manager": manager.QPS} {
		if qps >= 0 {
			t.Errorf("%s: QPS %v, want client-side throttling off (negative)", name, qps)
		}
	}
}
