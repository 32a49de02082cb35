package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// NextCaseID allocates the next case ID of a year: PREFIX-YYYY-NNNN.
func (t *Tx) NextCaseID(prefix string, year int) (string, error) {
	b := t.tx.Bucket(bucketSeq)
	key := []byte(fmt.Sprintf("%s-%04d", prefix, year))
	var n uint64
	if v := b.Get(key); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if err := b.Put(key, u64(n)); err != nil {
		return "", fmt.Errorf("allocate case id: %w", err)
	}
	return fmt.Sprintf("%s-%04d-%04d", prefix, year, n), nil
}

// PutCase writes a case record and keeps the due index in step with the
// Next time of each of its deadlines.
func (t *Tx) PutCase(c *Case) error {
	cases, due, stats := t.tx.Bucket(bucketCases), t.tx.Bucket(bucketDue), t.tx.Bucket(bucketStats)
	var old Case
	prev := (*Case)(nil)
	if err := getJSON(cases, []byte(c.ID), &old); err == nil {
		prev = &old
		for name, d := range old.Deadlines {
			if !d.Next.IsZero() {
				if err := due.Delete(dueKey(d.Next, c.ID, name)); err != nil {
					return fmt.Errorf("write case %s: %w", c.ID, err)
				}
			}
		}
		if p := old.Publication; p != nil && !p.Next.IsZero() {
			if err := due.Delete(dueKey(p.Next, c.ID, TimerPublish)); err != nil {
				return fmt.Errorf("write case %s: %w", c.ID, err)
			}
		}
		if err := countCase(stats, &old, -1); err != nil {
			return fmt.Errorf("write case %s: %w", c.ID, err)
		}
	}
	if err := countCase(stats, c, 1); err != nil {
		return fmt.Errorf("write case %s: %w", c.ID, err)
	}
	for name, d := range c.Deadlines {
		if !d.Next.IsZero() {
			if err := due.Put(dueKey(d.Next, c.ID, name), nil); err != nil {
				return fmt.Errorf("write case %s: %w", c.ID, err)
			}
		}
	}
	if p := c.Publication; p != nil && !p.Next.IsZero() {
		if err := due.Put(dueKey(p.Next, c.ID, TimerPublish), nil); err != nil {
			return fmt.Errorf("write case %s: %w", c.ID, err)
		}
	}
	if err := t.indexOverview(prev, c); err != nil {
		return fmt.Errorf("write case %s: %w", c.ID, err)
	}
	if err := putJSON(cases, []byte(c.ID), c); err != nil {
		return fmt.Errorf("write case %s: %w", c.ID, err)
	}
	return nil
}

// TimerRef names one deadline of one case.
type TimerRef struct {
	CaseID string
	Timer  string
	Next   time.Time
}

// DueTimers returns the deadlines whose Next is at or before now, earliest
// first. It reads only the due entries, however many cases exist.
func (t *Tx) DueTimers(now time.Time) []TimerRef {
	var out []TimerRef
	c := t.tx.Bucket(bucketDue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		at := time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
		if at.After(now) {
			break
		}
		id, timer, _ := strings.Cut(string(k[8:]), "\x00")
		out = append(out, TimerRef{CaseID: id, Timer: timer, Next: at})
	}
	return out
}

// OpenTimers counts indexed deadlines, and those due at or before now.
func (t *Tx) OpenTimers(now time.Time) (open, due int) {
	return countKeys(t.tx.Bucket(bucketDue)), len(t.DueTimers(now))
}

func dueKey(at time.Time, caseID, timer string) []byte {
	k := make([]byte, 8, 8+len(caseID)+1+len(timer))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(append(append(k, caseID...), 0), timer...)
}

// Case reads a case; ErrNotFound when it does not exist.
func (t *Tx) Case(id string) (*Case, error) {
	var c Case
	if err := getJSON(t.tx.Bucket(bucketCases), []byte(id), &c); err != nil {
		return nil, fmt.Errorf("read case %s: %w", id, err)
	}
	return &c, nil
}

// Cases returns every case in ID order.
func (t *Tx) Cases() ([]*Case, error) {
	var out []*Case
	err := t.tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
		var c Case
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode case %s: %w", k, err)
		}
		out = append(out, &c)
		return nil
	})
	return out, err
}

// AppendEvent appends ev to the case's log, assigning its sequence number.
func (t *Tx) AppendEvent(caseID string, ev Event) error {
	b, err := t.tx.Bucket(bucketEvents).CreateBucketIfNotExists([]byte(caseID))
	if err != nil {
		return fmt.Errorf("append event for %s: %w", caseID, err)
	}
	if ev.Seq, err = b.NextSequence(); err != nil {
		return fmt.Errorf("append event for %s: %w", caseID, err)
	}
	if err := putJSON(b, u64(ev.Seq), ev); err != nil {
		return fmt.Errorf("append event for %s: %w", caseID, err)
	}
	return nil
}

// Events returns the case's log in order.
func (t *Tx) Events(caseID string) ([]Event, error) {
	var out []Event
	b := t.tx.Bucket(bucketEvents).Bucket([]byte(caseID))
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return err
		}
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", caseID, err)
	}
	return out, nil
}

