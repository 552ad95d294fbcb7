package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/internal/gate"
	"github.com/netconform/netconform/internal/logsafe"
	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/version"
)

type runFlags struct {
	files             []string
	cluster           *genericclioptions.ConfigFlags
	output, junit     string
	timeout           time.Duration
	operatorNamespace string
	reconciler        reconcilerFlags
	cleanup, waitOnly bool
	replace           bool
	keepOnError       bool
	// Offline runs and what-ifs (offline.go).
	offline, dryRun     bool
	manifests, policies []string
}

func newRunCommand(code *int) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run -f FILE|DIR|- [flags]",
		Short: "Apply ReachabilityTests, run them and exit 0 (passed), 1 (failed) or 2 (could not run)",
		Long: "Applies the ReachabilityTests, runs them (in this process, or with the installed operator) and\n" +
			"prints the results. Exit status: 0 every edge passed, 1 a failed or inconclusive edge, 2 could not run.",
		Example: "  netconform run -f tests/ --junit netconform.xml\n" +
			"  netconform run -f tests.yaml -o markdown >> \"$GITHUB_STEP_SUMMARY\"\n" +
			"  netconform run --offline -f config/samples/bookstore/reachabilitytest.yaml --manifests config/samples/bookstore",
		Args: noArgs("give files with -f"),
		Run:  body(code, f.run),
	}
	f.bind(cmd.Flags())
	registerOutputCompletion(cmd, reportFormats)
	return cmd
}

func (f *runFlags) bind(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&f.files, "filename", "f", nil, "a file, a directory of files, or - for stdin, holding ReachabilityTests (repeatable)")
	fs.SetNormalizeFunc(aliases(map[string]string{"f": "filename"}))
	f.cluster = clusterFlags(fs, false) // tests are cluster-scoped
	fs.StringVarP(&f.output, "output", "o", "table", "how to print the results: "+strings.Join(reportFormats, ", "))
	fs.StringVar(&f.junit, "junit", "", "also write JUnit XML to this path")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up (exit 2) when the runs have not completed by then")
	fs.BoolVar(&f.cleanup, "cleanup", false, "delete the tests afterwards")
	fs.BoolVar(&f.waitOnly, "wait-only", false, "an operator is installed: only apply the tests and wait for its runs (the default when its lease shows it running)")
	fs.StringVar(&f.operatorNamespace, "operator-namespace", "netconform-system", "namespace of the installed operator, whose leader-election lease tells whether it is running")
	fs.BoolVar(&f.replace, "replace", false, "replace tests of the same name that netconform run did not create (another team's, perhaps)")
	fs.BoolVar(&f.keepOnError, "keep-on-error", false, "keep the applied tests when the run cannot finish (timeout, interrupt, an error), to inspect them; by default they are deleted")
	f.bindOffline(fs)
	// Without --wait-only, the reconciler runs in this process, set as the manager's is.
	f.reconciler.bind(fs)
	fs.StringVar(&f.reconciler.opts.Pod.Image, "probe-image", "", "image of the probe pods, without --wait-only (default: this pod's own image in a cluster, else "+version.DefaultImage()+")")
	// A namespace of its own keeps the gate's canary away from every workload.
	f.reconciler.opts.CanaryNamespace = "netconform-canary"
	f.reconciler.opts.CreateCanaryNamespace = true
	// The gate runs each test once: changes to the cluster re-run nothing.
	f.reconciler.opts.FollowChanges = false
}

// restConfig is the cluster the flags name.
func (f *runFlags) restConfig() (*rest.Config, error) {
	return restConfig(f.cluster)
}

