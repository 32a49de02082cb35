package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/robfig/cron/v3"

	"disclosured/workflow"
)

func cmdSweep(ctx context.Context, args []string, e env) error {
	fs, cfgPath := newFlags("sweep", e)
	at := fs.String("at", "", "sweep as if the time were TIME (RFC 3339; default now)")
	dry := fs.Bool("dry-run", false, "show what would be sent; change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageError{fmt.Sprintf("--at: want RFC 3339 time, got %q", *at)}
		}
		now = t
	}
	cfg, err := loadConfig(*cfgPath, e)
	if err != nil {
		return err
	}
	engine, db, err := openEngine(cfg, newLogger(cfg, e.stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	actions, err := engine.Sweep(ctx, now, *dry)
	if err != nil {
		return err
	}
	if *asJSON {
		if actions == nil {
			actions = []workflow.SweepAction{}
		}
		return writeJSON(e.stdout, actions)
	}
	verb := "queued"
	if *dry {
		verb = "would queue"
	}
	for _, a := range actions {
		what := a.Kind
		if a.Percent > 0 {
			what = fmt.Sprintf("%s %d%%", a.Kind, a.Percent)
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s (due %s)\n", a.CaseID, a.Timer, verb, what, a.Due.In(cfg.Location()).Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "%d timer actions\n", len(actions))
	return nil
}

func cmdReport(args []string, e env) error {
	fs, cfgPath := newFlags("report", e)
	fromS := fs.String("from", "", "only cases received on or after this date (YYYY-MM-DD or RFC 3339)")
	toS := fs.String("to", "", "only cases received before this date (YYYY-MM-DD or RFC 3339)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, e)
	if err != nil {
		return err
	}
	parse := func(flag, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, s, cfg.Location()); err == nil {
			return t, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return t, usageError{fmt.Sprintf("--%s: want YYYY-MM-DD or RFC 3339, got %q", flag, s)}
		}
		return t, nil
	}
	from, err := parse("from", *fromS)
	if err != nil {
		return err
	}
	to, err := parse("to", *toS)
	if err != nil {
		return err
	}
	db, err := openStore(cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := workflow.Report(db, from, to)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, rep)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIMER\tMET\tBREACHED\tOPEN\tMEDIAN\tWORST")
	for _, r := range rep {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", r.Timer, r.Met, r.Breached, r.Open, r.MedianText, r.WorstText)
	}
	return tw.Flush()
}

// startSweeper runs the sweep on the configured cron spec in the
// organisation's time zone, and once at start so downtime is caught up.
// Each run recovers panics and skips if the previous one is still going.
func startSweeper(ctx context.Context, spec string, loc *time.Location, engine *workflow.Engine, log *slog.Logger) (stop func(), err error) {
	l := cronLogger{log.With("component", "sweep")}
	c := cron.New(cron.WithLocation(loc), cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l)))
	run := func() {
		if _, err := engine.Sweep(ctx, time.Now(), false); err != nil && ctx.Err() == nil {
			log.Error("sweep failed", "component", "sweep", "err", err)
		}
	}
	if _, err := c.AddFunc(spec, run); err != nil {
		return nil, fmt.Errorf("sla.sweep: %w", err)
	}
	c.Start()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("sweep panicked", "component", "sweep", "panic", fmt.Sprint(r))
			}
		}()
		run()
	}()
	return func() { <-c.Stop().Done() }, nil
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug(msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, append(kv, "err", err)...)
}
