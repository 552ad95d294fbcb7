// Package figures is the arithmetic of the benchmark: it summarises repeated
// measurements (median, min, max), checks them against their targets, renders them as a
// table and as JSON, and reads `go test -bench` output and the manager's request counters.
package figures

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is what the repetitions of one measurement come to.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Summarize returns the median (the mean of the middle two for an even count), min and
// max of samples; NaN for all three when there are none.
func Summarize(samples []float64) Summary {
	if len(samples) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Sorted(slices.Values(samples))
	mid := len(s) / 2
	median := s[mid]
	if len(s)%2 == 0 {
		median = (s[mid-1] + s[mid]) / 2
	}
	return Summary{Median: median, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Target is the bound a figure's median must respect.
type Target struct {
	// Op is "<", "<=" or ">=".
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// Under is a target the median must stay below.
func Under(v float64) *Target { return &Target{Op: "<", Value: v} }

// AtMost is a target the median must not exceed.
func AtMost(v float64) *Target { return &Target{Op: "<=", Value: v} }

// AtLeast is a target the median must reach.
func AtLeast(v float64) *Target { return &Target{Op: ">=", Value: v} }

// Met tells whether v respects the target.
func (t Target) Met(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	}
	return v >= t.Value
}

func (t Target) String() string { return t.Op + " " + format(t.Value) }

// Figure is one measured quantity, over repetitions.
type Figure struct {
	// Key names the figure in the JSON file.
	Key string
	// Label describes it in the table.
	Label   string
	Unit    string
	Samples []float64
	Target  *Target
}

// Summary of the figure's samples.
func (f Figure) Summary() Summary { return Summarize(f.Samples) }

// Met is nil without a target or samples, else whether the median respects the target.
func (f Figure) Met() *bool {
	s := f.Summary()
	if f.Target == nil || s.N == 0 {
		return nil
	}
	met := f.Target.Met(s.Median)
	return &met
}

// RequiredKeys are the figures every report holds, as medians, at the top of the JSON.
var RequiredKeys = []string{
	"bookstore_seconds",
	"matrix81_seconds", "matrix81_upstream_seconds", "matrix81_speedup",
	"edges1000_seconds", "edges1000_upstream_seconds", "edges1000_speedup",
	"tests100x50_seconds", "tests100x50_probe_pods",
	"api_writes_per_edge_1000",
	"manager_peak_rss_mib",
	"plan10000_ms",
}

// Report is a whole benchmark run.
type Report struct {
	Date    time.Time
	Cores   int
	Reps    int
	Figures []Figure
	// Notes say what the figures alone do not: failures, throttling, where time goes.
	Notes []string
}

// Add appends a figure.
func (r *Report) Add(f Figure) { r.Figures = append(r.Figures, f) }

// Note records a remark for the table and the JSON.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

type figureJSON struct {
	Label  string    `json:"label"`
	Unit   string    `json:"unit"`
	Values []float64 `json:"samples"`
	Summary
	Target *Target `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
}

// MarshalJSON writes every figure's median under its key at the top level (null when
// it was not measured), the machine's core count and the date, and every figure in
// detail under "figures".
func (r Report) MarshalJSON() ([]byte, error) {
	out := map[string]any{
		"date":  r.Date.UTC().Format(time.RFC3339),
		"cores": r.Cores,
		"reps":  r.Reps,
		"notes": append([]string{}, r.Notes...),
	}
	for _, key := range RequiredKeys {
		out[key] = nil
	}
	detail := map[string]figureJSON{}
	for _, f := range r.Figures {
		s := f.Summary()
		out[f.Key] = number(s.Median)
		detail[f.Key] = figureJSON{Label: f.Label, Unit: f.Unit, Values: f.Samples, Summary: finite(s), Target: f.Target, Met: f.Met()}
	}
	out["figures"] = detail
	return json.MarshalIndent(out, "", "  ")
}

// number is v, or nil for NaN, which JSON cannot carry.
func number(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func finite(s Summary) Summary {
	if s.N == 0 {
		return Summary{}
	}
	return s
}

// WriteTable prints one row per figure: median, min, max, target and whether it was met.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "FIGURE\tMEDIAN\tMIN\tMAX\tUNIT\tN\tTARGET\tMET\n")
	for _, f := range r.Figures {
		s := f.Summary()
		target, met := "", ""
		if f.Target != nil {
			target = f.Target.String()
		}
		if m := f.Met(); m != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*m]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.Label, format(s.Median), format(s.Min), format(s.Max), f.Unit, s.N, target, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d cores, %s, %d repetitions\n", r.Cores, r.Date.UTC().Format(time.RFC3339), r.Reps)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// format prints a figure with as many digits as its size needs.
func format(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a == 0 || a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.2f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}
