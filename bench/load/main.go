// Command load is disclosured's benchmark harness (issue 7, `make bench`).
// It measures the daemon against baselines taken in the same run on the
// same machine, because the machines are shared and noisy and an absolute
// time alone means little:
//
//  1. acknowledgment latency through a real Postfix + Dovecot, against a
//     plain IMAP client's IDLE notification of the same report;
//  2. backlog ingest and acknowledgment of N waiting reports, against a
//     plain IMAP FETCH of the same messages and a plain SMTP client sending
//     the same number of acknowledgments;
//  3. parser throughput over shared/corpus, against go-message decoding
//     every part;
//  4. store writes with fsync, against bare bbolt puts, and the timer sweep,
//     against itself on a store 100 times smaller;
//  5. the daemon's peak RSS with a large store and with a large message.
//
// Parts 3 and 4 are Go benchmarks in parser/, store/, workflow/ and this
// package, run through `go test -bench`; parts 1, 2 and 5 build
// cmd/disclosured and run the binary against a mail stack (started
// privately with e2e/mailstack/start.sh, or taken from MAILSTACK_*).
// It prints a Markdown table with figure, baseline, ratio, target and
// verdict, and exits 1 if a part could not be measured (a missed target is
// a result, not a failure).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// config is the harness's settings; the flags set them.
type config struct {
	latencyN   int
	backlogN   int
	cases      int
	attachMiB  float64
	sweepCases int // 0: BenchmarkSweep's default (100,000)
	benchtime  string
	stackMode  string
	parts      string
	mdPath     string
	keepWork   bool
	verbose    bool
	root       string
}

// progress goes to stderr (the table goes to stdout).
var progress io.Writer = os.Stderr

func logf(format string, args ...any) {
	fmt.Fprintf(progress, format+"\n", args...)
}

func main() {
	var cfg config
	flag.IntVar(&cfg.latencyN, "latency-n", 200, "reports sent one by one for the latency run")
	flag.IntVar(&cfg.backlogN, "backlog-n", 5000, "reports waiting when the daemon starts")
	flag.IntVar(&cfg.cases, "cases", 100_000, "cases in the store for the memory run")
	flag.Float64Var(&cfg.attachMiB, "attach-mib", 20, "attachment size of the large message, MiB")
	flag.IntVar(&cfg.sweepCases, "sweep-cases", 0, "cases in BenchmarkSweep's store (0: its default, 100000)")
	flag.StringVar(&cfg.benchtime, "benchtime", "1s", "go test -benchtime for the in-process benchmarks")
	flag.StringVar(&cfg.stackMode, "stack", "auto", "mail stack: auto (private if root, else env), private or env (MAILSTACK_*)")
	flag.StringVar(&cfg.parts, "parts", "all", "comma-separated parts to run: gobench,latency,backlog,memory or all")
	flag.StringVar(&cfg.mdPath, "md", "", "also write the table and details as Markdown to this file")
	flag.BoolVar(&cfg.keepWork, "keep", false, "keep the work directory (daemon logs, stores)")
	flag.BoolVar(&cfg.verbose, "v", false, "more progress output")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	cfg.root = root
	ctx := context.Background()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// repoRoot walks up from the working directory to go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run from the repository")
		}
		dir = parent
	}
}

func (c config) want(part string) bool {
	if c.parts == "all" || c.parts == "" {
		return true
	}
	for _, p := range strings.Split(c.parts, ",") {
		if strings.TrimSpace(p) == part {
			return true
		}
	}
	return false
}

