package app

import (
	"flag"
	"time"
)

// settleFlags say how long a new probe pod's checks wait for the policy enforcer to
// program the pod, which it does without saying when it is done.
type settleFlags struct {
	settle, max time.Duration
}

func (f *settleFlags) bind(fs *flag.FlagSet) {
	fs.DurationVar(&f.settle, "probe-settle-time", 2*time.Second,
		"how long a check the NetworkPolicies have no verdict on waits before its first attempt, so that the policy enforcer has programmed the new probe pod")
	fs.DurationVar(&f.max, "probe-max-settle-time", 10*time.Second,
		"how long a check the NetworkPolicies have a verdict on is retried while the dataplane disagrees with them; raise it for slow enforcers")
}
