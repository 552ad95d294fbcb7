package probes

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// countingResolver counts the questions a plan asks.
type countingResolver struct {
	fakeResolver
	podCalls, portCalls int
}

func (c *countingResolver) ReadyPods(ctx context.Context, namespace string, labels map[string]string) ([]PodTarget, error) {
	c.podCalls++
	return c.fakeResolver.ReadyPods(ctx, namespace, labels)
}

func (c *countingResolver) ServicePortNumber(ctx context.Context, namespace, service, name string) (int32, error) {
	c.portCalls++
	return c.fakeResolver.ServicePortNumber(ctx, namespace, service, name)
}

// TestBuildPlanAsksOncePerDestination: 300 edges to 3 pod selectors and one named
// Service port, from 10 identities, read each destination once.
func TestBuildPlanAsksOncePerDestination(t *testing.T) {
	res := &countingResolver{fakeResolver: fakeResolver{
		pods: map[string][]PodTarget{
			"shop/app=db":  {{Name: "db-0", IP: "10.0.0.1"}},
			"shop/app=api": {{Name: "api-0", IP: "10.0.0.2"}},
		},
		podErrs:      map[string]error{"shop/app=gone": fmt.Errorf("forbidden")},
		servicePorts: map[string]int32{"shop/web/http": 8080},
	}}
	var edges []v1alpha1.Edge
	for i := range 300 {
		from := src("shop", "", map[string]string{"app": fmt.Sprintf("client%d", i%10)})
		name := fmt.Sprintf("e%d", i)
		switch i % 4 {
		case 0:
			edges = append(edges, allow(name, from, toPods("shop", map[string]string{"app": "db"}, intstr.FromInt32(5432))))
		case 1:
			edges = append(edges, allow(name, from, toPods("shop", map[string]string{"app": "api"}, intstr.FromInt32(80))))
		case 2:
			edges = append(edges, deny(name, from, toPods("shop", map[string]string{"app": "gone"}, intstr.FromInt32(80))))
		case 3:
			edges = append(edges, allow(name, from, toService("shop", "web", intstr.FromString("http"))))
		}
	}
	plan := BuildPlan(t.Context(), edges, res, PlanOptions{ClusterDomain: "cluster.local"})
	if res.podCalls != 3 || res.portCalls != 1 {
		t.Errorf("asked about pods %d times and Service ports %d times, want 3 and 1", res.podCalls, res.portCalls)
	}
	if len(plan.Unprobed) != 75 {
		t.Errorf("%d unprobed edges, want the 75 whose pods could not be read", len(plan.Unprobed))
	}
	if len(plan.Sources) != 10 {
		t.Errorf("%d sources, want one per identity (10)", len(plan.Sources))
	}
}

func TestLabelKeyIgnoresOrder(t *testing.T) {
	a := labelKey(map[string]string{"app": "db", "tier": "data"})
	b := labelKey(map[string]string{"tier": "data", "app": "db"})
	if a != b || a == labelKey(map[string]string{"app": "db"}) {
		t.Errorf("labelKey: %q and %q should be equal and differ from app=db alone", a, b)
	}
}
