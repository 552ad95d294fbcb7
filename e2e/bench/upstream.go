//go:build bench

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/netconform/netconform/api/v1alpha1"
)

// The upstream suite's way of probing: three workers exec `agnhost connect` in the
// source pods, one cell at a time, retrying a cell while it differs from what is expected.
const (
	upstreamWorkers = 3
	upstreamTimeout = "1s"
	// upstreamTries is how often a cell is probed while it differs from the expectation.
	upstreamTries = 3
	// upstreamRetryPause is the pause before probing a differing cell again.
	upstreamRetryPause = time.Second
)

// sameTimeoutAsUpstream is a test of the edges whose checks wait as long as the upstream
// probes do (--timeout=1s), so that both sides pay the same for a dropped packet.
func sameTimeoutAsUpstream(edges []v1alpha1.Edge) v1alpha1.ReachabilityTestSpec {
	return v1alpha1.ReachabilityTestSpec{Edges: edges, ProbeTimeoutSeconds: 1}
}

// cell is one probe of the truth table: from a pod, to an address, and whether it
// should connect.
type cell struct {
	fromNamespace, fromPod, container string
	to                                string // ip:port
	allow                             bool
}

// probeOutcome sums up a round of probes.
type probeOutcome struct {
	execs int
	// connects and fails are how long the execs that connected, or did not, took.
	connects, fails []float64
	// wrong counts cells that still differed from the expectation after every try.
	wrong int
}

// probeCells runs the cells with the upstream method and returns how it went.
func (b *bench) probeCells(cells []cell) (probeOutcome, error) {
	work := make(chan cell)
	var mu sync.Mutex
	var out probeOutcome
	var firstErr error
	var wg sync.WaitGroup
	for range upstreamWorkers {
		wg.Go(func() {
			for c := range work {
				execs, ok, err := b.probeCell(c, &mu, &out)
				mu.Lock()
				out.execs += execs
				if !ok {
					out.wrong++
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range cells {
		if b.ctx.Err() != nil {
			break
		}
		work <- c
	}
	close(work)
	wg.Wait()
	return out, errors.Join(firstErr, b.ctx.Err())
}

// probeCell probes one cell until it matches the expectation or the tries run out.
func (b *bench) probeCell(c cell, mu *sync.Mutex, out *probeOutcome) (execs int, ok bool, err error) {
	for try := 1; try <= upstreamTries; try++ {
		start := time.Now()
		connected, err := b.connect(c)
		took := time.Since(start).Seconds()
		mu.Lock()
		if connected {
			out.connects = append(out.connects, took)
		} else {
			out.fails = append(out.fails, took)
		}
		mu.Unlock()
		execs++
		if err != nil {
			return execs, false, err
		}
		if connected == c.allow {
			return execs, true, nil
		}
		if try < upstreamTries {
			time.Sleep(upstreamRetryPause)
		}
	}
	return execs, false, nil
}

// connect execs `netconform connect ADDRESS --timeout=1s --protocol=tcp` in the source
// pod through the pods/exec API, as the upstream suite execs agnhost, and reports
// whether it connected (exit code 0).
func (b *bench) connect(c cell) (bool, error) {
	req := b.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.fromNamespace).Name(c.fromPod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: c.container,
			Command:   []string{"/netconform", "connect", c.to, "--timeout=" + upstreamTimeout, "--protocol=tcp"},
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(b.rest, "POST", req.URL())
	if err != nil {
		return false, err
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	var exit utilexec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitStatus() == 1:
		return false, nil
	}
	return false, fmt.Errorf("exec in %s/%s: %w (stderr %q)", c.fromNamespace, c.fromPod, err, stderr.String())
}

func address(pod *corev1.Pod, port int32) string {
	return net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port)))
}
