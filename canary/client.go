package canary

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes/dialer"
)

// dial is one of the client's connection attempts.
type dial struct {
	seq      int
	start    time.Time
	observed v1alpha1.Observation
}

// Watch dials target every interval until ctx ends and writes a line each time what the
// dials see changes. Dials overlap, each bounded by timeout, and are reported in the
// order they started, so a change is timed by the first dial that saw it even when
// dropped dials take their whole timeout.
func Watch(ctx context.Context, target string, interval, timeout time.Duration, out io.Writer) error {
	results := make(chan dial, int(timeout/interval)+2)
	go startDials(ctx, target, interval, timeout, results)
	var last v1alpha1.Observation
	pending := map[int]dial{}
	next := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-results:
			pending[d.seq] = d
		}
		for d, ok := pending[next]; ok; d, ok = pending[next] {
			delete(pending, next)
			next++
			if d.observed == last {
				continue
			}
			last = d.observed
			if _, err := fmt.Fprintln(out, FormatChange(Change{At: d.start, Observed: d.observed})); err != nil {
				return err
			}
		}
	}
}

func startDials(ctx context.Context, target string, interval, timeout time.Duration, results chan<- dial) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		go func(seq int, start time.Time) {
			d := dial{seq: seq, start: start, observed: dialOnce(ctx, target, timeout)}
			select {
			case results <- d:
			case <-ctx.Done():
			}
		}(seq, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func dialOnce(ctx context.Context, target string, timeout time.Duration) v1alpha1.Observation {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		o, _ := dialer.Classify(err)
		return o
	}
	_ = conn.Close()
	return v1alpha1.ObservedConnected
}
