package workflow

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"disclosured/mailbox"
	"disclosured/store"
)

// rcptSink is a submission server that refuses the recipients in refuse.
type rcptSink struct {
	mu     sync.Mutex
	refuse map[string]*smtp.SMTPError
	got    map[string][]string // recipient -> subjects
	addr   string
}

func startRcptSink(t *testing.T, refuse map[string]*smtp.SMTPError) *rcptSink {
	t.Helper()
	s := &rcptSink{refuse: refuse, got: map[string][]string{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &rcptSinkSession{s: s}, nil }))
	srv.Domain = "submission.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *rcptSink) received(addr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got[addr]...)
}

type rcptSinkSession struct {
	s  *rcptSink
	to []string
}

func (ss *rcptSinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *rcptSinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if e := ss.s.refuse[to]; e != nil {
		return e
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *rcptSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	subject := ""
	for _, l := range strings.Split(string(b), "\r\n") {
		if s, ok := strings.CutPrefix(l, "Subject: "); ok {
			subject = s
			break
		}
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	for _, to := range ss.to {
		ss.s.got[to] = append(ss.s.got[to], subject)
	}
	return nil
}
func (ss *rcptSinkSession) Reset()        { ss.to = nil }
func (ss *rcptSinkSession) Logout() error { return nil }

func (f *fixture) sendAll(t *testing.T, addr string) {
	t.Helper()
	s := mailbox.NewSender(mailbox.SMTPOptions{Address: addr, TLS: "none", HelloName: "example.test", Timeout: 5 * time.Second}, nil)
	defer s.Close()
	for range 3 { // the notices the first pass queues go out in the next
		if _, err := f.e.sendDue(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOneBadStaffAddressSilencesNobody is issue 12 §2: with staff.notify
// naming a good and a refused address, every new-report reaches the good
// one, the refused one is recorded as failed on the case, and the good one
// is told which address failed.
func TestOneBadStaffAddressSilencesNobody(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffNotify = []string{"staff@example.test", "nobody@example.test"}
	sink := startRcptSink(t, map[string]*smtp.SMTPError{
		"nobody@example.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"},
	})
	var ids []string
	for i, mid := range []string{"p1@example.org", "p2@example.org", "p3@example.org", "p4@example.org", "p5@example.org"} {
		from := string(rune('a'+i)) + "@example.org" // distinct senders: no flood limit
		ids = append(ids, f.ingest(t, report(from, "XSS "+string(rune('a'+i)), mid, "")).CaseID)
	}
	f.sendAll(t, sink.addr)
	got := sink.received("staff@example.test")
	newReports, notices := 0, 0
	for _, s := range got {
		switch {
		case strings.Contains(s, "New report"):
			newReports++
		case strings.Contains(s, "Undelivered") || strings.Contains(strings.ToLower(s), "failed") || strings.Contains(strings.ToLower(s), "not delivered"):
			notices++
		}
	}
	if newReports != 5 || notices != 5 {
		t.Errorf("staff@ got %d new-report mails and %d failure notices, want 5 and 5: %q", newReports, notices, got)
	}
	for _, id := range ids {
		v := f.show(t, id)
		var failedEvent bool
		for _, ev := range v.Events {
			if ev.Type == "mail_failed" && strings.Contains(ev.Detail, "nobody@example.test") && !strings.Contains(ev.Detail, "staff@example.test") {
				failedEvent = true
			}
		}
		if !failedEvent {
			t.Errorf("%s: no mail_failed event naming only nobody@", id)
		}
		for _, m := range v.Messages {
			if m.Direction == "out" && m.Status != store.MailSent {
				t.Errorf("%s: %s mail is %s, want sent", id, m.Kind, m.Status)
			}
		}
	}
	if err := f.e.MailProblem(); err != nil {
		t.Errorf("MailProblem() = %v, want nil: a staff address works", err)
	}
	pending, failed := f.outboxCounts(t)
	if pending != 0 || failed != 0 {
		t.Errorf("%d pending, %d failed; want 0 and 0", pending, failed)
	}
}

// TestNoStaffAddressWorks: when every staff address is refused the
// operator is told (MailProblem, for /healthz), until staff mail goes
// through again. A recipient refused for now is retried alone.
func TestNoStaffAddressWorks(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffNotify = []string{"staff@example.test", "later@example.test"}
	refuse := map[string]*smtp.SMTPError{
		"staff@example.test": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"},
		"later@example.test": {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"},
	}
	sink := startRcptSink(t, refuse)
	f.ingest(t, report("ada@example.org", "XSS", "q1@example.org", ""))
	f.sendAll(t, sink.addr)
	if err := f.e.MailProblem(); err == nil || !strings.Contains(err.Error(), "staff@example.test") {
		t.Errorf("MailProblem() = %v, want staff unreachable naming staff@", err)
	}
	sink.mu.Lock()
	delete(refuse, "later@example.test")
	sink.mu.Unlock()
	f.now = f.now.Add(time.Hour)
	f.sendAll(t, sink.addr)
	if got := sink.received("later@example.test"); len(got) != 1 || !strings.Contains(got[0], "New report") {
		t.Errorf("later@ got %q, want the new-report once", got)
	}
	if len(sink.received("staff@example.test")) != 0 {
		t.Error("the refused address got mail")
	}
	if err := f.e.MailProblem(); err != nil {
		t.Errorf("MailProblem() = %v after staff mail went through", err)
	}
}
