package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The store benchmarks write to a real file with bbolt's default fsync on
// every commit, so "per tx" figures are bound by the disk's sync latency and
// "batch" figures show what grouping many changes into one commit buys (the
// intake does this: one transaction per IMAP batch of up to 200 messages).
// BenchmarkBoltPut is the baseline: a bare bbolt Put of a case-sized value,
// the least any durable write can cost on this disk. bench/load reads the
// cases/s and events/s metrics these report.

// benchBatch is how many changes one batched transaction carries.
const benchBatch = 100

func benchDB(b *testing.B) *DB {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchCase is a freshly opened case as workflow.open writes it: three
// running deadlines, so PutCase also maintains three due-index entries.
func benchCase(id string, at time.Time) *Case {
	c := &Case{ID: id, State: "acknowledged", Reporter: Address{Name: "Ada Reporter", Addr: "ada@example.org"},
		Subject: "Stored XSS in the search page of app.example.com", ReceivedAt: at, Language: "en",
		Class: "human", Thread: "ack-" + id + "@example.test", UpdatedAt: at,
		Deadlines: map[string]*Deadline{}}
	for i, name := range []string{"acknowledge", "assess", "resolve"} {
		due := at.Add(time.Duration(i+1) * 72 * time.Hour)
		c.Deadlines[name] = &Deadline{Start: at, Due: due, Next: at.Add(due.Sub(at) / 2)}
	}
	return c
}

// BenchmarkCreateCase measures NextCaseID + PutCase + the "opened" event,
// the store part of opening a case.
func BenchmarkCreateCase(b *testing.B) {
	at := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	create := func(tx *Tx) error {
		id, err := tx.NextCaseID("CS", 2026)
		if err != nil {
			return err
		}
		if err := tx.PutCase(benchCase(id, at)); err != nil {
			return err
		}
		return tx.AppendEvent(id, Event{At: at, Type: "opened", Actor: "ada@example.org",
			MessageID: "r-" + id + "@example.org", Detail: "class human"})
	}
	for _, batch := range []int{1, benchBatch} {
		b.Run(txName(batch), func(b *testing.B) {
			db := benchDB(b)
			runBatched(b, db, batch, create)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
		})
	}
}

// BenchmarkAppendEvent measures appending to the event logs of existing
// cases (1,000 of them, round robin).
func BenchmarkAppendEvent(b *testing.B) {
	at := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	for _, batch := range []int{1, benchBatch} {
		b.Run(txName(batch), func(b *testing.B) {
			db := benchDB(b)
			const cases = 1000
			ids := make([]string, cases)
			if err := db.Update(func(tx *Tx) error {
				for i := range ids {
					id, err := tx.NextCaseID("CS", 2026)
					if err != nil {
						return err
					}
					ids[i] = id
					if err := tx.PutCase(benchCase(id, at)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			n := 0
			runBatched(b, db, batch, func(tx *Tx) error {
				n++
				return tx.AppendEvent(ids[n%cases], Event{At: at, Type: "note", Actor: "staff@example.test",
					MessageID: "n" + strconv.Itoa(n) + "@example.test", Detail: "looked at the proof of concept"})
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkBoltPut is the baseline: one Put of a case-sized JSON value per
// operation into a plain bbolt bucket, with the same commit and fsync.
func BenchmarkBoltPut(b *testing.B) {
	value, err := benchJSON()
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, benchBatch} {
		b.Run(txName(batch), func(b *testing.B) {
			db := benchDB(b)
			if err := db.bolt.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucketIfNotExists([]byte("bench"))
				return err
			}); err != nil {
				b.Fatal(err)
			}
			n := uint64(0)
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(batch, b.N-done)
				if err := db.bolt.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket([]byte("bench"))
					for range k {
						n++
						if err := bk.Put(u64(n), value); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				done += k
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

func benchJSON() ([]byte, error) {
	return json.Marshal(benchCase("CS-2026-0001", time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)))
}

// runBatched runs op b.N times, batch operations per Update.
func runBatched(b *testing.B, db *DB, batch int, op func(*Tx) error) {
	b.Helper()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		if err := db.Update(func(tx *Tx) error {
			for range k {
				if err := op(tx); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

func txName(batch int) string {
	if batch == 1 {
		return "per-tx"
	}
	return fmt.Sprintf("batch-%d", batch)
}
