package policykinds

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

// TestDiscovererReusesAnAnswerForAWhile: runs completing together share one answer of
// the discovery API, and a CRD installed since counts once the answer is discoveryTTL old.
func TestDiscovererReusesAnAnswerForAWhile(t *testing.T) {
	fake := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	d := &Discoverer{client: fake, now: func() time.Time { return now }}
	served := func() Served {
		t.Helper()
		s, err := d.Served(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := served(); s.ClusterNetworkPolicy != nil || len(s.Unreadable) != 0 {
		t.Fatalf("an empty cluster serves %+v", s)
	}
	fake.Resources = []*metav1.APIResourceList{
		resources("policy.networking.k8s.io/v1beta1", kind("clusternetworkpolicies", "ClusterNetworkPolicy", false)),
	}
	now = now.Add(discoveryTTL - time.Millisecond)
	if s := served(); s.ClusterNetworkPolicy != nil {
		t.Error("an answer younger than discoveryTTL was not reused")
	}
	now = now.Add(time.Millisecond)
	if s := served(); s.ClusterNetworkPolicy == nil {
		t.Error("an answer discoveryTTL old was reused: the new CRD does not count")
	}
}
