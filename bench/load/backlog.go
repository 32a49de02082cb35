package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// backlogResult is the backlog-ingest run: n reports waiting in security@'s
// INBOX when the daemon starts.
type backlogResult struct {
	n          int
	deliver    time.Duration // LMTP injection of the n reports (context only)
	fetch      time.Duration // baseline (a): the faster of a cold and a warm full FETCH
	fetchCold  time.Duration
	fetchWarm  time.Duration
	fetchBytes int64
	smtp       time.Duration // baseline (b): go-smtp submits n acknowledgments
	ingest     time.Duration // daemon start -> the batch that completes n is marked processed
	acks       time.Duration // daemon start -> Postfix accepted the n-th acknowledgment
	firstSent  time.Duration // daemon start -> first mail accepted
	allSent    time.Duration // daemon start -> every mail (acks and staff notices) accepted
	sent       int           // mails the daemon sent
}

// runBacklog measures intake and outbox under a backlog. Order: deliver the
// reports, FETCH them cold with a plain client, submit n acknowledgments
// with a plain go-smtp client (and wait until Postfix has delivered them,
// so they do not compete with the daemon), run the daemon until every
// acknowledgment and staff notice is accepted, then FETCH warm.
func runBacklog(cfg config, st *stack, bin, work string, n int, ackRaw []byte) (*backlogResult, error) {
	if err := st.clearAll(); err != nil {
		return nil, err
	}
	sec, reporter, staff := st.user("SECURITY"), st.user("REPORTER"), st.user("STAFF")
	res := &backlogResult{n: n}
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = reportMail(reporter, sec, fmt.Sprintf("backlog-%d", i), 0)
	}
	t0 := time.Now()
	if err := st.lmtpDeliver(sec, msgs, 4); err != nil {
		return nil, err
	}
	res.deliver = time.Since(t0)
	if got, err := st.count(sec); err != nil || got != uint32(n) {
		return nil, fmt.Errorf("security@ INBOX holds %d messages after delivery, want %d (%v)", got, n, err)
	}
	logf("  backlog: %d reports delivered over LMTP in %v", n, res.deliver.Round(time.Millisecond))

	got, b, d, err := st.fetchAll(sec)
	if err != nil {
		return nil, fmt.Errorf("baseline fetch: %w", err)
	}
	if got != n {
		return nil, fmt.Errorf("baseline fetch got %d messages, want %d", got, n)
	}
	res.fetchCold, res.fetchBytes = d, b

	// Baseline (b): the same number of acknowledgments, byte for byte one
	// the daemon sent, through the same submission port with STARTTLS and
	// AUTH over one connection, as the daemon's Sender does.
	c, err := st.smtpDial("MAILSTACK_SUBMISSION_PORT", sec)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	for i := range n {
		if err := send(c, sec, []string{reporter}, ackRaw); err != nil {
			c.Close()
			return nil, fmt.Errorf("baseline submit %d: %w", i, err)
		}
	}
	res.smtp = time.Since(t0)
	c.Quit()
	logf("  backlog: baseline go-smtp submitted %d acknowledgments in %v; waiting for Postfix to deliver them",
		n, res.smtp.Round(time.Millisecond))
	if err := st.waitCount(reporter, uint32(n), drainTimeout(n)); err != nil {
		return nil, err
	}
	if err := st.clearInbox(reporter); err != nil {
		return nil, err
	}

	dir := filepath.Join(work, "backlog")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath, err := writeConfig(st, dir, filepath.Join(dir, "d.db"), 0)
	if err != nil {
		return nil, err
	}
	dm, err := startDaemon(bin, cfgPath, filepath.Join(dir, "daemon.log"), st.env["MAILSTACK_CA_CERT"])
	if err != nil {
		return nil, err
	}
	defer dm.stop() // a no-op after the checked stop below
	// Walk the daemon's log: batches marked processed, then mail accepted.
	processed, acks := 0, 0
	deadline := 2*time.Minute + time.Duration(n)*100*time.Millisecond
	for res.ingest == 0 || acks < n || res.sent < 2*n {
		l, err := dm.log.next(deadline, func(l logLine) bool {
			return l.Msg == "batch processed" || isMailSent(l) || l.Level == "ERROR"
		}, dm.alive)
		if err != nil {
			return nil, fmt.Errorf("backlog: %d processed, %d acks, %d mails sent: %w\n%s",
				processed, acks, res.sent, err, dm.log.last(20))
		}
		at := l.Time.Sub(dm.started)
		switch {
		case l.Level == "ERROR":
			return nil, fmt.Errorf("daemon logged an error: %s: %s", l.Msg, l.Err)
		case l.Msg == "batch processed":
			processed += l.Messages
			if processed >= n && res.ingest == 0 {
				res.ingest = at
			}
		default:
			res.sent++
			if res.sent == 1 {
				res.firstSent = at
			}
			if l.Kind == "ack" {
				acks++
				if acks == n {
					res.acks = at
				}
			}
			res.allSent = at
		}
	}
	left, err := st.unprocessed()
	if err != nil {
		return nil, err
	}
	if left != 0 {
		return nil, fmt.Errorf("%d messages unprocessed on the server after the daemon logged all %d processed", left, n)
	}
	logf("  backlog: daemon ingested %d in %v, %d acks accepted after %v; waiting for Postfix to deliver",
		n, res.ingest.Round(time.Millisecond), n, res.acks.Round(time.Millisecond))
	if err := st.waitCount(reporter, uint32(n), drainTimeout(n)); err != nil {
		return nil, err
	}
	if err := st.waitCount(staff, uint32(n), drainTimeout(n)); err != nil {
		return nil, err
	}
	if err := dm.stop(); err != nil {
		return nil, err
	}
	if errs := dm.log.errorLines(); len(errs) > 0 {
		return nil, fmt.Errorf("daemon logged errors: %s", strings.Join(errs, "; "))
	}

	if _, _, res.fetchWarm, err = st.fetchAll(sec); err != nil {
		return nil, fmt.Errorf("baseline fetch (warm): %w", err)
	}
	res.fetch = min(res.fetchCold, res.fetchWarm)
	return res, st.clearAll()
}

// drainTimeout bounds the wait for Postfix to deliver n mails (it manages
// about 185 a second into one mailbox on a 2-core machine).
func drainTimeout(n int) time.Duration { return time.Minute + time.Duration(n)*20*time.Millisecond }
