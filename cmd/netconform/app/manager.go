package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/controllers"
	"github.com/netconform/netconform/internal/version"
	"github.com/netconform/netconform/probes"
)

type managerFlags struct {
	kubeconfig, metricsAddr, healthAddr, pprofAddr, probeImage, clusterDomain, canaryNamespace string
	leaderElect                                                                                bool
	maxProbePods, workers, checksPerPod                                                        int
	startTimeout                                                                               time.Duration
	settle                                                                                     settleFlags
	zap                                                                                        zap.Options
}

func (f *managerFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: in-cluster, then $KUBECONFIG)")
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
	cfg, err := restConfig(f.kubeconfig)
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

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// restConfig loads a kubeconfig the way kubectl users expect: the flag, then
// in-cluster, then $KUBECONFIG or ~/.kube/config.
func restConfig(path string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, err
		}
		return unthrottled(cfg), nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to talk to: %w (pass --kubeconfig or set KUBECONFIG)", err)
	}
	return cfg, nil
}

// defaultCanaryNamespace is the manager's own namespace: it runs restricted pods already.
func defaultCanaryNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "netconform-system"
}

// ownImage is the image of the manager's own pod, named by the downward API, so that
// probe pods run whatever image an overlay or a registry mirror gave the manager.
func ownImage(cfg *rest.Config) string {
	name, namespace := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if name == "" || namespace == "" {
		return version.DefaultImage()
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var pod *corev1.Pod
		if pod, err = cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{}); err == nil && len(pod.Spec.Containers) > 0 {
			return pod.Spec.Containers[0].Image
		}
	}
	ctrl.Log.Error(err, "Cannot read the manager's own pod; probe pods use the default image", "image", version.DefaultImage())
	return version.DefaultImage()
}
