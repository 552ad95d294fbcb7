package offline

import (
	"path/filepath"
	"testing"

	"github.com/netconform/netconform/internal/manifest"
)

// BenchmarkSamplesOffline times what `netconform run --offline` does for each sample:
// read its manifests and tests, build the cluster, predict every edge (see README,
// "Offline runs and what-ifs").
func BenchmarkSamplesOffline(b *testing.B) {
	for _, sample := range []string{"bookstore", "threetier"} {
		dir := filepath.Join("../../config/samples", sample)
		b.Run(sample, func(b *testing.B) {
			for b.Loop() {
				tests, err := manifest.Load([]string{filepath.Join(dir, "reachabilitytest.yaml")}, nil)
				if err != nil {
					b.Fatal(err)
				}
				m, err := Read([]string{dir}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if got := Run(m, tests)[0]; got.Status.Summary.Passed != got.Status.Summary.Edges {
					b.Fatalf("%s: %+v", sample, got.Status.Summary)
				}
			}
		})
	}
}
