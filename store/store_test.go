package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "d.db")
	db, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, p
}

func TestOpenLockedStoreFailsClearly(t *testing.T) {
	_, p := openTemp(t)
	start := time.Now()
	_, err := Open(p, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "is the daemon running?") {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("lock timeout not honoured")
	}
}

func TestSchemaVersionChecked(t *testing.T) {
	db, p := openTemp(t)
	db.Close()
	b, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("schema"), []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := Open(p, Options{}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("open of a newer schema: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), Options{ReadOnly: true}); err == nil {
		t.Error("read-only open of a missing store succeeded")
	}
}

func TestCaseIDsAndMessages(t *testing.T) {
	db, _ := openTemp(t)
	err := db.Update(func(tx *Tx) error {
		for _, want := range []string{"CS-2026-0001", "CS-2026-0002"} {
			id, err := tx.NextCaseID("CS", 2026)
			if err != nil || id != want {
				t.Errorf("NextCaseID = %q, %v; want %q", id, err, want)
			}
		}
		if id, _ := tx.NextCaseID("CS", 2027); id != "CS-2027-0001" {
			t.Errorf("new year restarts at %s", id)
		}
		c := &Case{ID: "CS-2026-0001", State: "new"}
		if err := tx.PutCase(c); err != nil {
			return err
		}
		m := &Message{CaseID: c.ID, Direction: "in", MessageID: "a@x", SHA256: "abc"}
		if err := tx.AddMessage(m, []byte("raw bytes")); err != nil {
			return err
		}
		if m.Key != "CS-2026-0001/1" {
			t.Errorf("message key %q", m.Key)
		}
		if id, ok := tx.CaseByMessageID("a@x"); !ok || id != c.ID {
			t.Errorf("CaseByMessageID = %q, %v", id, ok)
		}
		if key, ok := tx.MessageByHash("abc"); !ok || key != m.Key {
			t.Errorf("MessageByHash = %q, %v", key, ok)
		}
		raw, err := tx.Raw(m.Key)
		if err != nil || string(raw) != "raw bytes" {
			t.Errorf("Raw = %q, %v", raw, err)
		}
		for range 2 {
			if err := tx.AppendEvent(c.ID, Event{Type: "x"}); err != nil {
				return err
			}
		}
		evs, err := tx.Events(c.ID)
		if err != nil || len(evs) != 2 || evs[1].Seq != 2 {
			t.Errorf("events %+v, %v", evs, err)
		}
		if _, err := tx.Case("CS-2026-0404"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing case: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOutboxQueue(t *testing.T) {
	db, _ := openTemp(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	err := db.Update(func(tx *Tx) error {
		for i, at := range []time.Time{t0.Add(time.Minute), t0, t0.Add(time.Hour)} {
			if err := tx.Enqueue(&OutMail{Kind: "k", To: []string{"a@x"}, NextAt: at, Raw: []byte{byte(i)}}); err != nil {
				return err
			}
		}
		due, next, err := tx.DueMail(t0.Add(time.Minute), 10)
		if err != nil || len(due) != 2 || due[0].ID != 2 || due[1].ID != 1 || !next.Equal(t0.Add(time.Hour)) {
			t.Errorf("DueMail = %d mails, next %s, %v", len(due), next, err)
		}
		m := due[0]
		prev := m.NextAt
		m.Status = MailSent
		if err := tx.PutMail(m, prev); err != nil {
			return err
		}
		// A staff mail (priority 1) due earlier still waits for reporter mail.
		if err := tx.Enqueue(&OutMail{Kind: "staff", Priority: 1, NextAt: t0.Add(-time.Hour)}); err != nil {
			return err
		}
		due, _, err = tx.DueMail(t0.Add(time.Hour), 10)
		if err != nil || len(due) != 3 || due[0].ID != 1 || due[1].ID != 3 || due[2].Kind != "staff" {
			t.Errorf("priority order wrong: %d mails", len(due))
		}
		if pending, failed := tx.OutboxCounts(); pending != 3 || failed != 0 {
			t.Errorf("counts %d pending %d failed", pending, failed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDueIndexFollowsDeadlines(t *testing.T) {
	db, _ := openTemp(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	err := db.Update(func(tx *Tx) error {
		c := &Case{ID: "CS-2026-0001", Deadlines: map[string]*Deadline{
			"assess":  {Next: t0},
			"resolve": {Next: t0.Add(48 * time.Hour)},
		}}
		if err := tx.PutCase(c); err != nil {
			return err
		}
		if got := tx.DueTimers(t0); len(got) != 1 || got[0].Timer != "assess" || got[0].CaseID != c.ID {
			t.Errorf("DueTimers = %+v", got)
		}
		c.Deadlines["assess"].Next = time.Time{}
		if err := tx.PutCase(c); err != nil {
			return err
		}
		if got := tx.DueTimers(t0.Add(24 * time.Hour)); len(got) != 0 {
			t.Errorf("stale index entry survived: %+v", got)
		}
		if open, due := tx.OpenTimers(t0.Add(72 * time.Hour)); open != 1 || due != 1 {
			t.Errorf("OpenTimers = %d, %d", open, due)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSenderCounts(t *testing.T) {
	db, _ := openTemp(t)
	err := db.Update(func(tx *Tx) error {
		for want := 1; want <= 3; want++ {
			if n, err := tx.IncSenderCount("A@Example.org", "2026-11-23"); n != want || err != nil {
				t.Errorf("IncSenderCount = %d, %v", n, err)
			}
		}
		if n := tx.SenderCount("a@example.org", "2026-11-24"); n != 0 {
			t.Errorf("next day count %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLargeMessageIsCopiedOnce: committing a large raw message costs one
// copy of it (bbolt's page buffer), not a copy per remap of a growing file.
func TestLargeMessageIsCopiedOnce(t *testing.T) {
	db, _ := openTemp(t)
	raw := bytes.Repeat([]byte("0123456789abcdef"), 24<<20/16)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := db.Update(func(tx *Tx) error {
		if err := tx.PutCase(&Case{ID: "CS-2026-0001", State: "new"}); err != nil {
			return err
		}
		return tx.AddMessage(&Message{CaseID: "CS-2026-0001", Direction: "in"}, raw)
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(raw))*3/2 {
		t.Errorf("committing %d MiB allocated %d MiB", len(raw)>>20, got>>20)
	}
	var back []byte
	db.View(func(tx *Tx) error { back, err = tx.Raw("CS-2026-0001/1"); return err })
	if !bytes.Equal(back, raw) {
		t.Errorf("read back %d bytes, err %v; want the %d stored", len(back), err, len(raw))
	}
}

// scanStats counts what CaseStats keeps running totals of, the slow way.
func scanStats(t *testing.T, tx *Tx) (map[string]int, int) {
	t.Helper()
	cases, err := tx.Cases()
	if err != nil {
		t.Fatal(err)
	}
	byState, breached := map[string]int{}, 0
	for _, c := range cases {
		byState[c.State]++
		for _, d := range c.Deadlines {
			if d.Breached {
				breached++
			}
		}
	}
	return byState, breached
}

// TestStatsFollowRecords: the running totals behind the metrics agree with
// a scan of the records after creates, updates and outbox changes, and are
// rebuilt when a store from before them is opened.
func TestStatsFollowRecords(t *testing.T) {
	db, path := openTemp(t)
	check := func(when string, wantFailed int) {
		t.Helper()
		db.View(func(tx *Tx) error {
			gotStates, gotBreached := tx.CaseStats()
			wantStates, wantBreached := scanStats(t, tx)
			if !maps.Equal(gotStates, wantStates) || gotBreached != wantBreached {
				t.Errorf("%s: totals %v, %d breached; the records say %v, %d", when, gotStates, gotBreached, wantStates, wantBreached)
			}
			if _, failed := tx.OutboxCounts(); failed != wantFailed {
				t.Errorf("%s: %d failed mails, want %d", when, failed, wantFailed)
			}
			return nil
		})
	}
	breached := map[string]*Deadline{"assess": {Breached: true}, "resolve": {Breached: true}}
	err := db.Update(func(tx *Tx) error {
		for i, st := range []string{"new", "acknowledged", "acknowledged", "triage"} {
			c := &Case{ID: fmt.Sprintf("CS-2026-%04d", i+1), State: st}
			if i == 2 {
				c.Deadlines = breached
			}
			if err := tx.PutCase(c); err != nil {
				return err
			}
		}
		for range 2 {
			if err := tx.Enqueue(&OutMail{Kind: "ack", To: []string{"a@x"}, NextAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after creating", 0)

	err = db.Update(func(tx *Tx) error {
		c, err := tx.Case("CS-2026-0003")
		if err != nil {
			return err
		}
		c.State, c.Deadlines = "resolved", map[string]*Deadline{"resolve": {Breached: true}}
		if err := tx.PutCase(c); err != nil {
			return err
		}
		for id, status := range map[uint64]string{1: MailFailed, 2: MailFailed} {
			m, err := tx.Mail(id)
			if err != nil {
				return err
			}
			prev := m.NextAt
			m.Status = status
			if err := tx.PutMail(m, prev); err != nil {
				return err
			}
		}
		m, _ := tx.Mail(2)
		m.Status = MailSent
		return tx.PutMail(m, time.Time{})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after updating", 1)

	// A store written before the totals existed.
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketStats); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketOutFail)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check("after reopening an older store", 1)
}
