// Package store keeps disclosured's state of record in one bbolt file: cases,
// the messages of each case (raw bytes and parsed metadata), an append-only
// event log per case, the outbox of mail still to send, and the indexes that
// threading and deduplication need.
//
// Bucket layout (all keys and values are bytes; records are JSON):
//
//	meta/schema                      -> schema version, decimal
//	seq/<prefix>-<year>              -> last case sequence number of that year (8-byte BE)
//	cases/<case id>                  -> Case
//	events/<case id>/<8-byte BE seq> -> Event (nested bucket per case, append only)
//	messages/<case id>/<8-byte BE n> -> Message metadata (nested bucket per case)
//	raw/<message key>                -> raw RFC 5322 bytes of an incoming message
//	msgid/<Message-ID>               -> case id, for every message in and out
//	sent/<Message-ID>                -> case id, only for the mail the daemon generated
//	hash/<sha256 of raw>             -> message key; a message is ingested once
//	outbox/<8-byte BE id>            -> OutMail
//	outq/<priority><8-byte BE unix nanos><id> -> empty; pending outbox mail by priority and next attempt
//	senders/<address>|<YYYY-MM-DD>   -> acknowledgments sent that day (8-byte BE)
//	due/<8-byte BE unix nanos><case id>\x00<timer> -> empty; Deadline.Next of every deadline,
//	                                   and Publication.Next under TimerPublish
//	active/, tally/, jobs/           -> the overview's indexes (overview.go)
//
// Invariants: a case changes only inside one Update transaction that also
// appends its events and queues its outgoing mail, so a crash leaves either
// all of a change or none of it. A message key is "<case id>/<n>".
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout version this code reads and writes.
const SchemaVersion = 1

var (
	bucketMeta     = []byte("meta")
	bucketSeq      = []byte("seq")
	bucketCases    = []byte("cases")
	bucketEvents   = []byte("events")
	bucketMessages = []byte("messages")
	bucketRaw      = []byte("raw")
	bucketMsgID    = []byte("msgid")
	bucketHash     = []byte("hash")
	bucketOutbox   = []byte("outbox")
	bucketOutq     = []byte("outq")
	bucketSenders  = []byte("senders")
	bucketDue      = []byte("due")
	bucketSent     = []byte("sent")

	allBuckets = [][]byte{bucketMeta, bucketSeq, bucketCases, bucketEvents, bucketMessages,
		bucketRaw, bucketMsgID, bucketHash, bucketOutbox, bucketOutq, bucketSenders, bucketDue,
		bucketStats, bucketOutFail, bucketSent, bucketActive, bucketTally, bucketJobs}
)

// ErrLocked is returned by Open when another process holds the store.
var ErrLocked = errors.New("store is locked by another process (is the daemon running?)")

// ErrNotFound is returned when a case or record does not exist.
var ErrNotFound = errors.New("not found")

// DB is an open store.
type DB struct {
	// mu lets Compact swap the file: every transaction holds it shared.
	mu   sync.RWMutex
	bolt *bolt.DB
	path string
	opts Options
	// writeErr is the error of the last failed commit, nil once one
	// succeeds; writeErrors counts the failed commits.
	writeErr    atomic.Pointer[error]
	writeErrors atomic.Uint64
}

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process's file lock. Zero
	// means two seconds.
	LockTimeout time.Duration
	// ReadOnly opens the file with a shared lock, for inspection commands.
	ReadOnly bool
	// NoSync skips the fsync of each commit. Only for tests and fuzzing:
	// a crash can then lose committed transactions.
	NoSync bool
}

// mmapReserve is the address space mapped for the file up front. bbolt
// remaps when the file outgrows its mapping, and a remap inside a write
// transaction copies every value that transaction touched onto the heap
// (three copies of a 27 MiB message were measured) and waits for all
// readers. Reserving address space costs no memory: only pages in use are
// resident.
const mmapReserve = 1 << 30

func (o Options) bolt() *bolt.Options {
	bo := &bolt.Options{Timeout: o.LockTimeout, ReadOnly: o.ReadOnly, NoSync: o.NoSync}
	if !o.ReadOnly {
		bo.InitialMmapSize = mmapReserve
	}
	return bo
}

