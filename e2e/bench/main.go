//go:build bench

// Command bench measures netconform against the upstream NetworkPolicy suite's method on
// the same cluster in the same run, and prints a table of figures (median, min and max of
// the repetitions) and the path of a JSON file holding them, as its last line.
//
//	go run -tags bench ./e2e/bench --reps 3
//
// It needs a cluster with netconform deployed (KUBECONFIG), runs on the node itself (it
// reads the manager's memory and CPU from /proc), and works in namespaces named bench-*,
// which it removes before and after.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/netconform/netconform/e2e/bench/figures"
)

// scenarios in the order they run.
var scenarios = []string{"micro", "bookstore", "matrix", "edges1000", "tests100x50", "checks", "drift"}

type options struct {
	reps    int
	out     string
	image   string
	only    []string
	timeout time.Duration
	// manyTimeout bounds one wave of the 100 tests, which can take many minutes while
	// every test starts pods of its own.
	manyTimeout time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	failed := b.runAll()
	if err := b.report.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if err := writeJSON(opts.out, b.report); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, opts.out)
	if failed {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	only := ""
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every measurement (at least 1)")
	fs.StringVar(&o.out, "out", defaultOut(), "where the JSON file goes")
	fs.StringVar(&o.image, "image", "netconform.local/netconform:e2e", "the netconform image the fixtures run")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarios, ","))
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit of any one wait")
	fs.DurationVar(&o.manyTimeout, "many-timeout", 3*time.Minute, "limit of one wave of 100 tests; past it the time recorded is a lower bound")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.reps < 1 {
		fmt.Fprintln(stderr, "bench: --reps must be at least 1")
		return o, flag.ErrHelp
	}
	for s := range strings.SplitSeq(only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(scenarios, s) {
			fmt.Fprintf(stderr, "bench: unknown scenario %q in --only; known: %s\n", s, strings.Join(scenarios, ","))
			return o, flag.ErrHelp
		}
		o.only = append(o.only, s)
	}
	return o, nil
}

func defaultOut() string {
	cache := os.Getenv("NETCONFORM_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cache = filepath.Join(dir, "netconform")
	}
	return filepath.Join(cache, "bench", "bench-"+time.Now().UTC().Format("20060102-150405")+".json")
}

func (o options) wants(scenario string) bool {
	return len(o.only) == 0 || slices.Contains(o.only, scenario)
}

// runAll runs the chosen scenarios; a scenario that fails is noted and the others go on.
// It reports whether any failed.
func (b *bench) runAll() bool {
	b.report.Date = time.Now()
	b.report.Cores = runtime.NumCPU()
	b.report.Reps = b.opts.reps
	steps := map[string]func() error{
		"micro":       b.microBenchmarks,
		"bookstore":   b.bookstore,
		"matrix":      b.matrix,
		"edges1000":   b.edges1000,
		"tests100x50": b.manyTests,
		"checks":      b.checksInOnePod,
		"drift":       b.drift,
	}
	if err := b.removeLeftovers(); err != nil {
		b.report.Note("removing leftovers of an earlier run: %v", err)
		return true
	}
	failed := false
	for _, name := range scenarios {
		if !b.opts.wants(name) {
			continue
		}
		start := time.Now()
		b.logf("scenario %s", name)
		if err := steps[name](); err != nil {
			b.report.Note("%s failed: %v", name, err)
			b.logf("scenario %s failed: %v", name, err)
			failed = true
		}
		b.logf("scenario %s took %s", name, time.Since(start).Round(time.Second))
		if b.ctx.Err() != nil {
			break
		}
	}
	if err := b.removeLeftovers(); err != nil {
		b.report.Note("clean-up: %v", err)
	}
	return failed
}

func writeJSON(path string, r figures.Report) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}
