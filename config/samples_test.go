package config_test

import (
	"testing"

	"github.com/netconform/netconform/internal/manifest"
)

// The shipped ReachabilityTests pass the API server's own validation.
func TestSampleTestsAreValid(t *testing.T) {
	for _, path := range []string{
		"samples/netconform_v1alpha1_reachabilitytest.yaml",
		"samples/nightly-canary.yaml",
		"samples/bookstore/reachabilitytest.yaml",
		"job/tests.yaml",
	} {
		tests, err := manifest.Load([]string{path}, nil)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if len(tests) == 0 {
			t.Errorf("%s holds no ReachabilityTest", path)
		}
	}
}