// run measures every selected part and prints the table to out. A part
// that fails still prints its rows, marked as failed, and makes run return
// an error; errNoStack is returned as is when no mail stack was available.
func run(ctx context.Context, cfg config, out io.Writer) error {
	start := time.Now()
	var rows []row
	var notes []string
	var failed []error
	fail := func(part string, err error, ids ...string) {
		failed = append(failed, fmt.Errorf("%s: %w", part, err))
		logf("%s FAILED: %v", part, err)
		for _, id := range ids {
			rows = append(rows, failedRow(id, err))
		}
	}

	if cfg.want("gobench") {
		logf("parts 3 and 4: go test -bench (benchtime %s)", cfg.benchtime)
		res, raw, err := runGoBench(cfg.root, cfg.benchtime, cfg.sweepCases)
		if cfg.verbose {
			logf("%s", raw)
		}
		if err != nil {
			fail("go benchmarks", err, goBenchRowIDs...)
		} else {
			r, n := goBenchRows(res, cfg.root)
			rows = append(rows, r...)
			notes = append(notes, n...)
		}
	}

	needStack := cfg.want("latency") || cfg.want("backlog") || cfg.want("memory")
	if needStack {
		if err := runStackParts(cfg, &rows, &notes, fail); err != nil {
			return err
		}
	}

	sortRows(rows)
	notes = append(notes, fmt.Sprintf("total run time %v", time.Since(start).Round(time.Second)))
	md := renderTable(rows, notes)
	fmt.Fprint(out, md)
	if cfg.mdPath != "" {
		if err := os.WriteFile(cfg.mdPath, []byte(md), 0o644); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}

// runStackParts runs the parts that need the mail stack and the daemon
// binary. It returns an error only when there is no stack at all (the
// smoke test skips on errNoStack); part failures go through fail.
func runStackParts(cfg config, rows *[]row, notes *[]string, fail func(string, error, ...string)) error {
	logf("mail stack (%s)", cfg.stackMode)
	st, err := startStack(cfg.root, cfg.stackMode)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.stop(); err != nil {
			logf("%v", err)
		}
	}()
	if st.dir != "" {
		*notes = append(*notes, "mail stack: private, started by the harness with e2e/mailstack/start.sh")
	} else {
		*notes = append(*notes, "mail stack: from MAILSTACK_* in the environment")
	}
	// Short: the daemon's control socket lives below it (108-byte limit).
	work, err := os.MkdirTemp("", "bench")
	if err != nil {
		return err
	}
	if cfg.keepWork {
		logf("work directory %s (kept)", work)
	} else {
		defer os.RemoveAll(work)
	}
	logf("building cmd/disclosured")
	bin, err := buildDaemon(cfg.root, work)
	if err != nil {
		for _, p := range []struct {
			on  bool
			ids []string
		}{{cfg.want("latency"), latencyRowIDs}, {cfg.want("backlog"), backlogRowIDs}, {cfg.want("memory"), memoryRowIDs}} {
			if p.on {
				fail("build", err, p.ids...)
			}
		}
		return nil
	}

	var ackRaw []byte
	if cfg.want("latency") || cfg.want("backlog") {
		logf("part 1: acknowledgment latency, %d reports one by one", cfg.latencyN)
		n := cfg.latencyN
		if !cfg.want("latency") {
			n = 1 // the backlog run only needs one real acknowledgment
		}
		lat, err := runLatency(cfg, st, bin, work, n)
		switch {
		case err != nil:
			fail("latency", err, latencyRowIDs...)
		case cfg.want("latency"):
			*rows = append(*rows, latencyRows(lat)...)
			*notes = append(*notes, fmt.Sprintf("latency: %d reports; acknowledgment %d bytes as submitted", len(lat.ack), len(lat.ackRaw)))
		}
		if lat != nil {
			ackRaw = lat.ackRaw
		}
	}
	if cfg.want("backlog") {
		logf("part 2: backlog of %d reports", cfg.backlogN)
		if ackRaw == nil {
			fail("backlog", errors.New("no acknowledgment to model the SMTP baseline on (latency run failed)"), backlogRowIDs...)
		} else if res, err := runBacklog(cfg, st, bin, work, cfg.backlogN, ackRaw); err != nil {
			fail("backlog", err, backlogRowIDs...)
		} else {
			r, n := backlogRows(res)
			*rows = append(*rows, r...)
			*notes = append(*notes, n...)
		}
	}
	if cfg.want("memory") {
		logf("part 5: memory, store of %d cases and a %.0f MiB attachment", cfg.cases, cfg.attachMiB)
		res, err := runMemory(st, bin, work, cfg.cases, int(cfg.attachMiB*(1<<20)))
		if err != nil {
			fail("memory", err, memoryRowIDs...)
		} else {
			r, n := memoryRows(res)
			*rows = append(*rows, r...)
			*notes = append(*notes, n...)
		}
	}
	return nil
}
