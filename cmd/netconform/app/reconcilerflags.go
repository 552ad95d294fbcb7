package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/probes"
)

// reconcilerFlags set the reconciler's options that `manager` and `run` share, starting
// from controllers.DefaultOptions, so that the operator and the gate run the same
// reconciler the same way.
type reconcilerFlags struct {
	opts controllers.Options
}

func (f *reconcilerFlags) bind(fs *pflag.FlagSet) {
	f.opts = controllers.DefaultOptions()
	o := &f.opts
	fs.IntVar(&o.MaxConcurrentProbePods, "max-concurrent-probe-pods", o.MaxConcurrentProbePods, "most probe pods running at once across all tests; 0 for no cap")
	fs.IntVar(&o.MaxConcurrentReconciles, "workers", o.MaxConcurrentReconciles, "tests reconciled in parallel; a worker mostly waits on the API server")
	fs.IntVar(&o.MaxChecksPerPod, "max-checks-per-pod", o.MaxChecksPerPod, fmt.Sprintf("connections one probe pod makes before another is added (at most %d)", probes.MaxChecksPerPod))
	fs.StringVar(&o.Plan.ClusterDomain, "cluster-domain", o.Plan.ClusterDomain, "the cluster's DNS domain, for Service names")
	fs.DurationVar(&o.PodStartTimeout, "probe-pod-start-timeout", o.PodStartTimeout, "how long a probe pod may take to start before its checks become Error")
	// The enforcer programs a new probe pod without saying when it is done.
	fs.DurationVar(&o.Pod.Settle, "probe-settle-time", o.Pod.Settle,
		"how long a check the NetworkPolicies have no verdict on waits before its first attempt, so that the policy enforcer has programmed the new probe pod")
	fs.DurationVar(&o.Pod.MaxSettle, "probe-max-settle-time", o.Pod.MaxSettle,
		"how long a check the NetworkPolicies have a verdict on is retried while the dataplane disagrees with them; raise it for slow enforcers")
	fs.BoolVar(&o.OpenReports, "openreports", o.OpenReports, "write an OpenReports ClusterReport (openreports.io) for each test after each run; needs the CRD and the config/openreports RBAC")
	f.bindBounds(fs)
	f.bindCheckBounds(fs)
}

// bindBounds binds what a test may ask of its probe pods (spec.probePod) and where they
// may run; a test beyond these gets a NotAllowed status and no pods.
func (f *reconcilerFlags) bindBounds(fs *pflag.FlagSet) {
	b := &f.opts.Bounds
	fs.Func("allowed-probe-images", "comma-separated images a test may name in spec.probePod.image, besides the probe image (default: none)", listFlag(&b.AllowedImages))
	fs.Func("allowed-priority-classes", "comma-separated priority classes a test may name in spec.probePod.priorityClassName (default: none)", listFlag(&b.AllowedPriorityClasses))
	fs.Func("allowed-node-selector-keys", "comma-separated node label keys spec.probePod.nodeSelector may name; * for any key (default: none)", listFlag(&b.AllowedNodeSelectorKeys))
	fs.Func("allowed-toleration-keys", "comma-separated taint keys spec.probePod.tolerations may tolerate; * for any toleration (default: none)", listFlag(&b.AllowedTolerationKeys))
	fs.Func("max-probe-cpu", "most CPU spec.probePod.resources may request or limit (default "+b.MaxCPU.String()+")", quantityFlag(&b.MaxCPU))
	fs.Func("max-probe-memory", "most memory spec.probePod.resources may request or limit (default "+b.MaxMemory.String()+")", quantityFlag(&b.MaxMemory))
	fs.Func("namespaces", "comma-separated namespaces probe and canary pods may run in (default: any)", listFlag(&b.Namespaces))
	fs.Func("namespace-selector", "label selector the namespaces of probe and canary pods must match, such as netconform.io/probes=allowed (default: any)", func(v string) error {
		if _, err := labels.Parse(v); err != nil {
			return fmt.Errorf("not a label selector: %w", err)
		}
		b.NamespaceSelector = v
		return nil
	})
}

// listFlag sets a list from comma-separated values, dropping empty ones.
func listFlag(into *[]string) func(string) error {
	return func(v string) error {
		*into = nil
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*into = append(*into, item)
			}
		}
		return nil
	}
}

// quantityFlag sets a positive resource quantity, such as 500m or 128Mi.
func quantityFlag(into *resource.Quantity) func(string) error {
	return func(v string) error {
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return errors.New("give a positive quantity such as 500m or 128Mi")
		}
		*into = q
		return nil
	}
}

// bindCheckBounds binds the caps on a run's checks.
func (f *reconcilerFlags) bindCheckBounds(fs *pflag.FlagSet) {
	o := &f.opts
	fs.IntVar(&o.MaxChecksPerEdge, "max-checks-per-edge", o.MaxChecksPerEdge,
		"most checks one edge may make (a pods destination makes one per ready pod); a run with an edge over it makes no check and reports why")
	fs.IntVar(&o.MaxChecksPerRun, "max-checks-per-run", o.MaxChecksPerRun,
		"most checks one run of a test may make; a run over it makes no check and reports why")
}

// validate names the flag and its range when a value cannot work.
func (f *reconcilerFlags) validate() error {
	o := f.opts
	switch {
	case o.MaxChecksPerPod < 1 || o.MaxChecksPerPod > probes.MaxChecksPerPod:
		return fmt.Errorf("--max-checks-per-pod must be from 1 to %d", probes.MaxChecksPerPod)
	case o.MaxConcurrentProbePods < 0:
		return fmt.Errorf("--max-concurrent-probe-pods %d: give 0 for no cap or a positive number", o.MaxConcurrentProbePods)
	case o.MaxConcurrentReconciles < 1:
		return fmt.Errorf("--workers %d: give at least 1", o.MaxConcurrentReconciles)
	case o.PodStartTimeout <= 0:
		return fmt.Errorf("--probe-pod-start-timeout %s: give a positive duration such as 2m", o.PodStartTimeout)
	case o.Pod.Settle < 0 || o.Pod.MaxSettle < 0:
		return fmt.Errorf("--probe-settle-time and --probe-max-settle-time cannot be negative")
	case o.MaxChecksPerEdge < 1:
		return fmt.Errorf("--max-checks-per-edge %d: give at least 1", o.MaxChecksPerEdge)
	case o.MaxChecksPerRun < 1:
		return fmt.Errorf("--max-checks-per-run %d: give at least 1", o.MaxChecksPerRun)
	case o.Plan.ClusterDomain == "":
		return fmt.Errorf("--cluster-domain is empty: give the cluster's DNS domain, such as cluster.local")
	}
	return nil
}
