package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The stats bucket keeps running totals over all cases, updated by PutCase
// in the same transaction, so that the metrics scraped every few seconds
// cost the same for a hundred cases as for a hundred thousand. The outfail
// bucket indexes failed outbox mail by ID, kept by PutMail.
var (
	bucketStats   = []byte("stats")
	bucketOutFail = []byte("outfail")
)

const (
	statStatePrefix = "state/"
	statBreached    = "breached"
)

// CaseStats returns the number of cases in each state and the number of
// deadlines breached, over all cases.
func (t *Tx) CaseStats() (byState map[string]int, breached int) {
	byState = map[string]int{}
	c := t.tx.Bucket(bucketStats).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n := int(int64(binary.BigEndian.Uint64(v)))
		if string(k) == statBreached {
			breached = n
		} else if state, ok := strings.CutPrefix(string(k), statStatePrefix); ok && n != 0 {
			byState[state] = n
		}
	}
	return byState, breached
}

// countCase adds sign (1 or -1) times c's contribution to the totals.
func countCase(stats *bolt.Bucket, c *Case, sign int64) error {
	if err := addStat(stats, statStatePrefix+c.State, sign); err != nil {
		return err
	}
	var breached int64
	for _, d := range c.Deadlines {
		if d != nil && d.Breached {
			breached++
		}
	}
	if breached == 0 {
		return nil
	}
	return addStat(stats, statBreached, sign*breached)
}

func addStat(stats *bolt.Bucket, key string, delta int64) error {
	var n int64
	if v := stats.Get([]byte(key)); v != nil {
		n = int64(binary.BigEndian.Uint64(v))
	}
	return stats.Put([]byte(key), binary.BigEndian.AppendUint64(nil, uint64(n+delta)))
}

// buildStats fills freshly created stats and outfail buckets from the
// records, for a store written before they existed.
func buildStats(tx *bolt.Tx) error {
	stats, fail := tx.Bucket(bucketStats), tx.Bucket(bucketOutFail)
	err := tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
		var c Case
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode case %s: %w", k, err)
		}
		return countCase(stats, &c, 1)
	})
	if err != nil {
		return fmt.Errorf("count cases: %w", err)
	}
	err = tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
		var m struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode outbox mail %x: %w", k, err)
		}
		if m.Status == MailFailed {
			return fail.Put(k, nil)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index failed mail: %w", err)
	}
	return nil
}
