package store

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Enqueue adds a pending mail to the outbox, due at m.NextAt, and assigns
// m.ID. It must run in the transaction of the state change that causes the
// mail, so the change and its mail commit together.
func (t *Tx) Enqueue(m *OutMail) error {
	b := t.tx.Bucket(bucketOutbox)
	id, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	m.ID = id
	m.Status = MailPending
	return t.PutMail(m, time.Time{})
}

// PutMail writes an outbox record and keeps the pending-queue index in step:
// prevNextAt is the record's NextAt before this change (zero if new).
func (t *Tx) PutMail(m *OutMail, prevNextAt time.Time) error {
	q := t.tx.Bucket(bucketOutq)
	if !prevNextAt.IsZero() {
		if err := q.Delete(queueKey(m.Priority, prevNextAt, m.ID)); err != nil {
			return fmt.Errorf("update outbox queue: %w", err)
		}
	}
	if m.Status == MailPending {
		if err := q.Put(queueKey(m.Priority, m.NextAt, m.ID), nil); err != nil {
			return fmt.Errorf("update outbox queue: %w", err)
		}
	}
	fail := t.tx.Bucket(bucketOutFail)
	var err error
	if m.Status == MailFailed {
		err = fail.Put(u64(m.ID), nil)
	} else {
		err = fail.Delete(u64(m.ID))
	}
	if err != nil {
		return fmt.Errorf("update failed-mail index: %w", err)
	}
	if err := putJSON(t.tx.Bucket(bucketOutbox), u64(m.ID), m); err != nil {
		return fmt.Errorf("write outbox mail %d: %w", m.ID, err)
	}
	return nil
}

// Mail reads one outbox record.
func (t *Tx) Mail(id uint64) (*OutMail, error) {
	var m OutMail
	if err := getJSON(t.tx.Bucket(bucketOutbox), u64(id), &m); err != nil {
		return nil, fmt.Errorf("read outbox mail %d: %w", id, err)
	}
	return &m, nil
}

// DueMail returns up to limit pending mails whose next attempt is at or
// before now, lower priority values first and earliest first within a
// priority, and the time the next one after them is due (zero when nothing
// else is pending).
func (t *Tx) DueMail(now time.Time, limit int) ([]*OutMail, time.Time, error) {
	var out []*OutMail
	var next time.Time
	c := t.tx.Bucket(bucketOutq).Cursor()
	for prio := byte(0); prio <= maxPriority; prio++ {
		for k, _ := c.Seek([]byte{prio}); k != nil && k[0] == prio; k, _ = c.Next() {
			at, id := splitQueueKey(k)
			if at.After(now) || len(out) >= limit {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				break
			}
			m, err := t.Mail(id)
			if err != nil {
				return nil, time.Time{}, err
			}
			out = append(out, m)
		}
	}
	return out, next, nil
}

// QueueHeads returns the pending mail due first in each priority, at most
// one per priority; mails that cannot be read are skipped.
func (t *Tx) QueueHeads() []*OutMail {
	var out []*OutMail
	c := t.tx.Bucket(bucketOutq).Cursor()
	for prio := byte(0); prio <= maxPriority; prio++ {
		if k, _ := c.Seek([]byte{prio}); k != nil && k[0] == prio {
			_, id := splitQueueKey(k)
			if m, err := t.Mail(id); err == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// OutboxCounts returns the number of pending and failed mails. It reads
// only the queue and the failed-mail index.
func (t *Tx) OutboxCounts() (pending, failed int) {
	return countKeys(t.tx.Bucket(bucketOutq)), countKeys(t.tx.Bucket(bucketOutFail))
}

// WriteTo writes a consistent copy of the whole store to w.
func (t *Tx) WriteTo(w io.Writer) (int64, error) { return t.tx.WriteTo(w) }

// maxPriority is the largest OutMail.Priority the queue orders by.
const maxPriority = 1

func queueKey(prio int, at time.Time, id uint64) []byte {
	k := make([]byte, 17)
	k[0] = byte(min(max(prio, 0), maxPriority))
	binary.BigEndian.PutUint64(k[1:], uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(k[9:], id)
	return k
}

func splitQueueKey(k []byte) (time.Time, uint64) {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[1:]))), binary.BigEndian.Uint64(k[9:])
}
