package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// latencyResult holds the paired samples of the acknowledgment-latency run.
type latencyResult struct {
	// ack: Postfix accepted the report (end of DATA) -> Postfix accepted our
	// acknowledgment (the daemon logs "mail sent" kind=ack the moment the
	// submission server answered 250 to its DATA).
	ack []time.Duration
	// notify: the same report -> a plain go-imap client IDLE-ing on
	// security@'s INBOX got the EXISTS push. This is the baseline: the
	// soonest any IMAP client can know the report is there.
	notify []time.Duration
	// seen: the same report -> the acknowledgment's EXISTS push on the
	// reporter's INBOX, an outside view that does not trust the daemon log.
	seen []time.Duration
	// ackRaw is one acknowledgment as the daemon submitted it, the model
	// for the SMTP baseline of the backlog run.
	ackRaw []byte
}

// runLatency sends n reports one by one through Postfix's MTA port to
// security@, with the daemon and a plain IDLE client both watching
// security@'s INBOX, and times each acknowledgment. The next report goes
// out only when the previous acknowledgment has reached the reporter.
func runLatency(cfg config, st *stack, bin, work string, n int) (*latencyResult, error) {
	if err := st.clearAll(); err != nil {
		return nil, err
	}
	dir := filepath.Join(work, "latency")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath, err := writeConfig(st, dir, filepath.Join(dir, "d.db"), 0)
	if err != nil {
		return nil, err
	}
	base, err := st.startIdle(st.user("SECURITY"))
	if err != nil {
		return nil, err
	}
	defer base.close()
	rep, err := st.startIdle(st.user("REPORTER"))
	if err != nil {
		return nil, err
	}
	defer rep.close()

	d, err := startConnected(st, bin, cfgPath, dir, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer d.stop() // a no-op after the checked stop below

	c, err := st.smtpDial("MAILSTACK_SMTP_PORT", "")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sec, reporter := st.user("SECURITY"), st.user("REPORTER")
	res := &latencyResult{}
	const warmup = 3 // dial the daemon's SMTP connection, fill caches
	for i := -warmup; i < n; i++ {
		raw := reportMail(reporter, sec, fmt.Sprintf("latency-%d", i), 0)
		if err := send(c, reporter, []string{sec}, raw); err != nil {
			return nil, fmt.Errorf("send report %d: %w", i, err)
		}
		t0 := time.Now()
		tNotify, err := base.next(30 * time.Second)
		if err != nil {
			return nil, fmt.Errorf("report %d: baseline client: %w", i, err)
		}
		ack, err := d.log.next(30*time.Second, isAckSent, d.alive)
		if err != nil {
			return nil, fmt.Errorf("report %d: no acknowledgment sent: %w\n%s", i, err, d.log.last(20))
		}
		tSeen, err := rep.next(30 * time.Second)
		if err != nil {
			return nil, fmt.Errorf("report %d: acknowledgment not in the reporter's INBOX: %w", i, err)
		}
		if i < 0 {
			continue
		}
		res.ack = append(res.ack, ack.Time.Sub(t0))
		res.notify = append(res.notify, tNotify.Sub(t0))
		res.seen = append(res.seen, tSeen.Sub(t0))
		if (i+1)%50 == 0 {
			logf("  latency: %d/%d reports acknowledged", i+1, n)
		}
	}
	if err := c.Quit(); err != nil {
		return nil, err
	}
	if err := d.stop(); err != nil {
		return nil, err
	}
	if errs := d.log.errorLines(); len(errs) > 0 {
		return nil, fmt.Errorf("daemon logged errors: %s", strings.Join(errs, "; "))
	}
	res.ackRaw, err = oneAck(st)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// oneAck fetches an acknowledgment from the reporter's INBOX and strips the
// trace fields Postfix and Dovecot prepended, leaving the bytes the daemon
// submitted.
func oneAck(st *stack) ([]byte, error) {
	c, err := st.imapLogin(st.user("REPORTER"), nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, err
	}
	sec := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("fetch an acknowledgment: %v", err)
	}
	raw := msgs[0].FindBodySection(sec)
	for {
		i := bytes.Index(raw, []byte("\r\n"))
		if i < 0 {
			break
		}
		name, _, _ := strings.Cut(string(raw[:i]), ":")
		switch strings.ToLower(name) {
		case "return-path", "delivered-to", "received":
			raw = raw[i+2:]
			for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') { // folded continuation
				j := bytes.Index(raw, []byte("\r\n"))
				if j < 0 {
					return nil, fmt.Errorf("acknowledgment header does not end")
				}
				raw = raw[j+2:]
			}
			continue
		}
		break
	}
	if !bytes.Contains(raw, []byte("Auto-Submitted: auto-replied")) {
		return nil, fmt.Errorf("first message in the reporter's INBOX is not an acknowledgment")
	}
	return raw, nil
}

// reportMail is a plausible report of about 1.2 KB plus pad bytes of body;
// tag makes it unique (the daemon deduplicates by content).
func reportMail(from, to, tag string, pad int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Ada Reporter <%s>\r\nTo: %s\r\nSubject: Stored XSS in search (%s)\r\n", from, to, tag)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s.%d@example.org>\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z), tag, time.Now().UnixNano())
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString("Hello security team,\r\n\r\n" +
		"The search page at https://app.example.com/search?q=<script>alert(1)</script> reflects the\r\n" +
		"query parameter without escaping. I reproduced it from 192.0.2.44 against\r\n" +
		"app.example.com and api.example.com; both return the payload verbatim.\r\n\r\n" +
		"Steps:\r\n 1. Log in as any user.\r\n 2. Open the URL above.\r\n 3. The alert fires in the origin of app.example.com.\r\n\r\n" +
		"Impact: session theft for any logged-in user who follows a crafted link.\r\n" +
		"I have not shared this with anyone else and would like credit as Ada R.\r\n\r\n" +
		"Regards,\r\nAda\r\n")
	for pad > 0 {
		line := "Additional detail: request and response traces omitted for brevity.\r\n"
		if pad < len(line) {
			line = strings.Repeat("x", max(pad-2, 0)) + "\r\n"
		}
		b.WriteString(line)
		pad -= len(line)
	}
	return b.Bytes()
}
