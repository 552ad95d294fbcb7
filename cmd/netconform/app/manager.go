package app

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/internal/version"
	"github.com/netconform/netconform/probes"
)

type managerFlags struct {
	kubeconfig, metricsAddr, healthAddr, pprofAddr, probeImage, clusterDomain, canaryNamespace string
	kubeContext                                                                                string
	leaderElect                                                                                bool
	maxProbePods, workers, checksPerPod                                                        int
	startTimeout                                                                               time.Duration
	settle                                                                                     settleFlags
	zap                                                                                        zap.Options
}

func (f *managerFlags) bind(fs *flag.FlagSet) {
	bindClusterFlags(fs, &f.kubeconfig, &f.kubeContext)
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address the Prometheus metrics are served on; 0 disables them")
	fs.StringVar(&f.healthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0", "address Go's profiles are served on (/debug/pprof); 0 disables them")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.IntVar(&f.maxProbePods, "max-concurrent-probe-pods", 20, "most probe pods running at once across all tests; 0 for no cap")
	fs.IntVar(&f.workers, "workers", 16, "tests reconciled in parallel; a worker mostly waits on the API server")
	fs.IntVar(&f.checksPerPod, "max-checks-per-pod", 100, fmt.Sprintf("checks one probe pod makes before the planner adds another (at most %d)", probes.MaxChecksPerPod))
	fs.StringVar(&f.probeImage, "probe-image", os.Getenv("NETCONFORM_PROBE_IMAGE"), "image of the probe pods ($NETCONFORM_PROBE_IMAGE; default: the manager's own image when it runs in a pod, else "+version.DefaultImage()+")")
	fs.StringVar(&f.canaryNamespace, "canary-namespace", defaultCanaryNamespace(), "namespace of the enforcement canaries of tests that name none (default: the manager's own namespace, $POD_NAMESPACE)")
	fs.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain, for Service names")
	fs.DurationVar(&f.startTimeout, "probe-pod-start-timeout", 2*time.Minute, "how long a probe pod may take to start before its checks become Error")
	f.settle.bind(fs)
	f.zap.BindFlags(fs)
}

// restConfig is the cluster the flags name.
func (f *managerFlags) restConfig() (*rest.Config, error) {
	return kubeConfig(f.kubeconfig, f.kubeContext)
}

func runManager(args []string, _, stderr io.Writer) int {
	var f managerFlags
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if f.checksPerPod < 1 || f.checksPerPod > probes.MaxChecksPerPod {
		fmt.Fprintf(stderr, "netconform manager: --max-checks-per-pod must be from 1 to %d\n", probes.MaxChecksPerPod)
		return ExitUsage
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap), zap.WriteTo(stderr)))
	if err := startManager(f); err != nil {
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
	if f.probeImage == "" {
		f.probeImage = ownImage(cfg)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress: f.healthAddr,
		PprofBindAddress:       f.pprofAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       "netconform-manager.netconform.io",
		// A replaced manager hands over at once instead of making the next wait out the lease.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	_, err = controllers.Setup(mgr, controllers.SetupOptions{
		Options: controllers.Options{
			Pod:                     probes.PodSettings{Image: f.probeImage, Settle: f.settle.settle, MaxSettle: f.settle.max},
			Plan:                    probes.PlanOptions{ClusterDomain: f.clusterDomain, MaxChecksPerPod: f.checksPerPod},
			PodStartTimeout:         f.startTimeout,
			MaxConcurrentReconciles: f.workers,
			CanaryNamespace:         f.canaryNamespace,
		},
		MaxConcurrentProbePods: f.maxProbePods,
		Registry:               metrics.Registry,
	})
	if err != nil {
		return fmt.Errorf("setting up the controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("Starting manager", "version", version.Version, "probeImage", f.probeImage)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// defaultCanaryNamespace is the manager's own namespace: it runs restricted pods already.
func defaultCanaryNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "netconform-system"
}
