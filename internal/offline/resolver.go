package offline

import (
	"context"
	"fmt"

	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/probes"
)

// resolver finds destinations among the ready pods and the Services of a snapshot (the
// manifests', or a cluster's for a what-if), as the manager's resolver does.
type resolver struct{ c *netpol.Cluster }

var _ probes.Resolver = resolver{}

func (r resolver) ReadyPods(_ context.Context, namespace string, podLabels map[string]string) ([]probes.PodTarget, error) {
	var out []probes.PodTarget
	for i := range r.c.Pods {
		pod := &r.c.Pods[i]
		if target, ok := probes.TargetOf(pod); ok && pod.Namespace == namespace && carries(pod.Labels, podLabels) {
			out = append(out, target)
		}
	}
	return out, nil
}

func (r resolver) ServicePortNumber(_ context.Context, namespace, service, name string) (int32, error) {
	for _, svc := range r.c.Services {
		if svc.Namespace != namespace || svc.Name != service {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == name {
				return p.Port, nil
			}
		}
		return 0, fmt.Errorf("the Service has no port named %q", name)
	}
	return 0, fmt.Errorf("no Service %s/%s in the manifests", namespace, service)
}

func carries(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}
