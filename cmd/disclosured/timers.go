package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"disclosured/workflow"
)

func sweepCmd(ctx context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("sweep", e)
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
	if err := s.ready(); err != nil {
		return err
	}
	cfg := s.cfg
	actions, err := s.engine.Sweep(ctx, now, *dry)
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
		id := a.CaseID
		if id == "" {
			id = "-" // the overview or the monthly report
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s (due %s)\n", id, a.Timer, verb, what, a.Due.In(cfg.Location()).Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "%d timer actions\n", len(actions))
	return nil
}

func reportCmd(_ context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("report", e)
	fromS := fs.String("from", "", "only cases received on or after this date (YYYY-MM-DD or RFC 3339)")
	toS := fs.String("to", "", "only cases received before this date (YYYY-MM-DD or RFC 3339)")
	asJSON := fs.Bool("json", false, "print JSON")
	pngFile := fs.String("png", "", "write the chart (met vs breached, time to meet) to FILE as PNG")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := s.cfg
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
	if err := s.ready(); err != nil {
		return err
	}
	rep, err := workflow.Report(s.db, from, to)
	if err != nil {
		return err
	}
	if *pngFile != "" {
		// The CLI sent stdout to the file (reportTarget).
		opts, err := engineOptions(cfg, newLogger(cfg, io.Discard))
		if err != nil {
			return err
		}
		return workflow.Chart(e.stdout, workflow.ChartTitle(from, to), rep, opts.Timers)
	}
	if *asJSON {
		return writeJSON(e.stdout, rep)
	}
	return workflow.WriteReport(e.stdout, rep)
}
