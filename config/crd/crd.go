// Package crd embeds the ReachabilityTest CustomResourceDefinition that controller-gen
// generates, so the binary can install it and validate tests offline with the very schema
// the API server enforces.
package crd

import (
	_ "embed"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// YAML is the generated CRD manifest, byte for byte.
//
//go:embed bases/netconform.io_reachabilitytests.yaml
var YAML []byte

// ReachabilityTest decodes YAML into a new CustomResourceDefinition; callers may modify
// the result.
func ReachabilityTest() (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(YAML, crd); err != nil {
		return nil, fmt.Errorf("decoding the embedded ReachabilityTest CRD: %w", err)
	}
	return crd, nil
}
