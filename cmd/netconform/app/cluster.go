package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	orv1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/policykinds"
	"github.com/netconform/netconform/internal/version"
)

// This file holds what the commands that talk to a cluster share: finding the cluster,
// the scheme, a reader, and the image the process runs.

// readTimeout bounds the reads of explain and generate.
const readTimeout = 30 * time.Second

// clusterFlags are kubectl's client flags (--kubeconfig, --context, --as,
// --request-timeout, ...), for the commands that read or change a cluster as the user
// who runs them. withNamespace adds -n/--namespace, for a command where a namespace
// means something.
func clusterFlags(fs *pflag.FlagSet, withNamespace bool) *genericclioptions.ConfigFlags {
	cf := genericclioptions.NewConfigFlags(false)
	cf.CacheDir = nil // only kubectl's discovery cache reads it
	if !withNamespace {
		cf.Namespace = nil
	}
	client := pflag.NewFlagSet("client", pflag.ContinueOnError)
	cf.AddFlags(client)
	markClientFlags(fs, client)
	return cf
}

// restConfig is the cluster the client flags name, found as kubectl finds it, except
// that nothing configured is an error rather than kubectl's http://localhost:8080.
func restConfig(cf *genericclioptions.ConfigFlags) (*rest.Config, error) {
	loader := cf.ToRawKubeConfigLoader()
	cfg, err := loader.ClientConfig()
	if err == nil {
		err = configured(loader, cf)
	}
	if err != nil {
		return nil, fmt.Errorf("no cluster to run on: %w (pass --kubeconfig, --context or set KUBECONFIG)", err)
	}
	return unthrottled(cfg), nil
}

// configured says whether a kubeconfig, --server or the pod's service account named a
// cluster.
func configured(loader clientcmd.ClientConfig, cf *genericclioptions.ConfigFlags) error {
	raw, err := loader.RawConfig()
	if err != nil {
		return err
	}
	if len(raw.Clusters) > 0 || *cf.APIServer != "" {
		return nil
	}
	if _, err := rest.InClusterConfig(); err == nil {
		return nil
	}
	return errors.New("no kubeconfig in --kubeconfig, $KUBECONFIG or ~/.kube/config, and not in a pod")
}

// bindManagerClusterFlags binds --kubeconfig and --context, which the manager reads with
// kubeConfig, as controller-runtime's own loader does.
func bindManagerClusterFlags(fs *pflag.FlagSet, kubeconfig, kubeContext *string) {
	client := pflag.NewFlagSet("client", pflag.ContinueOnError)
	defer markClientFlags(fs, client)
	client.StringVar(kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: the files in $KUBECONFIG, else ~/.kube/config; with neither, the in-cluster service account)")
	client.StringVar(kubeContext, "context", "", "the kubeconfig context to use (default: the kubeconfig's current context)")
}

// kubeConfig loads a kubeconfig as kubectl does: --kubeconfig, else the files in
// $KUBECONFIG, else ~/.kube/config; --context picks a context. When none of them
// configures a cluster, client-go's deferred loading falls back to the in-cluster service
// account (DeferredLoadingClientConfig.ClientConfig in tools/clientcmd: an empty or
// default merged config gives way to the in-cluster config when a pod's
// KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT and token are there).
func kubeConfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to run on: %w (pass --kubeconfig, --context or set KUBECONFIG)", err)
	}
	return unthrottled(cfg), nil
}

// unthrottled leaves flow control to the API server, as controller-runtime's own loader
// does: client-go's default of 5 requests a second would hold back a batch of tests.
func unthrottled(cfg *rest.Config) *rest.Config {
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg.QPS = -1
	}
	return cfg
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := policykinds.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := orv1.Install(s); err != nil {
		panic(err)
	}
	return s
}

// newReader is a client of the cluster the client flags name, and what it serves of the
// policy kinds beyond NetworkPolicy.
func newReader(cf *genericclioptions.ConfigFlags) (client.Reader, policykinds.Source, error) {
	cfg, err := restConfig(cf)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	kinds, err := policykinds.NewDiscoverer(cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, kinds, nil
}

// ownImage is the image of this process's own pod (the manager's, or the gate's in a
// Job), named by the downward API, so that probe pods run whatever image an overlay or a
// registry mirror gave it.
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
