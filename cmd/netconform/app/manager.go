package app

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/internal/metricsserving"
	"github.com/netconform/netconform/internal/version"
)

// leaderElectionID names the lease of the manager's leader election, in its namespace;
// `run` reads it to tell whether an operator is running.
const leaderElectionID = "netconform-manager.netconform.io"

type managerFlags struct {
	kubeconfig, kubeContext, healthAddr, pprofAddr string
	leaderElect                                    bool
	metrics                                        metricsserving.Flags
	reconciler                                     reconcilerFlags
	zap                                            zap.Options
}

func newManagerCommand(code *int) *cobra.Command {
	var f managerFlags
	cmd := &cobra.Command{
		Use:   "manager [flags]",
		Short: "Run the operator",
		Args:  noArgs("the manager takes flags only"),
		Run:   body(code, f.run),
	}
	f.bind(cmd.Flags())
	return cmd
}

func (f *managerFlags) bind(fs *pflag.FlagSet) {
	bindManagerClusterFlags(fs, &f.kubeconfig, &f.kubeContext)
	// The metrics and zap flags bind to Go's flag package.
	goflags := flag.NewFlagSet("manager", flag.ContinueOnError)
	f.metrics.Bind(goflags)
	fs.StringVar(&f.healthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0", "address Go's profiles are served on (/debug/pprof); 0 disables them")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	f.reconciler.bind(fs)
	o := &f.reconciler.opts
	fs.StringVar(&o.Pod.Image, "probe-image", os.Getenv("NETCONFORM_PROBE_IMAGE"), "image of the probe pods ($NETCONFORM_PROBE_IMAGE; default: the manager's own image when it runs in a pod, else "+version.DefaultImage()+")")
	fs.StringVar(&o.CanaryNamespace, "canary-namespace", defaultCanaryNamespace(o.CanaryNamespace), "namespace of the enforcement canaries of tests that name none (default: the manager's own namespace, $POD_NAMESPACE)")
	fs.DurationVar(&o.Rerun.MinInterval, "min-rerun-interval", o.Rerun.MinInterval,
		fmt.Sprintf("least time from the start of a test's last run to a run that changes trigger (spec.rerunOn); at least %s", controllers.MinRerunInterval))
	f.zap.BindFlags(goflags)
	fs.AddGoFlagSet(goflags)
}

// validate names the flag and its range when a value cannot work.
func (f *managerFlags) validate() error {
	if m := f.reconciler.opts.Rerun.MinInterval; m < controllers.MinRerunInterval {
		return fmt.Errorf("--min-rerun-interval %s: give at least %s", m, controllers.MinRerunInterval)
	}
	if err := f.metrics.Validate(); err != nil {
		return err
	}
	return f.reconciler.validate()
}

// restConfig is the cluster the flags name.
func (f *managerFlags) restConfig() (*rest.Config, error) {
	return kubeConfig(f.kubeconfig, f.kubeContext)
}

func (f *managerFlags) run(cmd *cobra.Command, _ []string) int {
	stderr := cmd.ErrOrStderr()
	if err := f.validate(); err != nil {
		fmt.Fprintf(stderr, "netconform manager: %v\n", err)
		return ExitUsage
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap), zap.WriteTo(stderr)))
	if err := startManager(*f); err != nil {
		fmt.Fprintf(stderr, "netconform manager: %v\n", err)
		return ExitFail
	}
	return ExitOK
}

func startManager(f managerFlags) error {
	cfg, err := f.restConfig()
	if err != nil {
		return err
	}
	opts := f.reconciler.opts
	if opts.Pod.Image == "" {
		opts.Pod.Image = ownImage(cfg)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                f.metrics.ServerOptions(),
		HealthProbeBindAddress: f.healthAddr,
		PprofBindAddress:       f.pprofAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       leaderElectionID,
		// A replaced manager hands over at once instead of making the next wait out the lease.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	_, err = controllers.Setup(mgr, controllers.SetupOptions{Options: opts, Registry: metrics.Registry})
	if err != nil {
		return fmt.Errorf("setting up the controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("Starting manager", "version", version.Version, "probeImage", opts.Pod.Image)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// defaultCanaryNamespace is the manager's own namespace, which runs restricted pods
// already, or else the default.
func defaultCanaryNamespace(fallback string) string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return fallback
}