// AddMessage stores a message of a case, assigning m.Key. When raw is not
// nil it is stored too, and m.SHA256 (if set) is indexed so the same bytes
// are never ingested twice. m.MessageID, if set, is indexed for threading.
func (t *Tx) AddMessage(m *Message, raw []byte) error {
	b, err := t.tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(m.CaseID))
	if err != nil {
		return fmt.Errorf("add message to %s: %w", m.CaseID, err)
	}
	n, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("add message to %s: %w", m.CaseID, err)
	}
	m.Key = fmt.Sprintf("%s/%d", m.CaseID, n)
	if err := putJSON(b, u64(n), m); err != nil {
		return fmt.Errorf("add message to %s: %w", m.CaseID, err)
	}
	if raw != nil {
		if err := t.tx.Bucket(bucketRaw).Put([]byte(m.Key), raw); err != nil {
			return fmt.Errorf("store raw message %s: %w", m.Key, err)
		}
	}
	if m.SHA256 != "" {
		if err := t.tx.Bucket(bucketHash).Put([]byte(m.SHA256), []byte(m.Key)); err != nil {
			return fmt.Errorf("index message %s: %w", m.Key, err)
		}
	}
	if m.MessageID != "" {
		if err := t.IndexMessageID(m.MessageID, m.CaseID); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMessage rewrites the metadata of a stored message.
func (t *Tx) UpdateMessage(m *Message) error {
	caseID, n, ok := splitKey(m.Key)
	if !ok {
		return fmt.Errorf("update message: bad key %q", m.Key)
	}
	b := t.tx.Bucket(bucketMessages).Bucket([]byte(caseID))
	if b == nil {
		return fmt.Errorf("update message %s: %w", m.Key, ErrNotFound)
	}
	return putJSON(b, u64(n), m)
}

func splitKey(key string) (string, uint64, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", 0, false
	}
	var n uint64
	if _, err := fmt.Sscanf(key[i+1:], "%d", &n); err != nil {
		return "", 0, false
	}
	return key[:i], n, true
}

// Messages returns the case's messages in arrival order.
func (t *Tx) Messages(caseID string) ([]Message, error) {
	var out []Message
	b := t.tx.Bucket(bucketMessages).Bucket([]byte(caseID))
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var m Message
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read messages of %s: %w", caseID, err)
	}
	return out, nil
}

// Raw returns a copy of the stored raw bytes of a message.
func (t *Tx) Raw(key string) ([]byte, error) {
	v := t.tx.Bucket(bucketRaw).Get([]byte(key))
	if v == nil {
		return nil, fmt.Errorf("raw message %s: %w", key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// IndexMessageID records that a Message-ID belongs to a case.
func (t *Tx) IndexMessageID(messageID, caseID string) error {
	if err := t.tx.Bucket(bucketMsgID).Put([]byte(messageID), []byte(caseID)); err != nil {
		return fmt.Errorf("index message-id for %s: %w", caseID, err)
	}
	return nil
}

// RecordSent records that the daemon generated Message-ID messageID for
// a mail of case caseID. Call it in the transaction that queues the mail.
func (t *Tx) RecordSent(messageID, caseID string) error {
	if err := t.tx.Bucket(bucketSent).Put([]byte(messageID), []byte(caseID)); err != nil {
		return fmt.Errorf("record sent message-id for %s: %w", caseID, err)
	}
	return nil
}

// SentCase returns the case of a Message-ID the daemon generated, and
// false for any other id, including every id that arrived in incoming
// mail, whatever its domain.
func (t *Tx) SentCase(messageID string) (string, bool) {
	if messageID == "" {
		return "", false
	}
	v := t.tx.Bucket(bucketSent).Get([]byte(messageID))
	return string(v), v != nil
}

// buildSent fills the sent index of a store written before it existed,
// from the records of outgoing mail.
func buildSent(tx *bolt.Tx) error {
	sent := tx.Bucket(bucketSent)
	return tx.Bucket(bucketMessages).ForEachBucket(func(caseID []byte) error {
		return tx.Bucket(bucketMessages).Bucket(caseID).ForEach(func(_, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("index sent message-ids of %s: %w", caseID, err)
			}
			if m.Direction != "out" || m.MessageID == "" {
				return nil
			}
			return sent.Put([]byte(m.MessageID), bytes.Clone(caseID))
		})
	})
}

// CaseByMessageID finds the case a Message-ID belongs to.
func (t *Tx) CaseByMessageID(messageID string) (string, bool) {
	if messageID == "" {
		return "", false
	}
	v := t.tx.Bucket(bucketMsgID).Get([]byte(messageID))
	return string(v), v != nil
}

// MarkIngested records that the raw bytes with SHA-256 sum were handled
// without becoming a message of a case (a staff request answered by mail),
// so the same bytes seen again are skipped; key names what handled them.
func (t *Tx) MarkIngested(sum, key string) error {
	if err := t.tx.Bucket(bucketHash).Put([]byte(sum), []byte(key)); err != nil {
		return fmt.Errorf("mark message ingested: %w", err)
	}
	return nil
}

// MessageByHash finds the key of an already stored message with the same
// raw bytes.
func (t *Tx) MessageByHash(sum string) (string, bool) {
	v := t.tx.Bucket(bucketHash).Get([]byte(sum))
	return string(v), v != nil
}

// SenderCount returns how many acknowledgments went to addr on day
// (YYYY-MM-DD in the organisation's time zone).
func (t *Tx) SenderCount(addr, day string) int {
	v := t.tx.Bucket(bucketSenders).Get(senderKey(addr, day))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// IncSenderCount adds one to SenderCount(addr, day) and returns the new count.
func (t *Tx) IncSenderCount(addr, day string) (int, error) {
	n := t.SenderCount(addr, day) + 1
	if err := t.tx.Bucket(bucketSenders).Put(senderKey(addr, day), u64(uint64(n))); err != nil {
		return 0, fmt.Errorf("count acknowledgments to sender: %w", err)
	}
	return n, nil
}

func senderKey(addr, day string) []byte {
	return []byte(strings.ToLower(addr) + "|" + day)
}
