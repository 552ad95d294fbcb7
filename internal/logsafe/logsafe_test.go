package logsafe

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text is unchanged", "Connected 10.96.0.5:5432/TCP: ok ✓ «ü»", "Connected 10.96.0.5:5432/TCP: ok ✓ «ü»"},
		{"empty", "", ""},
		{"a newline cannot start a log line", "denied\n::error::forged", `denied\n::error::forged`},
		{"carriage return cannot overwrite the line", "FAIL\rPASS", `FAIL\rPASS`},
		{"tab", "a\tb", `a\tb`},
		{"ANSI escape sequence", "\x1b[2J\x1b[31mred", `\x1b[2J\x1b[31mred`},
		{"8-bit CSI", "\u009b2J", `\x9b2J`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"line separator", "a\u2028b\u2029c\u0085d", `a\u2028b\u2029c\x85d`},
		{"bidirectional override", "user\u202egnp.exe", `user\u202egnp.exe`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"GitHub workflow command at the start", "::set-output name=passed::true", `\x3a:set-output name=passed::true`},
		{"GitHub workflow command after spaces", "   ::add-mask::x", `   \x3a:add-mask::x`},
		{"double colon inside is harmless", "host ::1 port 80", "host ::1 port 80"},
		{"Azure logging command anywhere", "message ##vso[task.setvariable variable=x]1", `message #\x23vso[task.setvariable variable=x]1`},
		{"Azure formatting command", "##[error]forged", `#\x23[error]forged`},
		{"TeamCity service message", "x ##teamcity[buildStatus status='SUCCESS']", `x #\x23teamcity[buildStatus status='SUCCESS']`},
		{"a run of hashes", "####", `#\x23#\x23`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Text(tc.in)
			if got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.ContainsFunc(got, unicode.IsControl) || strings.Contains(got, "##") {
				t.Errorf("Text(%q) = %q still holds a control character or ##", tc.in, got)
			}
		})
	}
}

func TestError(t *testing.T) {
	if got := Error(errors.New("admission denied:\n\x1b[1m::warning::x")); got != `admission denied:\n\x1b[1m::warning::x` {
		t.Errorf("Error = %q", got)
	}
	if got := Error(nil); got != "<nil>" {
		t.Errorf("Error(nil) = %q", got)
	}
}
