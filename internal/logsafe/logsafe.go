// Package logsafe makes text that others wrote (status messages, targets, names, API
// errors) safe to print in a terminal or a CI log: it cannot move the cursor, recolour
// the screen, start a log line of its own, or be read as a CI workflow command.
package logsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s on one line with every control character escaped as Go would quote it
// (\n, \r, \t, \x1b, \u202e), invalid UTF-8 escaped byte by byte, and the markers that
// CI systems read as commands broken: "##" (Azure Pipelines' ##vso[ and ##[, TeamCity's
// ##teamcity[, read anywhere in a line) and a leading "::" (GitHub Actions). Text that
// needs none of this comes back unchanged.
func Text(s string) string {
	if !needsEscaping(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && isInvalidAt(s, i):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteRune(r)
		}
	}
	out := strings.ReplaceAll(b.String(), "##", `#\x23`)
	if trimmed := strings.TrimLeft(out, " "); strings.HasPrefix(trimmed, "::") {
		out = out[:len(out)-len(trimmed)] + `\x3a` + trimmed[1:]
	}
	return out
}

// Error is err's message made safe by Text; nil stays "<nil>", as fmt prints it.
func Error(err error) string {
	if err == nil {
		return "<nil>"
	}
	return Text(err.Error())
}

func needsEscaping(s string) bool {
	if !utf8.ValidString(s) || strings.Contains(s, "##") || strings.HasPrefix(strings.TrimLeft(s, " "), "::") {
		return true
	}
	return strings.IndexFunc(s, unsafeRune) >= 0
}

// unsafeRune: C0 and C1 controls and DEL, line and paragraph separators, and format
// characters such as the bidirectional overrides that reorder what a reader sees.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf)
}

func isInvalidAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size == 1
}

func escapeRune(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	if r < 0x100 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}
