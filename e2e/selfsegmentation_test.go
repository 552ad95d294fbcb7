//go:build e2e

package e2e

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/metricsserving"
)

// metricsAccessLabel admits a namespace to the manager's metrics port
// (config/network-policy).
const metricsAccessLabel = "netconform.io/metrics"

// TestSelfSegmentation: netconform checks its own namespace's NetworkPolicy. A namespace
// labelled netconform.io/metrics=enabled reaches the manager's metrics port and nothing
// else of it; an unlabelled tenant reaches nothing.
func TestSelfSegmentation(t *testing.T) {
	scraper, tenant := namespace("metrics-scraper"), namespace("tenant")
	s := newScenario(t, scraper, tenant)
	s.labelNamespace(scraper, metricsAccessLabel, "enabled")
	managerNS, managerLabels := s.managerPods()
	toManager := func(port intstr.IntOrString) v1alpha1.Destination { return toPods(managerNS, managerLabels, port) }
	metrics, health := toManager(intstr.FromInt32(metricsserving.Port)), toManager(intstr.FromString("health"))
	s.run(phase{name: "self-segmentation", edges: []v1alpha1.Edge{
		allow("scraper-to-metrics", source(scraper, nil), metrics),
		deny("scraper-to-health", source(scraper, nil), health),
		deny("tenant-to-metrics", source(tenant, nil), metrics),
		deny("tenant-to-health", source(tenant, nil), health),
	}})
}

// labelNamespace adds a label to one of the scenario's namespaces.
func (s *scenario) labelNamespace(name, key, value string) {
	s.t.Helper()
	ns := &corev1.Namespace{}
	if err := k8s.Get(s.ctx, client.ObjectKey{Name: name}, ns); err != nil {
		s.fatalf("reading namespace %s: %v", name, err)
	}
	ns.Labels[key] = value
	s.update(ns)
}

// managerPods are the namespace and pod labels of the running manager.
func (s *scenario) managerPods() (string, map[string]string) {
	s.t.Helper()
	var deps appsv1.DeploymentList
	var found *appsv1.Deployment
	s.waitUntil("the manager's Deployment", func(ctx context.Context) (bool, string, error) {
		err := k8s.List(ctx, &deps, client.MatchingLabels{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"})
		if err != nil || len(deps.Items) == 0 {
			return false, "no Deployment labelled app.kubernetes.io/component=manager", err
		}
		found = &deps.Items[0]
		return true, "", nil
	})
	return found.Namespace, found.Spec.Template.Labels
}