func (f *runFlags) run(cmd *cobra.Command, _ []string) int {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if err := f.validate(); err != nil {
		fmt.Fprintf(stderr, "netconform run: %v\n", err)
		return ExitUsage
	}
	tests, err := manifest.Load(f.files, os.Stdin)
	if err != nil {
		fmt.Fprintf(stderr, "netconform run: the tests are not valid; nothing was applied:\n%v\n", err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	switch {
	case f.dryRun:
		return f.whatIf(ctx, tests, stdout, stderr)
	case f.offline:
		return f.runOffline(tests, stdout, stderr)
	}
	results, err := f.execute(ctx, tests, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "netconform run: %s\n", logsafe.Error(err)) // API errors carry the cluster's text
		return ExitUsage
	}
	return f.report(results, stdout, stderr)
}

// report prints the results as --output says, writes JUnit on request, and gives the
// exit code: 0 when every edge passed.
func (f *runFlags) report(results []v1alpha1.ReachabilityTest, stdout, stderr io.Writer) int {
	if err := gate.Render(stdout, f.output, results); err != nil {
		fmt.Fprintf(stderr, "netconform run: %v\n", err)
		return ExitUsage
	}
	if err := gate.WriteJUnit(f.junit, results); err != nil {
		fmt.Fprintf(stderr, "netconform run: %v\n", err)
		return ExitUsage
	}
	if !gate.Passed(results) {
		return ExitFail
	}
	return ExitOK
}

func (f *runFlags) validate() error {
	if len(f.files) == 0 {
		return errors.New("no tests: give a file, a directory or - (stdin) with -f")
	}
	if err := checkOutput(f.output, reportFormats); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--timeout %s: give a positive duration such as 10m", f.timeout)
	}
	if err := f.validateOffline(); err != nil {
		return err
	}
	return f.reconciler.validate()
}

// execute applies the tests, runs them (in-process unless an operator does) and returns
// them as they completed. What it applied is deleted when it cannot finish (unless
// --keep-on-error), and after it finished with --cleanup.
func (f *runFlags) execute(ctx context.Context, tests []v1alpha1.ReachabilityTest, stderr io.Writer) (results []v1alpha1.ReachabilityTest, err error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, err
	}
	g, err := gate.New(cfg, newScheme(), stderr)
	if err != nil {
		return nil, err
	}
	if err := g.EnsureCRD(ctx, !f.waitOnly); err != nil {
		return nil, err
	}
	waitOnly := f.waitOnly
	if !waitOnly {
		if waitOnly, err = g.OperatorRunning(ctx, f.operatorNamespace, leaderElectionID); err != nil {
			return nil, err
		}
	}
	if err := g.Check(ctx, tests, f.replace); err != nil {
		return nil, err
	}
	defer func() {
		if f.cleanup || (err != nil && !f.keepOnError) {
			g.Cleanup()
		}
	}()
	if err := g.Apply(ctx, tests, f.replace); err != nil {
		return nil, err
	}
	if !waitOnly {
		if f.reconciler.opts.OpenReports {
			noteOpenReportsMissing(cfg, stderr)
		}
		stop, err := f.startReconciler(ctx, cfg, g.Applied())
		if err != nil {
			return nil, err
		}
		defer stop() // before Cleanup, so that nothing runs the tests as they go
	}
	return g.Wait(ctx, tests)
}

// startReconciler runs the operator's reconciler in this process, as `manager` would,
// on the tests with these UIDs only; stop ends it and waits until it has.
func (f *runFlags) startReconciler(ctx context.Context, cfg *rest.Config, only map[types.UID]bool) (stop func(), err error) {
	if f.reconciler.opts.Pod.Image == "" {
		f.reconciler.opts.Pod.Image = ownImage(cfg)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Cache:                  gateCacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Controller names are unique per process; Run may be called more than once in
		// one (tests, embedding), each time with a fresh manager and metrics registry.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the reconciler: %w", err)
	}
	_, err = controllers.Setup(mgr, controllers.SetupOptions{
		Options: f.reconciler.opts, Registry: prometheus.NewRegistry(),
		Only: func(uid types.UID) bool { return only[uid] },
	})
	if err != nil {
		return nil, fmt.Errorf("starting the reconciler: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = mgr.Start(ctx)
	}()
	return func() { cancel(); <-stopped }, nil
}

// gateCacheOptions are the manager's, with only the tests a gate created in the cache:
// the gate runs none of the others.
func gateCacheOptions() cache.Options {
	opts := controllers.CacheOptions()
	opts.ByObject[&v1alpha1.ReachabilityTest{}] = cache.ByObject{
		Label: labels.SelectorFromSet(labels.Set{gate.CreatedByLabel: gate.CreatedByValue}),
	}
	return opts
}
