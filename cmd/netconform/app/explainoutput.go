package app

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/internal/explain"
)

// answerFormats are what `explain -o` prints.
var answerFormats = []string{"table", "json", "yaml", "markdown"}

// answerDocument is explain's answer as JSON and YAML give it. Its fields are a contract
// for scripts: add, never rename.
type answerDocument struct {
	// Verdict is ALLOWED, DENIED or UNDECIDED, the first line of the table.
	Verdict   string `json:"verdict"`
	Allowed   bool   `json:"allowed"`
	Undecided bool   `json:"undecided"`
	// From, To and Protocol are the connection as --from, --to and --protocol gave it.
	From     string   `json:"from"`
	To       string   `json:"to"`
	Protocol string   `json:"protocol"`
	Tiers    []string `json:"tiers,omitempty"`
	Reasons  []string `json:"reasons"`
	Caveats  []string `json:"caveats,omitempty"`
	// WhatIf is set with --policies: the answer above is the one with them added.
	WhatIf *whatIf `json:"whatIf,omitempty"`
	// lines are the table's.
	lines []string
}

type whatIf struct {
	PoliciesAdded int    `json:"policiesAdded"`
	Before        string `json:"before"`
	After         string `json:"after"`
	Changed       bool   `json:"changed"`
}

func newAnswerDocument(a explain.Answer) answerDocument {
	lines := a.Lines()
	return answerDocument{
		Verdict: lines[0], Allowed: a.Allowed, Undecided: a.Undecided,
		Tiers: a.Tiers, Reasons: append([]string{}, a.Reasons...), Caveats: a.Caveats, lines: lines,
	}
}

// write prints the answer in one of answerFormats.
func (d answerDocument) write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(d)
	case "yaml":
		out, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	case "markdown":
		return d.markdown(w)
	}
	var b strings.Builder
	if d.WhatIf != nil {
		fmt.Fprintf(&b, "What-if with %d policies added (nothing applied): %s\n", d.WhatIf.PoliciesAdded, d.WhatIf.summary())
	}
	for _, l := range d.lines {
		b.WriteString(l + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summary reads "DENIED before, ALLOWED after (changed)".
func (w whatIf) summary() string {
	change := "unchanged"
	if w.Changed {
		change = "changed"
	}
	return fmt.Sprintf("%s before, %s after (%s)", w.Before, w.After, change)
}

// markdown is the answer for a pull request comment or a job summary.
func (d answerDocument) markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** `%s` → `%s` (%s)\n\n", d.Verdict, d.From, d.To, d.Protocol)
	if d.WhatIf != nil {
		fmt.Fprintf(&b, "What-if with %d policies added (nothing applied): %s\n\n", d.WhatIf.PoliciesAdded, d.WhatIf.summary())
	}
	for _, t := range d.Tiers {
		b.WriteString("- tier: " + t + "\n")
	}
	for _, r := range d.Reasons {
		b.WriteString("- " + r + "\n")
	}
	for _, c := range d.Caveats {
		b.WriteString("- caveat: " + c + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
