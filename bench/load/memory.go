package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"disclosured/store"
)

// memResult holds the daemon's peak RSS (VmHWM) in three runs.
type memResult struct {
	empty   memStatus // empty store, after one small report
	big     memStatus // the same daemon after ingesting the large message
	full    memStatus // store of `cases` cases, after one small report
	msgSize int64
	attach  int
	cases   int
	gen     time.Duration
	dbSize  int64
}

// runMemory measures peak RSS. Two daemons: one on an empty store that
// ingests a small report and then one message with an attachment of
// attachBytes; one on a store of `cases` generated cases that ingests a
// small report. Mail is put in security@'s INBOX over LMTP: Postfix's
// default message_size_limit (10 MB) would refuse the large one.
func runMemory(st *stack, bin, work string, cases int, attachBytes int) (*memResult, error) {
	if err := st.clearAll(); err != nil {
		return nil, err
	}
	res := &memResult{cases: cases, attach: attachBytes}
	sec, reporter := st.user("SECURITY"), st.user("REPORTER")

	// The daemon keeps at most limits.max_message_bytes (default 25 MiB) of
	// a message; raise it so the whole message is fetched, parsed and stored.
	big := bigMail(reporter, sec, attachBytes)
	res.msgSize = int64(len(big))
	limit := max(int64(64<<20), 2*res.msgSize)

	dir := filepath.Join(work, "mem-empty")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ms, err := memRun(st, bin, dir, filepath.Join(dir, "d.db"), limit, [][]byte{
		reportMail(reporter, sec, "mem-small-1", 0), big})
	if err != nil {
		return nil, err
	}
	res.empty, res.big = ms[0], ms[1]
	if err := st.clearAll(); err != nil {
		return nil, err
	}

	dir = filepath.Join(work, "mem-full")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dir, "d.db")
	t0 := time.Now()
	if err := generateStore(dbPath, cases); err != nil {
		return nil, fmt.Errorf("generate store of %d cases: %w", cases, err)
	}
	res.gen = time.Since(t0)
	if fi, err := os.Stat(dbPath); err == nil {
		res.dbSize = fi.Size()
	}
	logf("  memory: generated a store of %d cases (%d MiB) in %v", cases, res.dbSize>>20, res.gen.Round(time.Millisecond))
	ms, err = memRun(st, bin, dir, dbPath, limit, [][]byte{reportMail(reporter, sec, "mem-small-2", 0)})
	if err != nil {
		return nil, err
	}
	res.full = ms[0]
	return res, st.clearAll()
}