// Open opens or creates the store at path and checks its schema version.
func Open(path string, o Options) (*DB, error) {
	if o.LockTimeout == 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	b, err := bolt.Open(path, 0o600, o.bolt())
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, opts: o}
	if o.ReadOnly {
		err = b.View(func(tx *bolt.Tx) error { return checkSchema(tx) })
	} else {
		err = b.Update(initSchema)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

func initSchema(tx *bolt.Tx) error {
	// A store from before the running totals gets them counted once, in
	// this transaction; a new store starts them at zero.
	countExisting := tx.Bucket(bucketMeta) != nil && tx.Bucket(bucketStats) == nil
	// Likewise the index of our own Message-IDs, from the outgoing records.
	indexSent := tx.Bucket(bucketMeta) != nil && tx.Bucket(bucketSent) == nil
	// Likewise the overview's indexes (overview.go).
	indexExisting := tx.Bucket(bucketMeta) != nil && tx.Bucket(bucketActive) == nil
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get([]byte("schema")) == nil {
		return meta.Put([]byte("schema"), []byte(strconv.Itoa(SchemaVersion)))
	}
	if err := checkSchema(tx); err != nil {
		return err
	}
	if indexSent {
		if err := buildSent(tx); err != nil {
			return err
		}
	}
	if countExisting {
		if err := buildStats(tx); err != nil {
			return err
		}
	}
	if indexExisting {
		return buildOverview(tx)
	}
	return nil
}

func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("not a disclosured store (no meta bucket)")
	}
	v, err := strconv.Atoi(string(meta.Get([]byte("schema"))))
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v != SchemaVersion {
		return fmt.Errorf("schema version %d, this binary reads %d", v, SchemaVersion)
	}
	return nil
}

// Close closes the store.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.bolt.Close()
}

// Path is the file the store lives in.
func (db *DB) Path() string { return db.path }

// Update runs fn in one read-write transaction; fn's error rolls it back.
// A failure of the store itself (the commit's write or sync: a full disk,
// an I/O error) is returned as a *WriteError, counted, and reported by
// WriteHealth until a later commit succeeds; fn's own errors are returned
// as they are.
func (db *DB) Update(fn func(*Tx) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	fnFailed := false
	err := db.bolt.Update(func(btx *bolt.Tx) error {
		if err := fn(&Tx{tx: btx}); err != nil {
			fnFailed = true
			return err
		}
		return nil
	})
	switch {
	case err == nil:
		if db.writeErr.Load() != nil {
			db.writeErr.Store(nil)
		}
	case !fnFailed:
		db.writeErrors.Add(1)
		db.writeErr.Store(&err)
		return &WriteError{Err: err}
	}
	return err
}

// WriteError is a failure of the store itself to commit a transaction:
// the file could not be written or synced. Nothing of the transaction was
// kept; retrying can help once the cause (a full disk) is gone.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "store write failed: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// IsWriteError reports whether err is, or wraps, a *WriteError.
func IsWriteError(err error) bool {
	var we *WriteError
	return errors.As(err, &we)
}

// WriteHealth returns nil when the last commit succeeded (or none was
// tried), and otherwise the reason the last one failed, as
// "store: no space left on device" for an errno.
func (db *DB) WriteHealth() error {
	p := db.writeErr.Load()
	if p == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(*p, &errno) {
		return fmt.Errorf("store: %s", errno.Error())
	}
	return fmt.Errorf("store: %w", *p)
}

// WriteErrors is the number of commits that failed since Open.
func (db *DB) WriteErrors() uint64 { return db.writeErrors.Load() }

// View runs fn in one read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Compact rewrites the store into a fresh file and swaps it in. bbolt
// never shrinks a file and freed pages keep their old bytes, so after
// erasing personal data this is what makes it really gone from disk.
// Transactions wait while it runs.
func (db *DB) Compact() error {
	if db.opts.ReadOnly {
		return errors.New("compact: store is open read-only")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tmp := db.path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, db.opts.bolt())
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := bolt.Compact(dst, db.bolt, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", err)
	}
	dst.Close()
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("compact: close old file: %w", err)
	}
	if err := os.Rename(tmp, db.path); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	b, err := bolt.Open(db.path, 0o600, db.opts.bolt())
	if err != nil {
		return fmt.Errorf("compact: reopen: %w", err)
	}
	db.bolt = b
	return nil
}

// Tx is a store transaction with typed accessors.
type Tx struct {
	tx *bolt.Tx
}

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// countKeys counts a bucket's keys; Bucket.Stats misses a write
// transaction's own changes.
func countKeys(b *bolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}
