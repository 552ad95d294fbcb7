// Package v1alpha1 holds the netconform.io/v1alpha1 API: ReachabilityTest.
// +kubebuilder:object:generate=true
// +groupName=netconform.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of netconform's types.
	GroupVersion = schema.GroupVersion{Group: "netconform.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this group version.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ReachabilityTest{}, &ReachabilityTestList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
