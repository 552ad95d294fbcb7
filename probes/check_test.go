package probes

import (
	"slices"
	"testing"

	"github.com/netconform/netconform/api/v1alpha1"
)

func TestPolicyVerdictAgrees(t *testing.T) {
	tests := []struct {
		verdict PolicyVerdict
		agrees  []v1alpha1.Observation
	}{
		{PolicyAllows, []v1alpha1.Observation{v1alpha1.ObservedConnected}},
		{PolicyDenies, []v1alpha1.Observation{v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout, v1alpha1.ObservedUnreachable}},
		{PolicyDeniesLookup, []v1alpha1.Observation{v1alpha1.ObservedDNSFailure}},
	}
	all := []v1alpha1.Observation{v1alpha1.ObservedConnected, v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout,
		v1alpha1.ObservedUnreachable, v1alpha1.ObservedDNSFailure, v1alpha1.ObservedError}
	for _, tt := range tests {
		for _, o := range all {
			if want := slices.Contains(tt.agrees, o); tt.verdict.Agrees(o) != want {
				t.Errorf("%s agrees with %s: %v, want %v", tt.verdict, o, !want, want)
			}
		}
	}
}
