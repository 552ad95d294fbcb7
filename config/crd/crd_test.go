package crd

import (
	"testing"

	"github.com/netconform/netconform/api/v1alpha1"
)

func TestReachabilityTestMatchesTheAPI(t *testing.T) {
	crd, err := ReachabilityTest()
	if err != nil {
		t.Fatal(err)
	}
	if crd.Name != "reachabilitytests."+v1alpha1.GroupVersion.Group {
		t.Errorf("name %q", crd.Name)
	}
	if crd.Spec.Group != v1alpha1.GroupVersion.Group || crd.Spec.Names.Kind != "ReachabilityTest" {
		t.Errorf("group %q kind %q", crd.Spec.Group, crd.Spec.Names.Kind)
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != v1alpha1.GroupVersion.Version {
		t.Fatalf("versions %+v, want only %s", crd.Spec.Versions, v1alpha1.GroupVersion.Version)
	}
	if v := crd.Spec.Versions[0]; v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		t.Error("the version has no schema")
	}
}

func TestReachabilityTestReturnsACopy(t *testing.T) {
	a, _ := ReachabilityTest()
	a.Name = "changed"
	b, _ := ReachabilityTest()
	if b.Name == "changed" {
		t.Error("a caller's change leaked into the next call")
	}
}
