package store

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestSentIndexHoldsOnlyOurIDs: SentCase knows the ids recorded as sent,
// never an incoming one, and a store from before the index gets it built
// from its outgoing records at open.
func TestSentIndexHoldsOnlyOurIDs(t *testing.T) {
	db, path := openTemp(t)
	err := db.Update(func(tx *Tx) error {
		if err := tx.AddMessage(&Message{CaseID: "CS-2026-0001", Direction: "in", MessageID: "planted@example.test"}, []byte("x")); err != nil {
			return err
		}
		if err := tx.AddMessage(&Message{CaseID: "CS-2026-0001", Direction: "out", MessageID: "ours@example.test"}, nil); err != nil {
			return err
		}
		return tx.RecordSent("ours@example.test", "CS-2026-0001")
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(db *DB) {
		t.Helper()
		db.View(func(tx *Tx) error {
			if c, ok := tx.SentCase("ours@example.test"); !ok || c != "CS-2026-0001" {
				t.Errorf("SentCase(ours) = %q, %v", c, ok)
			}
			if _, ok := tx.SentCase("planted@example.test"); ok {
				t.Error("an incoming Message-ID counts as sent by us")
			}
			if _, ok := tx.CaseByMessageID("planted@example.test"); !ok {
				t.Error("the incoming id no longer threads")
			}
			return nil
		})
	}
	check(db)
	// A store of the previous release: no sent bucket.
	db.Close()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSent) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db)
	db.Update(func(tx *Tx) error { return tx.DeleteMessageID("ours@example.test") })
	db.View(func(tx *Tx) error {
		if _, ok := tx.SentCase("ours@example.test"); ok {
			t.Error("DeleteMessageID left the id in the sent index")
		}
		return nil
	})
}

// TestWriteErrorOnlyForCommitFailures: fn's own error is passed through
// and leaves the store healthy.
func TestWriteErrorOnlyForCommitFailures(t *testing.T) {
	db, _ := openTemp(t)
	mine := errors.New("mine")
	if err := db.Update(func(*Tx) error { return mine }); err != mine || IsWriteError(err) {
		t.Errorf("Update returned %v", err)
	}
	if db.WriteHealth() != nil || db.WriteErrors() != 0 {
		t.Errorf("health %v, errors %d after a failed fn", db.WriteHealth(), db.WriteErrors())
	}
}
