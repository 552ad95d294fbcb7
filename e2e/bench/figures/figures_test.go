package figures

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		samples []float64
		want    Summary
	}{
		{"one", []float64{2.5}, Summary{Median: 2.5, Min: 2.5, Max: 2.5, N: 1}},
		{"odd count, unsorted", []float64{5, 1, 3}, Summary{Median: 3, Min: 1, Max: 5, N: 3}},
		{"even count takes the middle two", []float64{4, 1, 3, 10}, Summary{Median: 3.5, Min: 1, Max: 10, N: 4}},
		{"equal values", []float64{7, 7, 7}, Summary{Median: 7, Min: 7, Max: 7, N: 3}},
	}
	for _, tt := range tests {
		if got := Summarize(tt.samples); got != tt.want {
			t.Errorf("%s: Summarize(%v) = %+v, want %+v", tt.name, tt.samples, got, tt.want)
		}
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) || s.N != 0 {
		t.Errorf("Summarize(nil) = %+v, want NaN and no samples", s)
	}
}

func TestSummarizeLeavesSamplesAlone(t *testing.T) {
	samples := []float64{3, 1, 2}
	Summarize(samples)
	if samples[0] != 3 || samples[1] != 1 || samples[2] != 2 {
		t.Errorf("Summarize reordered its input: %v", samples)
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		target Target
		v      float64
		want   bool
	}{
		{*Under(6), 5.9, true},
		{*Under(6), 6, false},
		{*AtLeast(1.5), 1.5, true},
		{*AtLeast(1.5), 1.49, false},
	}
	for _, tt := range tests {
		if got := tt.target.Met(tt.v); got != tt.want {
			t.Errorf("%s met by %v = %v, want %v", tt.target, tt.v, got, tt.want)
		}
	}
}

// TestReportJSON: every required key is at the top level, with the median of its figure,
// or null when the figure was not measured; details, cores and date come along.
func TestReportJSON(t *testing.T) {
	r := Report{Date: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC), Cores: 2, Reps: 3}
	r.Add(Figure{Key: "bookstore_seconds", Label: "Bookstore", Unit: "s", Samples: []float64{5, 4, 6}, Target: Under(6)})
	r.Add(Figure{Key: "matrix81_speedup", Label: "speed-up", Unit: "x", Samples: []float64{1.2, 1.4, 1.3}, Target: AtLeast(1.5)})
	r.Note("something to know")
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range append([]string{"date", "cores", "reps", "figures", "notes"}, RequiredKeys...) {
		if _, ok := got[key]; !ok {
			t.Errorf("key %q missing from %s", key, raw)
		}
	}
	if got["bookstore_seconds"] != 5.0 || got["matrix81_speedup"] != 1.3 {
		t.Errorf("medians: bookstore %v, speed-up %v; want 5 and 1.3", got["bookstore_seconds"], got["matrix81_speedup"])
	}
	if got["plan10000_ms"] != nil {
		t.Errorf("an unmeasured figure is %v, want null", got["plan10000_ms"])
	}
	if got["cores"] != 2.0 || got["date"] != "2026-11-26T03:00:00Z" {
		t.Errorf("cores %v, date %v", got["cores"], got["date"])
	}
	detail := got["figures"].(map[string]any)["matrix81_speedup"].(map[string]any)
	if detail["met"] != false || detail["min"] != 1.2 || detail["max"] != 1.4 {
		t.Errorf("detail of the speed-up = %v, want met=false, min 1.2, max 1.4", detail)
	}
}

func TestWriteTable(t *testing.T) {
	r := Report{Date: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC), Cores: 2, Reps: 3}
	r.Add(Figure{Key: "bookstore_seconds", Label: "Bookstore", Unit: "s", Samples: []float64{5.123, 4, 6}, Target: Under(6)})
	r.Add(Figure{Key: "x", Label: "no target", Unit: "pods", Samples: []float64{120}})
	r.Add(Figure{Key: "y", Label: "not measured", Unit: "s", Target: Under(1)})
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"FIGURE", "Bookstore", "5.12", "< 6", "yes", "no target", "120", "not measured", "2 cores"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestAtMost(t *testing.T) {
	if !AtMost(0.05).Met(0.05) || AtMost(0.05).Met(0.051) {
		t.Errorf("AtMost(0.05) should take 0.05 and refuse 0.051")
	}
}
