package devmail

import (
	"bytes"
	"context"
	"errors"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const pw = "secret"

type received struct {
	from string
	to   []string
	raw  []byte
}

// start runs a System with three users and a catch-all when catchAll is
// true; it records OnMessage calls.
func start(t *testing.T, catchAll bool) (*System, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	o := Options{
		Users: []User{
			{Address: "security@example.test", Password: pw},
			{Address: "Reporter@Example.org", Password: pw},
			{Address: "catchall@example.test", Password: pw},
		},
		OnMessage: func(from string, to []string, raw []byte) {
			mu.Lock()
			got = append(got, received{from, to, raw})
			mu.Unlock()
		},
	}
	if catchAll {
		o.CatchAll = "catchall@example.test"
	}
	s, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func msg(subject string) []byte {
	return []byte("From: reporter@example.org\r\nTo: security@example.test\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.org>\r\n\r\nbody of " + subject + "\r\n")
}

// imapLogin dials the IMAP side the way the daemon would.
func imapLogin(t *testing.T, s *System, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func TestSMTPToIMAP(t *testing.T) {
	s, onMsg := start(t, false)
	raw := msg("hello one")
	auth := smtp.PlainAuth("", "security@example.test", pw, "127.0.0.1")
	if err := smtp.SendMail(s.SMTPAddr(), auth, "security@example.test", []string{"reporter@example.org"}, raw); err != nil {
		t.Fatalf("send with auth: %v", err)
	}
	// Without AUTH too: devmail is also the MTA reporters send to.
	if err := smtp.SendMail(s.SMTPAddr(), nil, "reporter@example.org", []string{"SECURITY@example.test"}, msg("hello two")); err != nil {
		t.Fatalf("send without auth: %v", err)
	}

	c := imapLogin(t, s, "reporter@example.org")
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 1 {
		t.Fatalf("reporter INBOX has %d messages, want 1", sel.NumMessages)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := bufs[0].FindBodySection(section)
	if !bytes.HasPrefix(got, []byte("Return-Path: <security@example.test>\r\nReceived: from ")) {
		t.Errorf("stored message lacks trace fields:\n%s", got)
	}
	if !bytes.Contains(got, []byte("for <reporter@example.org>;")) || !bytes.HasSuffix(got, raw) {
		t.Errorf("stored message = %q, want trace fields + %q", got, raw)
	}

	msgs, err := s.Messages("security@example.test", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !bytes.Contains(msgs[0], []byte("Subject: hello two")) {
		t.Errorf("security INBOX = %q, want the second message", msgs)
	}

	calls := onMsg()
	if len(calls) != 2 {
		t.Fatalf("OnMessage called %d times, want 2", len(calls))
	}
	if calls[0].from != "security@example.test" || len(calls[0].to) != 1 || calls[0].to[0] != "reporter@example.org" ||
		!bytes.Equal(calls[0].raw, raw) {
		t.Errorf("OnMessage got %+v", calls[0])
	}
}

func TestRecipients(t *testing.T) {
	tests := []struct {
		name     string
		catchAll bool
		rcpt     []string
		wantCode int // 0: accepted
		want     map[string]int
	}{
		{name: "unknown refused", rcpt: []string{"nobody@example.test"}, wantCode: 550,
			want: map[string]int{"security@example.test": 0, "catchall@example.test": 0}},
		{name: "unknown to catch-all", catchAll: true, rcpt: []string{"someone@elsewhere.invalid"},
			want: map[string]int{"catchall@example.test": 1}},
		{name: "two users", rcpt: []string{"security@example.test", "reporter@example.org"},
			want: map[string]int{"security@example.test": 1, "reporter@example.org": 1}},
		{name: "one copy per user", catchAll: true, rcpt: []string{"a@elsewhere.invalid", "b@elsewhere.invalid", "security@example.test"},
			want: map[string]int{"catchall@example.test": 1, "security@example.test": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, onMsg := start(t, tt.catchAll)
			err := smtp.SendMail(s.SMTPAddr(), nil, "x@example.org", tt.rcpt, msg("recipients"))
			var perr *textproto.Error
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("send: %v", err)
			case tt.wantCode != 0 && (!errors.As(err, &perr) || perr.Code != tt.wantCode):
				t.Fatalf("send: err %v, want code %d", err, tt.wantCode)
			}
			for user, n := range tt.want {
				msgs, err := s.Messages(user, "INBOX")
				if err != nil {
					t.Fatal(err)
				}
				if len(msgs) != n {
					t.Errorf("%s has %d messages, want %d", user, len(msgs), n)
				}
			}
			if wantCalls := map[bool]int{true: 0, false: 1}[tt.wantCode != 0]; len(onMsg()) != wantCalls {
				t.Errorf("OnMessage called %d times, want %d", len(onMsg()), wantCalls)
			}
		})
	}
}

func TestAuthWrongPassword(t *testing.T) {
	s, _ := start(t, false)
	auth := smtp.PlainAuth("", "security@example.test", "wrong", "127.0.0.1")
	err := smtp.SendMail(s.SMTPAddr(), auth, "security@example.test", []string{"reporter@example.org"}, msg("x"))
	var perr *textproto.Error
	if !errors.As(err, &perr) || perr.Code != 535 {
		t.Fatalf("send with wrong password: %v, want 535", err)
	}
	c, err := imapclient.DialInsecure(s.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("security@example.test", "wrong").Wait(); err == nil {
		t.Fatal("IMAP login with wrong password succeeded")
	}
}

func TestDeliverInternalDate(t *testing.T) {
	s, onMsg := start(t, false)
	when := time.Date(2024, 2, 29, 13, 14, 15, 0, time.FixedZone("CET", 3600))
	raw := msg("dated")
	if err := s.Deliver("Security@Example.test", raw, when); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver("nobody@example.test", raw, when); err == nil {
		t.Error("Deliver to an unknown user succeeded")
	}

	c := imapLogin(t, s, "security@example.test")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		UID: true, InternalDate: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(bufs) != 1 {
		t.Fatalf("got %d messages, want 1", len(bufs))
	}
	if !bufs[0].InternalDate.Equal(when) {
		t.Errorf("INTERNALDATE = %v, want %v", bufs[0].InternalDate, when)
	}
	if got := bufs[0].FindBodySection(section); !bytes.Equal(got, raw) {
		t.Errorf("body = %q, want exactly %q", got, raw)
	}
	if len(onMsg()) != 0 {
		t.Error("Deliver called OnMessage")
	}
	// Messages peeks: the message stays unseen for the daemon.
	if _, err := s.Messages("security@example.test", "INBOX"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumUnseen: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.NumUnseen == nil || *st.NumUnseen != 1 {
		t.Errorf("unseen = %v, want 1", st.NumUnseen)
	}
}

func TestIMAPCaps(t *testing.T) {
	s, _ := start(t, false)
	c := imapLogin(t, s, "security@example.test")
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{imap.CapIMAP4rev1, imap.CapIdle, imap.CapMove, imap.CapUIDPlus} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing from %v", want, caps)
		}
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(defaultMailboxes) {
		t.Errorf("LIST = %d mailboxes, want %v", len(list), defaultMailboxes)
	}
	if msgs, err := s.Messages("security@example.test", "Trash"); err != nil || len(msgs) != 0 {
		t.Errorf("Messages(Trash) = %d, %v; want empty", len(msgs), err)
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no users", Options{}, "devmail: no users"},
		{"bad address", Options{Users: []User{{Address: "nobody"}}}, `devmail: user address "nobody": want local@domain`},
		{"duplicate", Options{Users: []User{{Address: "a@x"}, {Address: "A@x"}}}, "devmail: user a@x listed twice"},
		{"catch-all unknown", Options{Users: []User{{Address: "a@x"}}, CatchAll: "b@x"}, "devmail: catch-all b@x is not a user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(t.Context(), tt.o)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestCloseStopsServers(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, Options{Users: []User{{Address: "a@example.test", Password: pw}}})
	if err != nil {
		t.Fatal(err)
	}
	// Cancelling the start context starts Close; done is closed by Close
	// only, and the second Close below waits for the first to finish.
	cancel()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the context did not close the system")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if c, err := smtp.Dial(s.SMTPAddr()); err == nil {
		c.Close()
		t.Error("SMTP still accepting after close")
	}
	if _, err := imapclient.DialInsecure(s.IMAPAddr(), nil); err == nil {
		t.Error("IMAP still accepting after close")
	}
}
