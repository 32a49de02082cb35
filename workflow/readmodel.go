package workflow

import (
	"time"

	"disclosured/store"
)

// The read model behind the metrics and the health check. Each reads only
// running totals and indexes, never a scan of all cases, so a scrape costs
// the same with ten cases as with a hundred thousand.

// CasesByState counts the cases in each state.
func CasesByState(db *store.DB) (out map[string]int, err error) {
	err = db.View(func(tx *store.Tx) error {
		out, _ = tx.CaseStats()
		return nil
	})
	return out, err
}

// OutboxCounts counts the mail waiting to be sent and the mail given up.
func OutboxCounts(db *store.DB) (pending, failed int, err error) {
	err = db.View(func(tx *store.Tx) error {
		pending, failed = tx.OutboxCounts()
		return nil
	})
	return pending, failed, err
}

// TimerCounts counts the deadlines due by now and those breached.
func TimerCounts(db *store.DB, now time.Time) (due, breached int, err error) {
	err = db.View(func(tx *store.Tx) error {
		_, due = tx.OpenTimers(now)
		_, breached = tx.CaseStats()
		return nil
	})
	return due, breached, err
}

// OldestPending is when the longest-waiting mail at the head of the
// outbox was queued: the earliest-due mail of each priority, the one that
// goes next. ok is false when nothing is pending.
func OldestPending(db *store.DB) (at time.Time, ok bool) {
	_ = db.View(func(tx *store.Tx) error {
		for _, m := range tx.QueueHeads() {
			if at.IsZero() || m.CreatedAt.Before(at) {
				at = m.CreatedAt
			}
		}
		return nil
	})
	return at, !at.IsZero()
}
