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
)

type managerFlags struct {
	kubeconfig, metricsAddr, healthAddr, pprofAddr string
	leaderElect                                    bool
	reconciler                                     reconcilerFlags
	zap                                            zap.Options
}

func (f *managerFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: in-cluster, then $KUBECONFIG)")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address the Prometheus metrics are served on; 0 disables them")
	fs.StringVar(&f.healthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0", "address Go's profiles are served on (/debug/pprof); 0 disables them")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	f.reconciler.bind(fs)
	o := &f.reconciler.opts
	fs.StringVar(&o.Pod.Image, "probe-image", os.Getenv("NETCONFORM_PROBE_IMAGE"), "image of the probe pods ($NETCONFORM_PROBE_IMAGE; default: the manager's own image when it runs in a pod, else "+version.DefaultImage()+")")
	fs.StringVar(&o.CanaryNamespace, "canary-namespace", defaultCanaryNamespace(o.CanaryNamespace), "namespace of the enforcement canaries of tests that name none (default: the manager's own namespace, $POD_NAMESPACE)")
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
	if err := f.reconciler.validate(); err != nil {
		fmt.Fprintf(stderr, "netconform manager: %v\n", err)
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
	opts := f.reconciler.opts
	if opts.Pod.Image == "" {
		opts.Pod.Image = ownImage(cfg)
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

// defaultCanaryNamespace is the manager's own namespace, which runs restricted pods
// already, or else the default.
func defaultCanaryNamespace(fallback string) string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return fallback
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
