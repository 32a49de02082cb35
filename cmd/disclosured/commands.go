package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"disclosured/calendar"
	"disclosured/store"
	"disclosured/workflow"
)

func cmdCheckConfig(args []string, e env) error {
	fs, cfgPath := newFlags("check-config", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, e)
	if err != nil {
		return err
	}
	if _, err := engineOptions(cfg, nil); err != nil {
		return err
	}
	if _, err := loadTemplates(cfg); err != nil {
		return err
	}
	src, err := tokenSource(cfg)
	if err != nil {
		return err
	}
	keys, err := loadPGP(cfg)
	if err != nil {
		return err
	}
	if err := cfg.Print(e.stdout); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	describeLogin(e.stderr, cfg, src)
	if err := reportPGP(keys, e.stderr, time.Now()); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "config OK")
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func casesCmd(_ context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("cases", e)
	state := fs.String("state", "", "only cases in this state")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := s.ready(); err != nil {
		return err
	}
	cfg := s.cfg
	list, err := workflow.ListCases(s.db, *state)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	w := visibleWriter{tw}
	fmt.Fprintln(w, "ID\tSTATE\tCLASS\tRECEIVED\tREPORTER\tSUBJECT")
	for _, c := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.State, c.Class,
			c.ReceivedAt.In(cfg.Location()).Format("2006-01-02 15:04"), c.Reporter, oneLine(c.Subject, 60))
	}
	return tw.Flush()
}

func showCmd(_ context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("show", e)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"usage: disclosured show ID [--json]"}
	}
	if err := s.ready(); err != nil {
		return err
	}
	v, err := workflow.ShowCase(s.db, strings.ToUpper(fs.Arg(0)))
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, v)
	}
	printCase(visibleWriter{e.stdout}, v, s.cfg.Location())
	return nil
}

// printCase prints a case as #show mails it.
func printCase(w io.Writer, v *workflow.CaseView, loc *time.Location) { workflow.WriteCase(w, v, loc) }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func importCmd(ctx context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("import", e)
	received := fs.String("received", "", "receipt time (RFC 3339); default the file's modification time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"usage: disclosured import [--received TIME] FILE..."}
	}
	var at time.Time
	if *received != "" {
		t, err := time.Parse(time.RFC3339, *received)
		if err != nil {
			return usageError{fmt.Sprintf("--received: want RFC 3339 time, got %q", *received)}
		}
		at = t
	}
	if err := s.ready(); err != nil {
		return err
	}
	engine := s.engine
	for _, path := range fs.Args() {
		data, mtime, err := s.readFile(path)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		when := at
		if when.IsZero() {
			when = mtime
		}
		out, err := engine.Import(ctx, path, data, when)
		if err != nil {
			return err
		}
		for _, o := range out {
			what := "joined"
			switch {
			case o.Duplicate:
				what = "already imported"
			case o.Failed:
				what = "new case (processing failed; stored as is, staff told)"
			case o.New:
				what = "new case"
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", filepath.Base(path), o.CaseID, what, o.Class)
		}
	}
	return nil
}

func cmdCalendar(args []string, e env) error {
	fs, cfgPath := newFlags("calendar", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 || fs.Arg(0) != "add" {
		return usageError{"usage: disclosured calendar add TIME DURATION (e.g. 2026-11-20T16:00:00+01:00 3wd)"}
	}
	t, err := time.Parse(time.RFC3339, fs.Arg(1))
	if err != nil {
		return usageError{fmt.Sprintf("TIME: want RFC 3339, got %q", fs.Arg(1))}
	}
	d, err := calendar.ParseDuration(fs.Arg(2))
	if err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*cfgPath, e)
	if err != nil {
		return err
	}
	cal, err := newCalendar(cfg)
	if err != nil {
		return configError{err}
	}
	fmt.Fprintln(e.stdout, cal.Add(t, d).Format(time.RFC3339))
	return nil
}

// backupCmd writes a consistent copy of the store to stdout; the client
// side (backupTarget) puts it in the file.
func backupCmd(_ context.Context, args []string, s *session, e env) error {
	fs, _ := newFlags("backup", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := s.ready(); err != nil {
		return err
	}
	return s.db.View(func(tx *store.Tx) error {
		_, err := tx.WriteTo(e.stdout)
		return err
	})
}
