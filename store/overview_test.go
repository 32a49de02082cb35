package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func activeIDs(t *testing.T, db *DB) []string {
	t.Helper()
	var ids []string
	if err := db.View(func(tx *Tx) error {
		cs, err := tx.ActiveCases()
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

func put(t *testing.T, db *DB, c *Case) {
	t.Helper()
	if err := db.Update(func(tx *Tx) error { return tx.PutCase(c) }); err != nil {
		t.Fatal(err)
	}
}

func TestOverviewIndexesFollowCases(t *testing.T) {
	db, p := openTemp(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a := &Case{ID: "CS-2026-0001", State: "acknowledged", ReceivedAt: t0, UpdatedAt: t0}
	b := &Case{ID: "CS-2026-0002", State: "acknowledged", ReceivedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}
	put(t, db, a)
	put(t, db, b)
	if got := activeIDs(t, db); len(got) != 2 {
		t.Fatalf("active = %v, want both", got)
	}

	// a is resolved with a reward on day 2, then closed with a publication
	// still to come: it stays active until the publication is done.
	a.State, a.UpdatedAt, a.Reward = "resolved", t0.Add(24*time.Hour), &Reward{Amount: 250, Currency: "EUR"}
	put(t, db, a)
	a.State, a.UpdatedAt = "closed", t0.Add(48*time.Hour)
	a.Publication = &Publication{Date: "2026-12-10", Due: t0.Add(400 * time.Hour), Next: t0.Add(400 * time.Hour)}
	put(t, db, a)
	// b is rejected: no longer active.
	b.State, b.UpdatedAt = "rejected", t0.Add(50*time.Hour)
	put(t, db, b)
	if got := activeIDs(t, db); len(got) != 1 || got[0] != a.ID {
		t.Fatalf("active = %v, want only %s", got, a.ID)
	}
	var due []TimerRef
	_ = db.View(func(tx *Tx) error { due = tx.DueTimers(t0.Add(500 * time.Hour)); return nil })
	if len(due) != 1 || due[0].Timer != TimerPublish || due[0].CaseID != a.ID {
		t.Fatalf("due = %+v, want the publication of %s", due, a.ID)
	}
	done := t0.Add(400 * time.Hour)
	a.Publication.DoneAt, a.Publication.Next = &done, time.Time{}
	put(t, db, a)
	if got := activeIDs(t, db); len(got) != 0 {
		t.Fatalf("active = %v, want none", got)
	}
	_ = db.View(func(tx *Tx) error { due = tx.DueTimers(t0.Add(500 * time.Hour)); return nil })
	if len(due) != 0 {
		t.Fatalf("due = %+v after the publication, want none", due)
	}

	tallies := func(from, to time.Time) Tally {
		var tl Tally
		_ = db.View(func(tx *Tx) error { tl = tx.Tallies(from, to); return nil })
		return tl
	}
	all := tallies(t0, t0.Add(7*24*time.Hour))
	if all.Opened != 2 || all.Resolved != 1 || all.Rewards != 1 || all.RewardTotal["EUR"] != 250 {
		t.Errorf("week = %+v, want 2 opened, 1 resolved, 1 reward of 250 EUR", all)
	}
	// [from, to): the second day alone holds only the resolution and the reward.
	day2 := tallies(t0.Add(24*time.Hour), t0.Add(48*time.Hour))
	if day2.Opened != 0 || day2.Resolved != 1 || day2.Rewards != 1 {
		t.Errorf("day 2 = %+v, want 1 resolved, 1 reward", day2)
	}
	// Rewriting a case without changes counts nothing again.
	put(t, db, a)
	if again := tallies(t0, t0.Add(30*24*time.Hour)); again.Resolved != 1 || again.Rewards != 1 || again.Opened != 2 {
		t.Errorf("after a rewrite: %+v", again)
	}

	// A store from before the indexes gets them built when opened.
	db.Close()
	raw, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketActive, bucketTally, bucketJobs} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db2, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	a.Publication = nil
	c := &Case{ID: "CS-2026-0003", State: "new", ReceivedAt: t0}
	put(t, db2, c)
	if got := activeIDs(t, db2); len(got) != 1 || got[0] != c.ID {
		t.Errorf("rebuilt active = %v, want %s", got, c.ID)
	}
	var tl Tally
	_ = db2.View(func(tx *Tx) error { tl = tx.Tallies(t0, t0.Add(30*24*time.Hour)); return nil })
	if tl.Opened != 3 {
		t.Errorf("rebuilt tallies = %+v, want 3 opened", tl)
	}
}

func TestJobs(t *testing.T) {
	db, _ := openTemp(t)
	next := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	if err := db.Update(func(tx *Tx) error {
		j, err := tx.Job("overview")
		if err != nil || !j.Next.IsZero() {
			t.Errorf("fresh job = %+v, %v", j, err)
		}
		return tx.PutJob("overview", Job{Spec: "0 8 * * 1", Next: next})
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *Tx) error {
		j, err := tx.Job("overview")
		if err != nil || !j.Next.Equal(next) || j.Spec != "0 8 * * 1" {
			t.Errorf("job = %+v, %v", j, err)
		}
		return nil
	})
}
