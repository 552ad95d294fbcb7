// Package schedule reads a ReachabilityTest's schedule: standard cron, the @hourly style
// descriptors, or an interval such as "@every 10m".
package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Next returns the first time after from at which the schedule fires.
func Next(spec string, from time.Time) (time.Time, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %q: %w: use five cron fields such as \"0 3 * * *\", or \"@every 10m\"", spec, err)
	}
	return s.Next(from), nil
}
