package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// DeleteRaw removes the raw bytes of a message.
func (t *Tx) DeleteRaw(key string) error { return t.tx.Bucket(bucketRaw).Delete([]byte(key)) }

// DeleteHash removes a message's entry from the deduplication index.
func (t *Tx) DeleteHash(sum string) error { return t.tx.Bucket(bucketHash).Delete([]byte(sum)) }

// DeleteMessageID removes a Message-ID from the threading index and from
// the index of the ids we sent.
func (t *Tx) DeleteMessageID(id string) error {
	if err := t.tx.Bucket(bucketSent).Delete([]byte(id)); err != nil {
		return err
	}
	return t.tx.Bucket(bucketMsgID).Delete([]byte(id))
}

// RewriteEvents passes every event of a case through fn and stores the
// result; it exists only for erasure, the log is otherwise append-only.
func (t *Tx) RewriteEvents(caseID string, fn func(*Event)) error {
	b := t.tx.Bucket(bucketEvents).Bucket([]byte(caseID))
	if b == nil {
		return nil
	}
	type kv struct {
		k  []byte
		ev Event
	}
	var all []kv
	err := b.ForEach(func(k, v []byte) error {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return err
		}
		all = append(all, kv{bytes.Clone(k), ev})
		return nil
	})
	if err != nil {
		return fmt.Errorf("rewrite events of %s: %w", caseID, err)
	}
	for _, x := range all {
		fn(&x.ev)
		if err := putJSON(b, x.k, x.ev); err != nil {
			return fmt.Errorf("rewrite events of %s: %w", caseID, err)
		}
	}
	return nil
}

// DeleteSender forgets the per-day acknowledgment counts of an address.
func (t *Tx) DeleteSender(addr string) error {
	b := t.tx.Bucket(bucketSenders)
	prefix := []byte(strings.ToLower(addr) + "|")
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
