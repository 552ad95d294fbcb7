package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Markdown writes the same report as Table in GitHub-flavoured markdown, for a CI job
// summary: an overall heading, then per test a heading with ✅ or ❌, the truth table,
// its destinations and the failing or inconclusive edges.
func Markdown(w io.Writer, tests []v1alpha1.ReachabilityTest) error {
	b := bufio.NewWriter(w)
	ts := newTests(tests)
	passed := 0
	for _, t := range ts {
		if t.passed() {
			passed++
		}
	}
	fmt.Fprintf(b, "## %s netconform: %d of %d tests passed\n", icon(allPassed(ts)), passed, len(ts))
	for _, msg := range partialPredictions(tests) {
		fmt.Fprintf(b, "\n> ⚠️ %s\n", msg)
	}
	for _, t := range ts {
		writeMarkdownTest(b, t)
	}
	return b.Flush()
}

func icon(passed bool) string {
	if passed {
		return "✅"
	}
	return "❌"
}

func writeMarkdownTest(w io.Writer, t test) {
	fmt.Fprintf(w, "\n### %s %s\n\n**%s**\n", icon(t.passed()), t.name, t.headline())
	if t.canary != nil && !t.canary.enforced() {
		fmt.Fprintf(w, "\n%s\n", escapeMarkdown(t.canary.Message))
	}
	if len(t.edges) == 0 {
		return
	}
	m := newMatrix(t.edges)
	fmt.Fprintln(w)
	writeMarkdownGrid(w, m)
	fmt.Fprintln(w, "\n| | destination |\n| --- | --- |")
	for i, c := range m.cols {
		fmt.Fprintf(w, "| %s | `%s` |\n", column(i), c)
	}
	fmt.Fprintln(w)
	writeMarkdownLegend(w)
	if problems := t.problems(); len(problems) > 0 {
		fmt.Fprintln(w)
		for _, e := range problems {
			fmt.Fprintf(w, "- %s `%s`: %s\n", problemWord(e), e.Name, escapeMarkdown(observation(e.result)))
		}
	}
}

func writeMarkdownGrid(w io.Writer, m matrix) {
	header, align := "| source |", "| --- |"
	for i := range m.cols {
		header += " " + column(i) + " |"
		align += " :-: |"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, align)
	for i, r := range m.rows {
		line := "| `" + r + "` |"
		for _, o := range m.cells[i] {
			line += " " + markdownMark(o) + " |"
		}
		fmt.Fprintln(w, line)
	}
}

// markdownMark makes mismatches bold so they stand out in a rendered table.
func markdownMark(o outcome) string {
	if o >= inconclusive {
		return "**" + o.mark() + "**"
	}
	return o.mark()
}

func writeMarkdownLegend(w io.Writer) {
	parts := make([]string, len(legend))
	for i, l := range legend {
		parts[i] = "**" + l.mark + "** " + l.meaning
	}
	fmt.Fprintf(w, "%s\n", strings.Join(parts, " · "))
}

func problemWord(e edge) string {
	if e.result.Verdict == v1alpha1.VerdictFail {
		return "❌ **FAIL**"
	}
	return "⚠️ **INCONCLUSIVE**"
}

// escapeMarkdown keeps free text (probe messages) from turning into markup or HTML.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "|", `\|`, "#", `\#`,
)

func escapeMarkdown(s string) string {
	return markdownEscaper.Replace(s)
}
