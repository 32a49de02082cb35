package main

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"disclosured/calendar"
	"disclosured/config"
	"disclosured/store"
	"disclosured/templates"
	"disclosured/workflow"
)

// TestSweeperLoop runs the real cron-driven sweeper on synctest's fake
// clock: a report's 2-day assess promise gets its 50% and 80% reminders
// and one Overdue, each exactly once, however many sweeps run.
func TestSweeperLoop(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		db, err := store.Open(filepath.Join(dir, "d.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		cal, _ := calendar.New(calendar.Options{Holidays: "none"})
		tmpl, err := templates.Load("")
		if err != nil {
			t.Fatal(err)
		}
		engine := workflow.New(db, workflow.Options{OrgName: "Org", OrgAddress: "security@example.test",
			CasePrefix: "CS", StaffNotify: []string{"staff@example.test"}, Calendar: cal,
			Timers: map[workflow.TimerName]calendar.Duration{workflow.TimerAssess: {N: 2}}, RemindAt: []float64{0.5, 0.8}}, tmpl)
		raw := []byte("From: a@example.org\r\nSubject: bug\r\nMessage-ID: <s@x>\r\n\r\nbody\r\n")
		if _, err := engine.Ingest(context.Background(), []workflow.Incoming{{Raw: raw, ReceivedAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.SLA.Sweep = "@every 10m"
		ctx, cancel := context.WithCancel(context.Background())
		stop, err := startSweeper(ctx, cfg, engine, newLogger(cfg, &syncBuffer{}))
		if err != nil {
			t.Fatal(err)
		}
		count := func() map[string]int {
			v, err := workflow.ShowCase(db, "CS-2000-0001")
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{}
			for _, m := range v.Messages {
				if m.Direction == "out" {
					n[m.Kind]++
				}
			}
			return n
		}
		steps := []struct {
			after              time.Duration
			reminders, overdue int
		}{
			{23 * time.Hour, 0, 0},
			{2 * time.Hour, 1, 0},  // 25h: past 50%
			{14 * time.Hour, 2, 0}, // 39h: past 80% (38.4h)
			{8 * time.Hour, 2, 0},  // 47h
			{2 * time.Hour, 2, 1},  // 49h: breached
			{72 * time.Hour, 2, 1}, // many sweeps later: nothing twice
		}
		for _, st := range steps {
			time.Sleep(st.after)
			synctest.Wait()
			n := count()
			if n["reminder"] != st.reminders || n["overdue"] != st.overdue {
				t.Errorf("after %s: %d reminders, %d overdue; want %d, %d", st.after, n["reminder"], n["overdue"], st.reminders, st.overdue)
			}
		}
		cancel()
		stop()
	})
}
