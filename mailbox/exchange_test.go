package mailbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"disclosured/devmail"
)

const exchangeUser = "security@example.test"

// startExchange runs devmail as Exchange Online with the given variant,
// taking the bearer token "tok-1" for the security mailbox.
func startExchange(t *testing.T, x devmail.Exchange) *devmail.System {
	t.Helper()
	x.Token = func(user, token string) bool { return user == exchangeUser && token == "tok-1" }
	ms, err := devmail.Start(context.Background(), devmail.Options{
		Users:    []devmail.User{{Address: exchangeUser, Password: "pw"}},
		Exchange: &x,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	return ms
}

func exchangeOptions(t *testing.T, ms *devmail.System) IMAPOptions {
	return IMAPOptions{
		Address: ms.IMAPAddr(), TLS: "none", Username: exchangeUser, Mailbox: "INBOX",
		Token:        func(context.Context, bool) (string, error) { return "tok-1", nil },
		PollInterval: time.Hour, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: testLogger(t),
	}
}

func countIn(t *testing.T, ms *devmail.System, mailbox string) int {
	t.Helper()
	msgs, err := ms.Messages(exchangeUser, mailbox)
	if err != nil {
		if strings.Contains(err.Error(), "No such mailbox") {
			return 0
		}
		t.Fatal(err)
	}
	return len(msgs)
}

// TestIntakeOnExchangeOnline is issue 10 §3: against Exchange Online's
// capabilities, PERMANENTFLAGS without keywords and BAD for keyword
// SEARCH/STORE, with only XOAUTH2 accepted, 20 reports are each fetched
// once and all moved to Processed, which is created; no keyword is ever
// sent. The same holds without UIDPLUS and MOVE (COPY, \Deleted and an
// EXPUNGE that can remove only our own mail) and on a server that takes
// keywords and forgets them.
func TestIntakeOnExchangeOnline(t *testing.T) {
	for _, tt := range []struct {
		name string
		x    devmail.Exchange
	}{
		{name: "exchange online"},
		{name: "without uidplus and move", x: devmail.Exchange{NoMove: true}},
		{name: "ignores keywords", x: devmail.Exchange{IgnoreKeywords: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := startExchange(t, tt.x)
			for i := range 20 {
				if err := ms.Deliver(exchangeUser, testMessage(i), time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			var failures scanFailures
			o := exchangeOptions(t, ms)
			o.OnScanFailure = failures.record
			rec := newRecorder()
			ri := startIntake(t, o, rec.handle)
			msgs := rec.wait(t, 20)
			seen := map[string]int{}
			for _, m := range msgs {
				seen[string(m.Raw)]++
			}
			for i := range 20 {
				if seen[string(testMessage(i))] != 1 {
					t.Errorf("message %d delivered %d times", i, seen[string(testMessage(i))])
				}
			}
			waitFor(t, "20 messages in Processed, none in INBOX", func() bool {
				return countIn(t, ms, "Processed") == 20 && countIn(t, ms, "INBOX") == 0
			})
			if n := ms.BodiesFetched(); n != 20 {
				t.Errorf("%d bodies fetched, want 20 (each once)", n)
			}
			if n := ms.KeywordRefusals(); n != 0 {
				t.Errorf("the server refused %d keyword commands, want none sent", n)
			}

			// New mail, then a restart: each delivered once. (The kick
			// stands in for IDLE, which imapmemserver may miss when mail
			// lands just before IDLE starts.)
			if err := ms.Deliver(exchangeUser, testMessage(20), time.Time{}); err != nil {
				t.Fatal(err)
			}
			ri.Kick()
			rec.wait(t, 1)
			waitFor(t, "21 in Processed", func() bool { return countIn(t, ms, "Processed") == 21 })
			ri.stop(t)
			rec2 := newRecorder()
			ri2 := startIntake(t, o, rec2.handle)
			waitFor(t, "a scan after the restart", func() bool { return !ri2.LastPoll().IsZero() })
			if rec2.calls != 0 || ms.BodiesFetched() != 21 {
				t.Errorf("after a restart: %d handler calls, %d bodies fetched; want 0 and 21", rec2.calls, ms.BodiesFetched())
			}
			if got := failures.get(); len(got) != 0 {
				t.Errorf("scan failures reported: %v", got)
			}
		})
	}
}

type scanFailures struct {
	mu   sync.Mutex
	errs []error
}

func (s *scanFailures) record(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *scanFailures) get() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// TestIntakeMoveModeSendsNoKeyword: with imap.processed_mailbox set the
// scan needs no keyword, even on a server that has them.
func TestIntakeMoveModeSendsNoKeyword(t *testing.T) {
	ts := newTestServer(t, capsMove, false)
	for i := range 3 {
		ts.append(t, "INBOX", testMessage(i), time.Now())
	}
	o := testOptions(t, ts)
	o.ProcessedMailbox = "Done"
	rec := newRecorder()
	startIntake(t, o, rec.handle)
	rec.wait(t, 3)
	waitFor(t, "3 in Done", func() bool { return len(ts.messages(t, "Done")) == 3 })
	if n := ts.keywordCmds.Load(); n != 0 {
		t.Errorf("%d commands named a keyword, want 0", n)
	}
}

// TestIntakeReportsARepeatedScanFailure: a mailbox the server refuses to
// select twice in a row is reported with the server's answer, and the
// report is withdrawn once a scan works.
func TestIntakeReportsARepeatedScanFailure(t *testing.T) {
	ts := newTestServer(t, capsMove, false)
	var failures scanFailures
	o := testOptions(t, ts)
	o.Mailbox = "Reports"
	o.OnScanFailure = failures.record
	ri := startIntake(t, o, newRecorder().handle)
	waitFor(t, "a reported failure", func() bool { return len(failures.get()) == 1 })
	if err := failures.get()[0]; err == nil || !strings.Contains(err.Error(), "select Reports") {
		t.Fatalf("OnScanFailure(%v), want the refused SELECT", err)
	}
	if err := ts.user.Create("Reports", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure withdrawn", func() bool { return len(failures.get()) == 2 })
	if err := failures.get()[1]; err != nil {
		t.Errorf("OnScanFailure(%v) after the fix, want nil", err)
	}
	if ri.LastPoll().IsZero() {
		t.Error("no scan completed")
	}
}

// expungeAsOtherClient removes uid from INBOX over a second connection, as
// a second daemon moving it away would.
func expungeAsOtherClient(t *testing.T, ts *testServer, uid uint32) {
	t.Helper()
	setDeleted(t, ts, uid)
	c, err := imapclient.DialInsecure(ts.address(), nil)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Error(err)
		return
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Error(err)
		return
	}
	if err := c.Expunge().Close(); err != nil {
		t.Error(err)
	}
}

// TestIntakeNoticesASecondProcessor is issue 12 §4: a message that another
// client takes between our FETCH and our marking is reported, in every
// marking mode.
func TestIntakeNoticesASecondProcessor(t *testing.T) {
	for _, tt := range []struct {
		name      string
		caps      imap.CapSet
		processed string
	}{
		{"move", capsMove, "Done"},
		{"copy and uid expunge", capsUIDPlus, "Done"},
		{"flags", capsRev1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.caps, false)
			for i := range 3 {
				ts.append(t, "INBOX", testMessage(i), time.Now())
			}
			var mu sync.Mutex
			var reported []int
			o := testOptions(t, ts)
			o.ProcessedMailbox = tt.processed
			o.OnForeignChange = func(n int) { mu.Lock(); reported = append(reported, n); mu.Unlock() }
			rec := newRecorder()
			rec.fail = func(call int) error {
				if call == 1 {
					expungeAsOtherClient(t, ts, ts.messages(t, "INBOX")[0].uid)
				}
				return nil
			}
			startIntake(t, o, rec.handle)
			rec.wait(t, 3)
			waitFor(t, "the report", func() bool { mu.Lock(); defer mu.Unlock(); return len(reported) > 0 })
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(reported) != "[1]" {
				t.Errorf("reported %v, want [1]", reported)
			}
		})
	}
}