// memRun starts a daemon on dbPath, delivers each message in turn, waits
// until its acknowledgment and staff notice were accepted, and reads the
// daemon's memory after each.
func memRun(st *stack, bin, dir, dbPath string, limit int64, msgs [][]byte) ([]memStatus, error) {
	cfgPath, err := writeConfig(st, dir, dbPath, limit)
	if err != nil {
		return nil, err
	}
	d, err := startConnected(st, bin, cfgPath, dir, 60*time.Second)
	if err != nil {
		return nil, err
	}
	defer d.stop() // a no-op after the checked stop below
	var out []memStatus
	for i, raw := range msgs {
		if err := st.lmtpDeliver(st.user("SECURITY"), [][]byte{raw}, 1); err != nil {
			return nil, err
		}
		for sent := 0; sent < 2; { // acknowledgment and staff notice
			if _, err := d.log.next(2*time.Minute, isMailSent, d.alive); err != nil {
				return nil, fmt.Errorf("message %d: mail not sent: %w\n%s", i, err, d.log.last(20))
			}
			sent++
		}
		// Let anything the message set off (GC, closing the batch) settle.
		time.Sleep(500 * time.Millisecond)
		m, err := d.mem()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := d.stop(); err != nil {
		return nil, err
	}
	for _, l := range d.log.lines {
		if l.Level == "ERROR" {
			return nil, fmt.Errorf("daemon logged an error: %s: %s", l.Msg, l.Err)
		}
	}
	return out, nil
}

// bigMail is a short report with one application/octet-stream attachment
// of attachBytes random bytes, base64 in 76-character lines.
func bigMail(from, to string, attachBytes int) []byte {
	data := make([]byte, attachBytes)
	rand.Read(data)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Ada Reporter <%s>\r\nTo: %s\r\nSubject: Memory dump of the crash (PoC attached)\r\n", from, to)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <big.%d@example.org>\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString("The attached core dump shows the heap overflow in the upload handler of app.example.com.\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: application/octet-stream; name=\"core.bin\"\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"core.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n--b1--\r\n")
	return b.Bytes()
}

// generateStore writes n cases shaped like the daemon's own, through the
// store API, 2,000 per transaction: each has its incoming report (raw bytes
// included), the acknowledgment and staff notice as sent outbox mail, their
// message records and five events. Deadlines lie in the future, so a
// sweep finds nothing due; no mail is pending.
func generateStore(path string, n int) error {
	db, err := store.Open(path, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	at := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	outRaw := bytes.Repeat([]byte("Thank you for your report. We will assess it and reply by the date below.\r\n"), 24)
	const perTx = 2000
	for start := 0; start < n; start += perTx {
		err := db.Update(func(tx *store.Tx) error {
			for i := start; i < min(start+perTx, n); i++ {
				if err := generateCase(tx, i, at, outRaw); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func generateCase(tx *store.Tx, i int, at time.Time, outRaw []byte) error {
	id, err := tx.NextCaseID("CS", at.Year())
	if err != nil {
		return err
	}
	raw := reportMail("reporter@example.org", "security@example.test", fmt.Sprintf("gen-%d", i), 0)
	sum := sha256.Sum256(raw)
	msgID := fmt.Sprintf("gen-%d@example.org", i)
	c := &store.Case{ID: id, State: "acknowledged", Reporter: store.Address{Name: "Ada Reporter", Addr: "reporter@example.org"},
		Subject: fmt.Sprintf("Stored XSS in search (gen-%d)", i), ReceivedAt: at, Language: "en", Class: "human",
		Thread: "ack-" + id + "@example.test", UpdatedAt: at, Deadlines: map[string]*store.Deadline{}}
	met := at.Add(time.Second)
	c.Deadlines["acknowledge"] = &store.Deadline{Start: at, Due: at.Add(24 * time.Hour), MetAt: &met}
	for j, name := range []string{"assess", "resolve"} {
		due := time.Now().Add(time.Duration(j+1) * 90 * 24 * time.Hour)
		c.Deadlines[name] = &store.Deadline{Start: at, Due: due, Next: due}
	}
	in := &store.Message{CaseID: id, Direction: "in", Kind: "report", From: "reporter@example.org", FromName: "Ada Reporter",
		To: []string{"security@example.test"}, Subject: c.Subject, MessageID: msgID, At: at, Class: "human",
		Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]),
		Text:  "The search page at https://app.example.com/search reflects the query parameter without escaping.",
		URLs:  []string{"https://app.example.com/search?q=<script>alert(1)</script>"},
		IPs:   []string{"192.0.2.44"},
		Hosts: []string{"app.example.com", "api.example.com"}}
	if err := tx.AddMessage(in, raw); err != nil {
		return err
	}
	events := []store.Event{{At: at, Type: "opened", Actor: "reporter@example.org", MessageID: msgID, Detail: "class human"}}
	for _, o := range []struct{ kind, to string }{{"ack", "reporter@example.org"}, {"new-report", "staff@example.test"}} {
		outID := o.kind + "-" + id + "@example.test"
		m := &store.OutMail{CaseID: id, Kind: o.kind, From: "security@example.test", To: []string{o.to}, Raw: outRaw,
			NextAt: at, CreatedAt: at}
		if err := tx.Enqueue(m); err != nil {
			return err
		}
		prev := m.NextAt
		m.Status, m.Attempts, m.SentAt = store.MailSent, 1, met
		if err := tx.PutMail(m, prev); err != nil {
			return err
		}
		rec := &store.Message{CaseID: id, Direction: "out", Kind: o.kind, From: "security@example.test",
			To: []string{o.to}, Subject: "[" + id + "] " + c.Subject, MessageID: outID, At: at, OutboxID: m.ID}
		if err := tx.AddMessage(rec, nil); err != nil {
			return err
		}
		events = append(events, store.Event{At: at, Type: "mail_queued", MessageID: outID, Detail: o.kind + " to " + o.to})
	}
	events = append(events, store.Event{At: at, Type: "state", Detail: "new -> acknowledged"},
		store.Event{At: met, Type: "timer_met", Detail: "acknowledge"})
	for _, ev := range events {
		if err := tx.AppendEvent(id, ev); err != nil {
			return err
		}
	}
	return tx.PutCase(c)
}
