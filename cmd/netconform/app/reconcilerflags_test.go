package app

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/internal/bounds"
)

// The operator and the gate run one reconciler: the same flags, from the same defaults.
func TestManagerAndRunShareReconcilerOptions(t *testing.T) {
	parse := func(bind func(*pflag.FlagSet), args ...string) {
		t.Helper()
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		bind(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	t.Setenv("POD_NAMESPACE", "")
	t.Setenv("NETCONFORM_PROBE_IMAGE", "")
	var m managerFlags
	var r runFlags
	parse(m.bind)
	parse(r.bind)
	want := controllers.DefaultOptions()
	if !equality.Semantic.DeepEqual(m.reconciler.opts, want) {
		t.Errorf("manager's options %+v, want the defaults %+v", m.reconciler.opts, want)
	}
	gate := r.reconciler.opts
	if gate.FollowChanges {
		t.Error("the gate follows changes; it runs each test once")
	}
	gate.FollowChanges = want.FollowChanges
	if !gate.CreateCanaryNamespace || gate.CanaryNamespace != "netconform-canary" {
		t.Errorf("the gate's canary namespace is %q (create %v), want a namespace of its own it may create", gate.CanaryNamespace, gate.CreateCanaryNamespace)
	}
	gate.CanaryNamespace, gate.CreateCanaryNamespace = want.CanaryNamespace, false
	if !equality.Semantic.DeepEqual(gate, want) {
		t.Errorf("the gate's options %+v differ from the manager's defaults %+v beyond the canary namespace and following changes", gate, want)
	}

	shared := []string{"--cluster-domain", "corp.example", "--workers", "3", "--max-checks-per-pod", "50", "--max-concurrent-probe-pods", "0", "--probe-pod-start-timeout", "30s", "--max-checks-per-edge", "20", "--max-checks-per-run", "200"}
	parse(m.bind, shared...)
	parse(r.bind, shared...)
	for name, o := range map[string]controllers.Options{"manager": m.reconciler.opts, "run": r.reconciler.opts} {
		if o.Plan.ClusterDomain != "corp.example" || o.MaxConcurrentReconciles != 3 || o.MaxChecksPerPod != 50 || o.MaxConcurrentProbePods != 0 || o.PodStartTimeout.String() != "30s" ||
			o.MaxChecksPerEdge != 20 || o.MaxChecksPerRun != 200 {
			t.Errorf("%s did not take the shared flags: %+v", name, o)
		}
	}
}

func TestReconcilerFlagsNameTheFlagOfABadValue(t *testing.T) {
	tests := map[string][]string{
		"--max-checks-per-pod":        {"--max-checks-per-pod", "0"},
		"--max-concurrent-probe-pods": {"--max-concurrent-probe-pods", "-1"},
		"--workers":                   {"--workers", "0"},
		"--probe-pod-start-timeout":   {"--probe-pod-start-timeout", "0s"},
		"--probe-settle-time":         {"--probe-settle-time", "-1s"},
		"--cluster-domain":            {"--cluster-domain", ""},
		"--max-checks-per-edge":       {"--max-checks-per-edge", "0"},
		"--max-checks-per-run":        {"--max-checks-per-run", "-1"},
	}
	for flagName, args := range tests {
		var f reconcilerFlags
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		f.bind(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := f.validate()
		if err == nil || !strings.Contains(err.Error(), flagName) {
			t.Errorf("%v: error %v, want one naming %s", args, err, flagName)
		}
	}
}

func TestManagerMinRerunInterval(t *testing.T) {
	for _, c := range []struct {
		args []string
		ok   bool
	}{{nil, true}, {[]string{"--min-rerun-interval", "5s"}, true}, {[]string{"--min-rerun-interval", "1s"}, false}} {
		var m managerFlags
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		m.bind(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := m.validate()
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "--min-rerun-interval")) {
			t.Errorf("%v: error %v, want ok=%v", c.args, err, c.ok)
		}
	}
}

// The operator and the gate bound the tests' probe pods with the same flags.
func TestManagerAndRunShareBounds(t *testing.T) {
	args := []string{"--allowed-probe-images", "mirror/netconform:v1, mirror/netconform:v2", "--allowed-priority-classes", "probes",
		"--allowed-toleration-keys", "dedicated,*", "--allowed-node-selector-keys", "kubernetes.io/os,pool", "--max-probe-cpu", "500m", "--max-probe-memory", "128Mi",
		"--namespaces", "a,b", "--namespace-selector", "team in (x,y)"}
	var m managerFlags
	var r runFlags
	for _, bind := range []func(*pflag.FlagSet){m.bind, r.bind} {
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		bind(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range map[string]bounds.Bounds{"manager": m.reconciler.opts.Bounds, "run": r.reconciler.opts.Bounds} {
		got := fmt.Sprintf("%q %q %q %q %s %s %q %s", b.AllowedImages, b.AllowedPriorityClasses, b.AllowedTolerationKeys, b.AllowedNodeSelectorKeys,
			b.MaxCPU.String(), b.MaxMemory.String(), b.Namespaces, b.NamespaceSelector)
		want := `["mirror/netconform:v1" "mirror/netconform:v2"] ["probes"] ["dedicated" "*"] ["kubernetes.io/os" "pool"] 500m 128Mi ["a" "b"] team in (x,y)`
		if got != want {
			t.Errorf("%s's bounds are %s, want %s", name, got, want)
		}
	}
}

func TestBoundFlagsNameTheFlagOfABadValue(t *testing.T) {
	for _, args := range [][]string{
		{"--max-probe-cpu", "0"}, {"--max-probe-cpu", "lots"}, {"--max-probe-memory", "-1Mi"}, {"--namespace-selector", "a in (("},
	} {
		var f reconcilerFlags
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		var out strings.Builder
		fs.SetOutput(&out)
		f.bind(fs)
		err := fs.Parse(args)
		if err == nil || !strings.Contains(err.Error(), args[0][2:]) {
			t.Errorf("%v: error %v, want one naming %s", args, err, args[0])
		}
	}
}
