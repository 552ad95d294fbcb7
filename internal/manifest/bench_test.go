package manifest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netconform/netconform/internal/manifest"
)

// unknownFields is a test of about size bytes whose spec is mostly fields the schema
// does not know.
func unknownFields(size int) string {
	var b strings.Builder
	b.WriteString("apiVersion: netconform.io/v1alpha1\nkind: ReachabilityTest\nmetadata: {name: big}\nspec:\n")
	b.WriteString("  edges: [{name: e1, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  unknown%07d: value\n", i)
	}
	return b.String()
}

// BenchmarkLoadUnknownFields measures the validator on files of unknown fields of
// growing size: the time per byte must stay flat (see README, "A ReachabilityTest").
func BenchmarkLoadUnknownFields(b *testing.B) {
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		doc := unknownFields(size)
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
