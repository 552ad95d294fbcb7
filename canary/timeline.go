package canary

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Change is a line of the client's log: from At on, the client's dials saw Observed.
// At is when the first dial that saw it started, so the precision is the dial interval.
type Change struct {
	At       time.Time
	Observed v1alpha1.Observation
}

// Connected reports whether traffic got through.
func (c Change) Connected() bool { return c.Observed == v1alpha1.ObservedConnected }

const changePrefix = "canary "

// FormatChange is how the client logs a change.
func FormatChange(c Change) string {
	return fmt.Sprintf("%s%d %s", changePrefix, c.At.UnixNano(), c.Observed)
}

// ParseTimeline reads the changes from the client's log, ignoring other lines.
func ParseTimeline(r io.Reader) ([]Change, error) {
	var changes []Change
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), changePrefix)
		if !ok {
			continue
		}
		at, obs, ok := strings.Cut(line, " ")
		nanos, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("canary client log line %q: want %q followed by nanoseconds and an observation", sc.Text(), changePrefix)
		}
		changes = append(changes, Change{At: time.Unix(0, nanos), Observed: v1alpha1.Observation(obs)})
	}
	return changes, sc.Err()
}

// firstAfter is the first change at or after t whose traffic got through (connected)
// or not; ok is false if there is none yet.
func firstAfter(timeline []Change, t time.Time, connected bool) (Change, bool) {
	for _, c := range timeline {
		if !c.At.Before(t) && c.Connected() == connected {
			return c, true
		}
	}
	return Change{}, false
}

// current is the latest change, the state the client sees now.
func current(timeline []Change) (Change, bool) {
	if len(timeline) == 0 {
		return Change{}, false
	}
	return timeline[len(timeline)-1], true
}
