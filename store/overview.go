package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The staff overview (the weekly digest) must cost the same with a hundred
// thousand stored cases as with a thousand, as long as as many are open. It
// reads three things, each kept by PutCase in the same transaction as the
// case:
//
//	active/<case id>                           -> empty; cases still being worked on or
//	                                              waiting for their publication
//	tally/<8-byte BE unix nanos><kind>\x00<id> -> what happened when: a case opened,
//	                                              resolved, offered a reward (value:
//	                                              8-byte BE amount, then the currency)
//	jobs/<name>                                -> Job; the programme-wide schedules
//	                                              (overview, monthly report)
//
// The publication of a case is indexed in due like a deadline, under the
// timer name TimerPublish.
var (
	bucketActive = []byte("active")
	bucketTally  = []byte("tally")
	bucketJobs   = []byte("jobs")
)

// TimerPublish is the due-index name of a case's publication schedule.
const TimerPublish = "publish"

// Tally kinds.
const (
	TallyOpened   = "opened"
	TallyResolved = "resolved"
	TallyReward   = "reward"
)

// endStates are the states in which nobody works on a case any more
// (SPEC §3); they mirror the workflow's names.
var endStates = map[string]bool{"closed": true, "rejected": true, "duplicate": true}

// Active reports whether a case belongs in the overview: not in an end
// state, or with a publication still to come.
func (c *Case) Active() bool {
	return !endStates[c.State] || (c.Publication != nil && c.Publication.DoneAt == nil)
}

// indexOverview keeps the active and tally buckets in step with a write
// of c; old is the record it replaces, nil for a new case.
func (t *Tx) indexOverview(old, c *Case) error {
	active := t.tx.Bucket(bucketActive)
	var err error
	if c.Active() {
		err = active.Put([]byte(c.ID), nil)
	} else {
		err = active.Delete([]byte(c.ID))
	}
	if err != nil {
		return err
	}
	return tallyChange(t.tx.Bucket(bucketTally), old, c)
}

// tallyChange records what the write of c (over old) did that the
// overview's weekly numbers count.
func tallyChange(b *bolt.Bucket, old, c *Case) error {
	if old == nil {
		if err := putTally(b, c.ReceivedAt, TallyOpened, c.ID, 0, ""); err != nil {
			return err
		}
	}
	at := c.UpdatedAt
	if at.IsZero() {
		at = c.ReceivedAt
	}
	if c.State == "resolved" && (old == nil || old.State != "resolved") {
		if err := putTally(b, at, TallyResolved, c.ID, 0, ""); err != nil {
			return err
		}
	}
	if c.Reward != nil && (old == nil || old.Reward == nil || *old.Reward != *c.Reward) {
		if err := putTally(b, at, TallyReward, c.ID, c.Reward.Amount, c.Reward.Currency); err != nil {
			return err
		}
	}
	return nil
}

func putTally(b *bolt.Bucket, at time.Time, kind, id string, amount int, currency string) error {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	k = append(append(append(k, kind...), 0), id...)
	v := append(binary.BigEndian.AppendUint64(nil, uint64(int64(amount))), currency...)
	return b.Put(k, v)
}

// Tally is what happened in a period.
type Tally struct {
	Opened   int `json:"opened"`
	Resolved int `json:"resolved"`
	// Rewards is how many rewards were offered (or changed); RewardTotal
	// sums their amounts by currency.
	Rewards     int            `json:"rewards"`
	RewardTotal map[string]int `json:"reward_total"`
}

// Tallies counts what happened in [from, to). It reads only that period's
// entries.
func (t *Tx) Tallies(from, to time.Time) Tally {
	out := Tally{RewardTotal: map[string]int{}}
	c := t.tx.Bucket(bucketTally).Cursor()
	start := binary.BigEndian.AppendUint64(nil, uint64(from.UnixNano()))
	end := uint64(to.UnixNano())
	for k, v := c.Seek(start); k != nil && len(k) > 8; k, v = c.Next() {
		if binary.BigEndian.Uint64(k[:8]) >= end {
			break
		}
		kind := k[8:]
		if i := bytes.IndexByte(kind, 0); i >= 0 {
			kind = kind[:i]
		}
		switch string(kind) {
		case TallyOpened:
			out.Opened++
		case TallyResolved:
			out.Resolved++
		case TallyReward:
			out.Rewards++
			if len(v) >= 8 {
				out.RewardTotal[string(v[8:])] += int(int64(binary.BigEndian.Uint64(v[:8])))
			}
		}
	}
	return out
}

// ActiveCases returns the cases the overview lists (see Case.Active), in
// ID order. It decodes only those, however many cases are stored.
func (t *Tx) ActiveCases() ([]*Case, error) {
	var out []*Case
	cases := t.tx.Bucket(bucketCases)
	err := t.tx.Bucket(bucketActive).ForEach(func(k, _ []byte) error {
		var c Case
		if err := getJSON(cases, k, &c); err != nil {
			return fmt.Errorf("read active case %s: %w", k, err)
		}
		out = append(out, &c)
		return nil
	})
	return out, err
}

// Job is the state of one programme-wide schedule (the overview, the
// monthly report): like a deadline, its next due time is stored, so a
// restart neither repeats nor forgets it.
type Job struct {
	// Spec is the schedule Next was computed from; a changed schedule
	// starts afresh.
	Spec string `json:"spec"`
	// Next is when the job is due next.
	Next time.Time `json:"next"`
	// Last is the due time of the last run, and Ran when it ran.
	Last time.Time `json:"last,omitzero"`
	Ran  time.Time `json:"ran,omitzero"`
}

// Job reads a job's state; the zero Job when it never ran.
func (t *Tx) Job(name string) (Job, error) {
	var j Job
	err := getJSON(t.tx.Bucket(bucketJobs), []byte(name), &j)
	if err == ErrNotFound {
		return Job{}, nil
	}
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", name, err)
	}
	return j, nil
}

// PutJob writes a job's state.
func (t *Tx) PutJob(name string, j Job) error {
	if err := putJSON(t.tx.Bucket(bucketJobs), []byte(name), j); err != nil {
		return fmt.Errorf("write job %s: %w", name, err)
	}
	return nil
}

// buildOverview fills freshly created active and tally buckets from the
// cases of a store written before they existed. The exact times of past
// resolutions and rewards are not recorded there; the case's last update
// stands in for them.
func buildOverview(tx *bolt.Tx) error {
	t := &Tx{tx: tx}
	return tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
		var c Case
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode case %s: %w", k, err)
		}
		if err := t.indexOverview(nil, &c); err != nil {
			return fmt.Errorf("index case %s: %w", k, err)
		}
		return nil
	})
}
