package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Table writes, per test, a headline, the truth table of sources × destinations in the
// spirit of the Kubernetes NetworkPolicy e2e reachability matrix, what its columns are,
// a legend, and a line per failing or inconclusive edge; first, once, the policy kinds
// that made predictions partial.
func Table(w io.Writer, tests []v1alpha1.ReachabilityTest) error {
	b := bufio.NewWriter(w)
	if partial := partialPredictions(tests); len(partial) > 0 {
		for _, msg := range partial {
			fmt.Fprintln(b, msg)
		}
		fmt.Fprintln(b)
	}
	for i, t := range newTests(tests) {
		if i > 0 {
			fmt.Fprintln(b)
		}
		writeTableTest(b, t)
	}
	return b.Flush()
}

func writeTableTest(w io.Writer, t test) {
	fmt.Fprintf(w, "%s %s\n", t.name, t.headline())
	if t.canary != nil && !t.canary.enforced() {
		fmt.Fprintln(w, t.canary.Message)
	}
	if len(t.edges) == 0 {
		return
	}
	m := newMatrix(t.edges)
	fmt.Fprintln(w)
	writeGrid(w, m)
	fmt.Fprintln(w)
	for i, c := range m.cols {
		fmt.Fprintf(w, "%-*s = %s\n", len(column(len(m.cols)-1)), column(i), c)
	}
	fmt.Fprintln(w)
	writeLegend(w)
	if problems := t.problems(); len(problems) > 0 {
		fmt.Fprintln(w)
		for _, e := range problems {
			fmt.Fprintln(w, problemLine(e))
		}
	}
}

// writeGrid pads by runes, not bytes: the marks are multi-byte.
func writeGrid(w io.Writer, m matrix) {
	rowWidth := utf8.RuneCountInString("from \\ to")
	for _, r := range m.rows {
		rowWidth = max(rowWidth, utf8.RuneCountInString(r))
	}
	colWidth := len(column(len(m.cols)-1)) + 2
	cells := make([]string, len(m.cols))
	for i := range m.cols {
		cells[i] = column(i)
	}
	writeRow(w, "from \\ to", rowWidth, cells, colWidth)
	for i, r := range m.rows {
		for j, o := range m.cells[i] {
			cells[j] = o.mark()
		}
		writeRow(w, r, rowWidth, cells, colWidth)
	}
}

func writeRow(w io.Writer, label string, labelWidth int, cells []string, cellWidth int) {
	var b strings.Builder
	b.WriteString(pad(label, labelWidth))
	for _, c := range cells {
		b.WriteString("  ")
		b.WriteString(pad(c, cellWidth-2))
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
}

func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
}

func writeLegend(w io.Writer) {
	parts := make([]string, len(legend))
	for i, l := range legend {
		parts[i] = l.mark + " " + l.meaning
	}
	fmt.Fprintf(w, "Legend: %s\n", strings.Join(parts, " · "))
}
