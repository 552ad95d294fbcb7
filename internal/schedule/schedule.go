// Package schedule reads a ReachabilityTest's schedule: standard cron, the @hourly style
// descriptors, or an interval such as "@every 10m". The offline validator and the
// reconciler both read it here, so a schedule one refuses the other refuses too.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinInterval is the shortest time a schedule may leave between two runs: cron's own
// granularity, so that no schedule starts probe pods more often than once a minute.
const MinInterval = time.Minute

const everyPrefix = "@every "

// fix says what a valid schedule looks like; every error ends with it.
const fix = `use five cron fields such as "0 3 * * *", a descriptor such as "@hourly", or "@every 10m" (at least "@every 1m")`

// ErrNeverFires is returned for a schedule that no date matches.
var ErrNeverFires = errors.New("never fires: no date matches its day-of-month and month fields (February has no day 30 or 31; April, June, September and November no day 31)")

// Check refuses a schedule that cron cannot read, that never fires after now, or that
// fires more often than MinInterval.
func Check(spec string, now time.Time) error {
	_, err := Next(spec, now)
	return err
}

// Next returns the first time after from at which the schedule fires. It refuses the
// schedules Check refuses, so that a caller can never be told to run at once, forever.
func Next(spec string, from time.Time) (time.Time, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %q: %w: %s", spec, err, fix)
	}
	if d, ok := interval(spec); ok && d < MinInterval {
		return time.Time{}, fmt.Errorf("schedule %q fires every %s, more often than the minimum of %s: %s", spec, d, MinInterval, fix)
	}
	next := s.Next(from)
	if next.IsZero() { // cron looks five years ahead and gives up
		return time.Time{}, fmt.Errorf("schedule %q %w: %s", spec, ErrNeverFires, fix)
	}
	return next, nil
}

// interval reads the duration of an "@every" schedule. Five cron fields cannot fire more
// often than once a minute.
func interval(spec string) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(spec, everyPrefix)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(rest)
	return d, err == nil
}
