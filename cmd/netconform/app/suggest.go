package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// suggestFlag adds the closest flag of the command to an unknown flag's error, as cobra
// does for commands. A long flag given with one dash, as Go's flag package took it
// (-timeout), is answered with its two-dash form.
func suggestFlag(cmd *cobra.Command, err error) error {
	typed, ok := unknownFlag(err.Error())
	if !ok {
		return err
	}
	if best := closestFlag(cmd.Flags(), typed); best != "" {
		return fmt.Errorf("%w\n\nDid you mean this?\n\t--%s", err, best)
	}
	return err
}

// unknownFlag is the name pflag could not place, from its message: "unknown flag:
// --ouptut" or "unknown shorthand flag: 't' in -timeout=1s".
func unknownFlag(msg string) (string, bool) {
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		return name, true
	}
	if _, arg, ok := strings.Cut(msg, "' in -"); ok && strings.HasPrefix(msg, "unknown shorthand flag: '") {
		name, _, _ := strings.Cut(arg, "=")
		return name, true
	}
	return "", false
}

// closestFlag is the visible flag nearest to typed, within a third of its length (at
// least 2 edits), or a flag that typed is a prefix of; "" when none is.
func closestFlag(flags *pflag.FlagSet, typed string) string {
	best, bestDistance := "", max(2, len(typed)/3)+1
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(strings.ToLower(typed), f.Name)
		if strings.HasPrefix(f.Name, typed) && len(typed) > 1 {
			d = min(d, 1)
		}
		if d < bestDistance {
			best, bestDistance = f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
