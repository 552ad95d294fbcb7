package manifest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netconform/netconform/internal/manifest"
	"github.com/netconform/netconform/internal/testcases"
)

// BenchmarkLoadUnknownFields measures the validator on files of unknown fields of
// growing size: the time per byte must stay flat (see README, "A ReachabilityTest").
func BenchmarkLoadUnknownFields(b *testing.B) {
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		doc := testcases.Document(testcases.UnknownFields(size))
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := manifest.Load([]string{"-"}, strings.NewReader(doc)); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkLoadHostileFiles measures how fast the corpus's hostile files are refused:
// encodings, YAML bombs and a file just over the size bound.
func BenchmarkLoadHostileFiles(b *testing.B) {
	for _, tc := range testcases.MalformedSpecs() {
		if tc.RejectedBy != testcases.Reader {
			continue
		}
		b.Run(strings.ReplaceAll(tc.Name, " ", "-"), func(b *testing.B) {
			b.SetBytes(int64(len(tc.File)))
			for b.Loop() {
				if _, err := manifest.Load([]string{"-"}, strings.NewReader(tc.File)); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
