//go:build bench

package main

import (
	"fmt"
	"os/exec"
	"strconv"

	"github.com/netconform/netconform/e2e/bench/figures"
)

// microBenchmarks runs the Go benchmarks of planning and of the result codec.
func (b *bench) microBenchmarks() error {
	b.logf("go test -bench in ./probes/ (%d runs each)", b.opts.reps)
	cmd := exec.CommandContext(b.ctx, "go", "test", "-run", "^$", "-bench", "^Benchmark(BuildPlan10000Edges|EncodeResults100|DecodeResults100)$",
		"-count", strconv.Itoa(b.opts.reps), "./probes/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	runs := figures.ParseGoBench(string(out))
	b.report.Add(figures.Figure{Key: "plan10000_ms", Label: "planning 10,000 edges into pods (go test -bench)", Unit: "ms", Samples: scale(runs["BuildPlan10000Edges"], 1e-6), Target: figures.Under(50)})
	b.report.Add(figures.Figure{Key: "encode100_us", Label: "encoding 100 results", Unit: "µs", Samples: scale(runs["EncodeResults100"], 1e-3)})
	b.report.Add(figures.Figure{Key: "decode100_us", Label: "decoding 100 results", Unit: "µs", Samples: scale(runs["DecodeResults100"], 1e-3)})
	return nil
}

func scale(xs []float64, by float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * by
	}
	return out
}
