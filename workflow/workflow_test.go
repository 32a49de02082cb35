package workflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"disclosured/calendar"
	"disclosured/mailbox"
	"disclosured/store"
	"disclosured/templates"
)

// sink is a go-smtp server that records mail and can refuse it.
type sink struct {
	mu     sync.Mutex
	mail   []sunk
	refuse *smtp.SMTPError // when set, DATA is answered with it
	addr   string
}

type sunk struct {
	from string
	to   []string
	raw  string
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) setRefuse(e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = e
}

func (s *sink) messages() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.mail...)
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.refuse != nil {
		return ss.s.refuse
	}
	ss.s.mail = append(ss.s.mail, sunk{from: ss.from, to: ss.to, raw: string(b)})
	return nil
}
func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

type fixture struct {
	e    *Engine
	db   *store.DB
	now  time.Time
	sink *sink
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.New(calendar.Options{Location: ams, Holidays: "nl"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "d.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, now: time.Date(2026, 11, 20, 16, 0, 0, 0, ams), sink: startSink(t)}
	timers := map[TimerName]calendar.Duration{}
	for name, s := range map[TimerName]string{TimerAcknowledge: "1wd", TimerAssess: "3wd", TimerResolve: "60d",
		TimerProgress: "10wd", TimerThirdParty: "3wd"} {
		timers[name], _ = calendar.ParseDuration(s)
	}
	f.e = New(db, Options{OrgName: "CloudSphere", OrgAddress: "security@example.test", CasePrefix: "CS",
		Languages: []string{"en", "nl"}, StaffAddresses: []string{"staff@example.test"},
		StaffNotify: []string{"staff@example.test"}, AcksPerSenderPerDay: 3, Calendar: cal, Timers: timers,
		RewardMin: 50, RewardMax: 1000, Currency: "EUR", RemindAt: []float64{0.5, 0.8},
		Now: func() time.Time { return f.now }}, tmpl)
	return f
}

func report(from, subject, msgID, extra string) []byte {
	return []byte(fmt.Sprintf("From: Ada <%s>\r\nTo: security@example.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n%sDate: Fri, 20 Nov 2026 15:00:00 +0100\r\n\r\nThe page https://app.example.com/x at 192.0.2.1 is vulnerable.\r\n",
		from, subject, msgID, extra))
}

func (f *fixture) ingest(t *testing.T, raw []byte) Outcome {
	t.Helper()
	out, err := f.e.Ingest(context.Background(), []Incoming{{Raw: raw, ReceivedAt: f.now}})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// flush sends everything due through the real SMTP client to the sink.
func (f *fixture) flush(t *testing.T) {
	t.Helper()
	s := mailbox.NewSender(mailbox.SMTPOptions{Address: f.sink.addr, TLS: "none", HelloName: "example.test", Timeout: 5 * time.Second}, nil)
	defer s.Close()
	if _, err := f.e.sendDue(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) show(t *testing.T, id string) *CaseView {
	t.Helper()
	v, err := ShowCase(f.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewReportIsAcknowledged(t *testing.T) {
	f := newFixture(t)
	o := f.ingest(t, report("ada@example.org", "XSS in login", "r1@example.org", ""))
	if !o.New || o.CaseID != "CS-2026-0001" {
		t.Fatalf("outcome = %+v, want new case CS-2026-0001", o)
	}
	f.flush(t)
	got := f.sink.messages()
	if len(got) != 2 {
		t.Fatalf("sent %d mails, want ack + staff notification", len(got))
	}
	ack, staff := got[0], got[1]
	if ack.to[0] != "ada@example.org" || !strings.Contains(ack.raw, "Subject: [CS-2026-0001] Received: XSS in login") {
		t.Errorf("ack to %v:\n%s", ack.to, ack.raw)
	}
	for _, h := range []string{"In-Reply-To: <r1@example.org>", "Auto-Submitted: auto-replied", "X-Disclosured-Case: CS-2026-0001", "@example.test>"} {
		if !strings.Contains(ack.raw, h) {
			t.Errorf("ack lacks %q", h)
		}
	}
	// Received Friday 16:00 CET: 3wd of 09-17 business time is Wednesday 16:00.
	if !strings.Contains(ack.raw, "Wed 25 Nov 2026 16:00 CET") {
		t.Errorf("ack does not state the assessment due date:\n%s", ack.raw)
	}
	if staff.to[0] != "staff@example.test" || !strings.Contains(staff.raw, "Subject: [CS-2026-0001] New report: XSS in login") ||
		!strings.Contains(staff.raw, "192.0.2.1") || !strings.Contains(staff.raw, "https://app.example.com/x") {
		t.Errorf("staff notification:\n%s", staff.raw)
	}
	v := f.show(t, o.CaseID)
	if v.State != StateAcknowledged || v.Deadlines[TimerAcknowledge].MetAt == nil {
		t.Errorf("state %s, acknowledge met %v", v.State, v.Deadlines[TimerAcknowledge].MetAt)
	}
	for _, m := range v.Messages {
		if m.Direction == "out" && m.Status != store.MailSent {
			t.Errorf("%s mail status %s, want sent", m.Kind, m.Status)
		}
	}
}

func TestFollowUpJoinsCase(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		extra   string
	}{
		{"by tag", "Re: [CS-2026-0001] Received: XSS", ""},
		{"by in-reply-to", "more details", "In-Reply-To: <r1@example.org>\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
			f.flush(t)
			o := f.ingest(t, report("ADA@example.org", tt.subject, "r2@example.org", tt.extra))
			if o.New || o.CaseID != "CS-2026-0001" {
				t.Fatalf("follow-up outcome %+v, want joined CS-2026-0001", o)
			}
			f.flush(t)
			got := f.sink.messages()
			if len(got) != 3 || !strings.Contains(got[2].raw, "Subject: [CS-2026-0001] Reporter replied:") || got[2].to[0] != "staff@example.test" {
				t.Fatalf("want exactly one more mail, to staff; got %d", len(got))
			}
		})
	}
}

func TestStrangerWithTagOpensNewCase(t *testing.T) {
	f := newFixture(t)
	f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
	o := f.ingest(t, report("mallory@example.net", "[CS-2026-0001] I am Ada, send me everything", "m1@example.net", ""))
	if !o.New || o.CaseID != "CS-2026-0002" {
		t.Fatalf("outcome %+v, want new case CS-2026-0002", o)
	}
	if v := f.show(t, o.CaseID); v.RefersTo == nil || *v.RefersTo != "CS-2026-0001" {
		t.Errorf("refers_to = %v, want CS-2026-0001", v.RefersTo)
	}
}

func TestNoReplyToMachinesAndOurselves(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"auto-reply", report("ada@example.org", "Out of office", "a1@x", "Auto-Submitted: auto-replied\r\n")},
		{"list", report("list@example.org", "digest", "l1@x", "List-Id: <x.example.org>\r\n")},
		{"bounce", []byte("From: MAILER-DAEMON@example.org\r\nTo: security@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n")},
		{"own address", report("security@example.test", "hello", "o1@x", "")},
		{"loop header", report("ada@example.org", "hi", "h1@x", "X-Disclosured-Case: CS-2026-0009\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			o := f.ingest(t, tt.raw)
			if !o.New {
				t.Fatalf("not stored as a case: %+v", o)
			}
			f.flush(t)
			for _, m := range f.sink.messages() {
				if !strings.Contains(strings.Join(m.to, ","), "staff@") {
					t.Errorf("mail sent to %v", m.to)
				}
			}
			v := f.show(t, o.CaseID)
			if v.State != StateNew || len(v.Deadlines) != 0 {
				t.Errorf("state %s with %d deadlines, want new without timers", v.State, len(v.Deadlines))
			}
		})
	}
}

func TestSameBytesIngestedOnce(t *testing.T) {
	f := newFixture(t)
	raw := report("ada@example.org", "XSS", "r1@example.org", "")
	f.ingest(t, raw)
	if o := f.ingest(t, raw); !o.Duplicate || o.CaseID != "CS-2026-0001" {
		t.Fatalf("second ingest %+v, want duplicate of CS-2026-0001", o)
	}
	list, err := ListCases(f.db, "")
	if err != nil || len(list) != 1 {
		t.Fatalf("cases = %d (%v), want 1", len(list), err)
	}
}

func TestFloodLimit(t *testing.T) {
	f := newFixture(t)
	for i := range 10 {
		f.ingest(t, report("flood@example.org", fmt.Sprintf("report %d", i), fmt.Sprintf("f%d@x", i), ""))
	}
	f.flush(t)
	acks, staff, flood := 0, 0, 0
	for _, m := range f.sink.messages() {
		switch {
		case m.to[0] == "flood@example.org":
			acks++
		case strings.Contains(m.raw, "flood from"):
			flood++
		default:
			staff++
		}
	}
	if acks != 3 || flood != 1 || staff != 3 {
		t.Errorf("acks %d, flood notices %d, staff notices %d; want 3, 1, 3", acks, flood, staff)
	}
	if list, _ := ListCases(f.db, ""); len(list) != 10 {
		t.Errorf("%d cases stored, want all 10", len(list))
	}
	// Unacknowledged flood cases run no timers, so no reminder storm.
	f.now = f.now.Add(90 * 24 * time.Hour)
	actions, err := f.e.Sweep(context.Background(), f.now, true)
	if err != nil || len(actions) != 2*3 {
		t.Errorf("sweep after the flood: %d actions (%v), want 6 (assess and resolve of the 3 acknowledged cases)", len(actions), err)
	}
}

func TestSMTPOutageDelaysMail(t *testing.T) {
	f := newFixture(t)
	f.sink.setRefuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	o := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
	f.flush(t)
	v := f.show(t, o.CaseID)
	for _, m := range v.Messages {
		if m.Direction == "out" && (m.Status != store.MailPending || m.Attempts != 1 || !strings.Contains(m.LastError, "try later")) {
			t.Errorf("%s: status %s attempts %d error %q, want pending after one failed try", m.Kind, m.Status, m.Attempts, m.LastError)
		}
	}
	// Nothing is retried before its backoff ends.
	f.flush(t)
	if v := f.show(t, o.CaseID); v.Messages[1].Attempts != 1 {
		t.Errorf("retried before the backoff ended")
	}
	f.sink.setRefuse(nil)
	f.now = f.now.Add(time.Minute)
	f.flush(t)
	if n := len(f.sink.messages()); n != 2 {
		t.Errorf("%d mails delivered after the outage, want 2", n)
	}
	f.now = f.now.Add(time.Hour)
	f.flush(t)
	if n := len(f.sink.messages()); n != 2 {
		t.Errorf("%d mails delivered later, want still 2 (no duplicates)", n)
	}
}

func TestPermanentRejectionFails(t *testing.T) {
	f := newFixture(t)
	f.sink.setRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	o := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
	f.flush(t)
	v := f.show(t, o.CaseID)
	failed := map[string]bool{}
	for _, m := range v.Messages {
		if m.Status == store.MailFailed {
			failed[m.Kind] = true
		}
	}
	// The ack and the staff notification failed; staff were told about
	// the ack (and that notice failed too, without a further notice).
	if len(failed) != 3 || !failed["ack"] || !failed["new-report"] || !failed["mail-failed"] {
		t.Errorf("failed mails %v, want ack, new-report and mail-failed", failed)
	}
	var sawEvent bool
	for _, ev := range v.Events {
		sawEvent = sawEvent || ev.Type == "mail_failed"
	}
	if !sawEvent {
		t.Error("no mail_failed event on the case")
	}
	f.now = f.now.Add(24 * time.Hour)
	f.sink.setRefuse(nil)
	f.flush(t)
	if n := len(f.sink.messages()); n != 0 {
		t.Errorf("failed mail was retried: %d sent", n)
	}
}

func TestCaseIDsPerYear(t *testing.T) {
	f := newFixture(t)
	f.ingest(t, report("a@example.org", "one", "y1@x", ""))
	f.now = time.Date(2027, 1, 1, 0, 30, 0, 0, f.now.Location())
	o := f.ingest(t, report("a@example.org", "two", "y2@x", ""))
	if ok, _ := regexp.MatchString(`^CS-2027-0001$`, o.CaseID); !ok {
		t.Errorf("first case of 2027 is %s", o.CaseID)
	}
}

func TestShowUnknownCase(t *testing.T) {
	f := newFixture(t)
	if _, err := ShowCase(f.db, "CS-2026-9999"); !errors.Is(err, ErrNoCase) {
		t.Errorf("err = %v, want ErrNoCase", err)
	}
}

// TestThousandReportsFromOneSender: all are stored, at most
// limits.acks_per_sender_per_day are acknowledged, and staff get one
// notice about the flood.
func TestThousandReportsFromOneSender(t *testing.T) {
	f := newFixture(t)
	f.e.opts().AcksPerSenderPerDay = 5
	var in []Incoming
	for i := range 1000 {
		in = append(in, Incoming{Raw: report("flood@example.org", fmt.Sprintf("r%d", i), fmt.Sprintf("k%d@x", i), ""), ReceivedAt: f.now})
	}
	if _, err := f.e.Ingest(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	f.flush(t)
	acks, flood := 0, 0
	for _, m := range f.sink.messages() {
		if m.to[0] == "flood@example.org" {
			acks++
		}
		if strings.Contains(m.raw, "flood from flood@example.org") {
			flood++
		}
	}
	list, _ := ListCases(f.db, "")
	if len(list) != 1000 || acks != 5 || flood != 1 {
		t.Errorf("%d cases, %d acks, %d flood notices; want 1000, 5, 1", len(list), acks, flood)
	}
}

// TestOwnMailComingBackThreads: with staff.notify pointing at the security
// mailbox itself, our notifications come back; they join their case, open
// no new one, and cause no mail.
func TestOwnMailComingBackThreads(t *testing.T) {
	f := newFixture(t)
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	f.flush(t)
	sent := len(f.sink.messages())
	o := f.ingest(t, []byte("From: CloudSphere <security@example.test>\r\nTo: security@example.test\r\nSubject: ["+id+"] New report: XSS\r\n"+
		"Message-ID: <own@example.test>\r\nX-Disclosured-Case: "+id+"\r\nAuto-Submitted: auto-generated\r\n\r\nreport\r\n"))
	if o.New || o.CaseID != id {
		t.Errorf("own mail: %+v, want it joined to %s", o, id)
	}
	f.flush(t)
	if n := len(f.sink.messages()); n != sent {
		t.Errorf("own mail caused %d mails", n-sent)
	}
}

// TestBacklogHoldsOutbox: while the intake reports more batches of a
// backlog to come, the outbox sends nothing; the last batch, a failed one
// or the end of the hold's time limit frees it.
func TestBacklogHoldsOutbox(t *testing.T) {
	batch := func(i, remaining int) mailbox.Batch {
		raw := report("ada@example.org", fmt.Sprintf("Bug %d", i), fmt.Sprintf("b%d@example.org", i), "")
		return mailbox.Batch{Mailbox: "INBOX", Remaining: remaining,
			Messages: []mailbox.Message{{UID: uint32(i + 1), Raw: raw, InternalDate: time.Now()}}}
	}
	tests := []struct {
		name    string
		release func(t *testing.T, f *fixture)
	}{
		{"last batch", func(t *testing.T, f *fixture) {
			if err := f.e.HandleBatch(t.Context(), batch(2, 0)); err != nil {
				t.Fatal(err)
			}
		}},
		{"failed batch", func(t *testing.T, f *fixture) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := f.e.HandleBatch(ctx, batch(2, 1)); err == nil {
				t.Fatal("a batch with a cancelled context succeeded")
			}
		}},
		{"time limit", func(t *testing.T, f *fixture) {
			f.e.holdUntil.Store(time.Now().Add(-time.Second).UnixNano())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for i := range 2 {
				if err := f.e.HandleBatch(t.Context(), batch(i, 2-i)); err != nil {
					t.Fatal(err)
				}
			}
			f.flush(t)
			if n := len(f.sink.messages()); n != 0 {
				t.Fatalf("%d mails sent while the backlog was coming in, want 0", n)
			}
			tt.release(t, f)
			f.flush(t)
			if n := len(f.sink.messages()); n < 4 {
				t.Errorf("%d mails sent after the hold ended, want the acks and notices of the backlog", n)
			}
		})
	}
}

// TestSettlePanicIsRecovered: a panic while a send's result is settled, on
// the goroutine that commits it, is recovered and counted, fails the pass
// instead of the process, and leaves the committed result in place.
func TestSettlePanicIsRecovered(t *testing.T) {
	f := newFixture(t)
	var panics []string
	o := *f.e.opts()
	o.Observer = Observer{
		MailSent: func(string) { panic("observer broke") },
		Panicked: func(c string) { panics = append(panics, c) },
	}
	f.e.Reload(o, f.e.tmpl.Load())
	out := f.ingest(t, report("ada@example.org", "XSS", "p1@example.org", ""))
	s := mailbox.NewSender(mailbox.SMTPOptions{Address: f.sink.addr, TLS: "none", HelloName: "example.test", Timeout: 5 * time.Second}, nil)
	defer s.Close()
	_, err := f.e.sendDue(t.Context(), s)
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("sendDue = %v, want the recovered panic", err)
	}
	if len(panics) != 1 || panics[0] != "outbox" {
		t.Errorf("panics counted: %v, want one for outbox", panics)
	}
	for _, m := range f.show(t, out.CaseID).Messages {
		if m.Direction == "out" && m.Kind == "ack" && m.Status != store.MailSent {
			t.Errorf("ack status %s, want sent: it was committed before the panic", m.Status)
		}
	}
}
