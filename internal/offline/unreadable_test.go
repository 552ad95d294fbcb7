package offline

import (
	"testing"

	"github.com/netconform/netconform/internal/manifest"
)

// TestUnreadablePolicyKinds: which kinds of the manifests are policies the model cannot
// read, and where they apply.
func TestUnreadablePolicyKinds(t *testing.T) {
	cases := []struct {
		apiVersion, kind, namespace string
		unreadable, namespaced      bool
		namespaces                  []string
	}{
		{"crd.projectcalico.org/v1", "NetworkPolicy", "shop", true, true, []string{"shop"}},
		{"projectcalico.org/v3", "GlobalNetworkPolicy", "", true, false, nil},
		{"cilium.io/v2", "CiliumNetworkPolicy", "", true, true, []string{"default"}},
		{"cilium.io/v2", "CiliumClusterwideNetworkPolicy", "", true, false, nil},
		{"crd.antrea.io/v1beta1", "ClusterNetworkPolicy", "", true, false, nil},
		{"policy.networking.k8s.io/v2", "ClusterNetworkPolicy", "", true, false, nil},
		{"networking.example.com/v1", "EgressPolicy", "shop", true, true, []string{"shop"}},
		{"gateway.networking.k8s.io/v1alpha3", "BackendTLSPolicy", "shop", false, false, nil},
		{"policy/v1", "PodDisruptionBudget", "shop", false, false, nil},
		{"v1", "ConfigMap", "shop", false, false, nil},
	}
	for _, tc := range cases {
		o := manifest.Object{APIVersion: tc.apiVersion, Kind: tc.kind, Content: map[string]any{"metadata": map[string]any{"namespace": tc.namespace}}}
		u, ok := unreadable(o)
		if ok != tc.unreadable || (ok && (u.Namespaced != tc.namespaced || len(u.Namespaces) != len(tc.namespaces) || (len(u.Namespaces) > 0 && u.Namespaces[0] != tc.namespaces[0]))) {
			t.Errorf("%s %s: unreadable %v %+v, want %v, namespaced %v in %v", tc.apiVersion, tc.kind, ok, u, tc.unreadable, tc.namespaced, tc.namespaces)
		}
	}
}
