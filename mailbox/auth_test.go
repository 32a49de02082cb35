package mailbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// tokenSource is a TokenFunc that records how it was called: it hands out
// cached until asked for a fresh token, then fresh.
type tokenSource struct {
	mu     sync.Mutex
	cached string
	fresh  string
	err    error
	calls  []bool
}

func (s *tokenSource) get(_ context.Context, fresh bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fresh)
	if s.err != nil {
		return "", s.err
	}
	if fresh {
		s.cached = s.fresh
	}
	return s.cached, nil
}

func (s *tokenSource) called() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.calls...)
}

// loginLog records OnLogin calls.
type loginLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *loginLog) record(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *loginLog) get() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func acceptToken(want string) func(user, token string) bool {
	return func(user, token string) bool { return user == testUser && token == want }
}

func TestIntakePasswordMechanism(t *testing.T) {
	tests := []struct {
		name     string
		capsLine string // "" keeps imapserver's list, which has AUTH=PLAIN
		want     string
	}{
		{name: "auth=plain advertised", want: "PLAIN"},
		{name: "no sasl", capsLine: "IMAP4rev1 IDLE", want: "LOGIN"},
		{name: "logindisabled", capsLine: "IMAP4rev1 LOGINDISABLED IDLE", want: "PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServerWith(t, capsMove, func(ts *testServer) {
				ts.mechs = []string{"PLAIN"}
				ts.capsLine = tt.capsLine
			})
			ts.append(t, "INBOX", testMessage(1), time.Now())
			rec := newRecorder()
			var logins loginLog
			o := testOptions(t, ts)
			o.OnLogin = logins.record
			startIntake(t, o, rec.handle)
			rec.wait(t, 1)
			other := map[string]string{"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[tt.want]
			if ts.authCount(tt.want) != 1 || ts.authCount(other) != 0 {
				t.Errorf("%s used %d times, %s %d times; want 1 and 0", tt.want, ts.authCount(tt.want), other, ts.authCount(other))
			}
			if got := logins.get(); len(got) != 1 || got[0] != nil {
				t.Errorf("OnLogin calls %v, want [nil]", got)
			}
		})
	}
}

func TestIntakeTokenLogin(t *testing.T) {
	for _, mech := range []string{MechXOAUTH2, MechOAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			ts := newTestServerWith(t, capsMove, func(ts *testServer) {
				ts.mechs = []string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}
				ts.noLogin = true
				ts.token = acceptToken("good")
			})
			ts.append(t, "INBOX", testMessage(1), time.Now())
			src := &tokenSource{cached: "good"}
			var logins loginLog
			o := testOptions(t, ts)
			o.Password = ""
			o.Token, o.Mechanism, o.OnLogin = src.get, mech, logins.record
			r := newRecorder()
			startIntake(t, o, r.handle)
			r.wait(t, 1)
			if got := src.called(); len(got) != 1 || got[0] {
				t.Errorf("token calls (fresh?) %v, want [false]", got)
			}
			if n := ts.authCount(strings.ToUpper(mech)); n != 1 {
				t.Errorf("%s used %d times, want 1", mech, n)
			}
			if got := logins.get(); len(got) != 1 || got[0] != nil {
				t.Errorf("OnLogin calls %v, want [nil]", got)
			}
		})
	}
}

// TestIntakeRefusedTokenIsFetchedAfresh: a stale cached token costs one
// refusal, answered so the server ends the exchange with NO (not BAD and
// a disconnect), then a fresh token logs in on the same connection.
func TestIntakeRefusedTokenIsFetchedAfresh(t *testing.T) {
	for _, mech := range []string{MechXOAUTH2, MechOAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			ts := newTestServerWith(t, capsMove, func(ts *testServer) {
				ts.mechs = []string{"XOAUTH2", "OAUTHBEARER"}
				ts.noLogin = true
				ts.token = acceptToken("new")
			})
			ts.append(t, "INBOX", testMessage(1), time.Now())
			src := &tokenSource{cached: "old", fresh: "new"}
			var logins loginLog
			o := testOptions(t, ts)
			o.Token, o.Mechanism, o.OnLogin = src.get, mech, logins.record
			r := newRecorder()
			ri := startIntake(t, o, r.handle)
			r.wait(t, 1)
			if got := src.called(); fmt.Sprint(got) != "[false true]" {
				t.Errorf("token calls (fresh?) %v, want [false true]", got)
			}
			if n := ts.badAcks.Load(); n != 0 {
				t.Errorf("%d wrong answers to the error challenge", n)
			}
			if got := logins.get(); len(got) != 1 || got[0] != nil {
				t.Errorf("OnLogin calls %v, want [nil]: a refresh that works is no outage", got)
			}
			ts.mu.Lock()
			conns := len(ts.conns)
			ts.mu.Unlock()
			if conns != 1 {
				t.Errorf("%d connections, want 1", conns)
			}
			ri.stop(t)
		})
	}
}

// TestIntakeRefusedLoginIsALoginError: a token the server keeps refusing is
// reported as a *LoginError after each login, retried with fresh tokens and
// backoff, and the mail comes in once the token is good.
func TestIntakeRefusedLoginIsALoginError(t *testing.T) {
	ts := newTestServerWith(t, capsMove, func(ts *testServer) {
		ts.mechs = []string{"XOAUTH2"}
		ts.noLogin = true
		ts.token = acceptToken("valid")
	})
	ts.append(t, "INBOX", testMessage(1), time.Now())
	src := &tokenSource{cached: "revoked", fresh: "revoked"}
	var logins loginLog
	o := testOptions(t, ts)
	o.Token, o.OnLogin = src.get, logins.record
	r := newRecorder()
	startIntake(t, o, r.handle)
	waitFor(t, "two refused logins", func() bool { return len(logins.get()) >= 2 })
	for i, err := range logins.get() {
		var le *LoginError
		if !errors.As(err, &le) || le.Service != "imap" {
			t.Fatalf("OnLogin call %d: %v, want an imap *LoginError", i, err)
		}
		if !strings.Contains(err.Error(), "AUTHENTICATE failed") || !strings.Contains(err.Error(), "status 401") {
			t.Errorf("login error %q lacks the server's answer", err)
		}
	}
	calls := src.called()
	if len(calls) < 3 || calls[0] || !calls[1] || !calls[2] {
		t.Errorf("token calls (fresh?) %v, want false, then only true while refused", calls)
	}
	if n := ts.badAcks.Load(); n != 0 {
		t.Errorf("%d wrong answers to the error challenge", n)
	}
	if n := r.calls; n != 0 {
		t.Fatalf("handler called %d times before login", n)
	}
	src.mu.Lock()
	src.fresh = "valid"
	src.mu.Unlock()
	r.wait(t, 1)
	got := logins.get()
	if got[len(got)-1] != nil {
		t.Errorf("last OnLogin call %v, want nil after the fix", got[len(got)-1])
	}
}

func TestIntakeTokenSourceFailureIsALoginError(t *testing.T) {
	ts := newTestServerWith(t, capsMove, func(ts *testServer) {
		ts.mechs = []string{"XOAUTH2"}
		ts.noLogin = true
	})
	src := &tokenSource{err: errors.New("token endpoint answered 401 invalid_client (check oauth2.client_secret)")}
	var logins loginLog
	o := testOptions(t, ts)
	o.Token, o.OnLogin = src.get, logins.record
	startIntake(t, o, newRecorder().handle)
	waitFor(t, "a refused login", func() bool { return len(logins.get()) >= 1 })
	err := logins.get()[0]
	if !IsLoginError(err) || !strings.Contains(err.Error(), "oauth2.client_secret") {
		t.Errorf("OnLogin(%v), want a *LoginError with the token source's error", err)
	}
	if n := ts.authCount("XOAUTH2"); n != 0 {
		t.Errorf("AUTHENTICATE sent %d times without a token", n)
	}
}

func TestSenderPasswordMechanism(t *testing.T) {
	tests := []struct {
		mechs []string
		want  string
	}{
		{[]string{sasl.Plain, sasl.Login}, sasl.Plain},
		{[]string{sasl.Login, sasl.Plain}, sasl.Plain},
		{[]string{sasl.Login, "XOAUTH2"}, sasl.Login},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.mechs, " "), func(t *testing.T) {
			sink := newSMTPSink(t, true)
			sink.mechs = tt.mechs
			s := newTestSender(t, sink, "sender", "secret")
			if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(0)); err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if fmt.Sprint(sink.authUsed) != "["+tt.want+"]" {
				t.Errorf("mechanisms tried %v, want [%s]", sink.authUsed, tt.want)
			}
		})
	}
}

func TestSenderTokenLogin(t *testing.T) {
	for _, mech := range []string{MechXOAUTH2, MechOAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			sink := newSMTPSink(t, true)
			sink.mechs = []string{sasl.Login, "XOAUTH2", "OAUTHBEARER"}
			sink.token = func(user, tok string) bool { return user == "sender" && tok == "new" }
			src := &tokenSource{cached: "old", fresh: "new"}
			var logins loginLog
			s := NewSender(SMTPOptions{Address: sink.address(), TLS: "none", Username: "sender",
				Token: src.get, Mechanism: mech, OnLogin: logins.record, Timeout: 5 * time.Second}, testLogger(t))
			t.Cleanup(func() { s.Close() })
			for i := range 2 {
				if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if got := src.called(); fmt.Sprint(got) != "[false true]" {
				t.Errorf("token calls (fresh?) %v, want [false true]", got)
			}
			sink.mu.Lock()
			used, bad := fmt.Sprint(sink.authUsed), sink.badAcks
			sink.mu.Unlock()
			if m := strings.ToUpper(mech); used != "["+m+" "+m+"]" {
				t.Errorf("mechanisms tried %s, want %s twice on one connection", used, m)
			}
			if bad != 0 {
				t.Errorf("%d wrong answers to the error challenge", bad)
			}
			if sessions, mails := sink.snapshot(); sessions != 1 || len(mails) != 2 {
				t.Errorf("%d sessions, %d mails; want 1 and 2", sessions, len(mails))
			}
			if got := logins.get(); len(got) != 1 || got[0] != nil {
				t.Errorf("OnLogin calls %v, want [nil]", got)
			}
		})
	}
}

// TestSenderLoginRefusals: every refusal of our login, at AUTH or as a
// policy refusal of our own MAIL FROM, is a temporary *LoginError; only a
// refused recipient or message is permanent.
func TestSenderLoginRefusals(t *testing.T) {
	e := func(code int, a, b, c int, msg string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{a, b, c}, Message: msg}
	}
	tests := []struct {
		name             string
		authErr, mailErr error
		rcptErr, dataErr error
		login, permanent bool
	}{
		{name: "auth 535 5.7.8", authErr: e(535, 5, 7, 8, "Error: authentication failed"), login: true},
		{name: "auth 535 5.7.139 exchange", authErr: e(535, 5, 7, 139, "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."), login: true},
		{name: "auth 534 5.7.9", authErr: e(534, 5, 7, 9, "Please log in with your web browser"), login: true},
		{name: "auth 530 5.7.0", authErr: e(530, 5, 7, 0, "Must issue a STARTTLS command first"), login: true},
		{name: "auth 550 5.7.30", authErr: e(550, 5, 7, 30, "Basic authentication is not supported for Client Submission."), login: true},
		{name: "auth 504 5.7.4", authErr: e(504, 5, 7, 4, "Unrecognized authentication type"), login: true},
		{name: "auth 454 4.7.0", authErr: e(454, 4, 7, 0, "Temporary authentication failure"), login: true},
		{name: "mail 530 5.7.57", mailErr: e(530, 5, 7, 57, "Client not authenticated to send mail."), login: true},
		{name: "mail 550 5.7.60", mailErr: e(550, 5, 7, 60, "Client does not have permissions to send as this sender."), login: true},
		{name: "rcpt 550 5.1.1", rcptErr: e(550, 5, 1, 1, "User unknown"), permanent: true},
		{name: "rcpt 550 5.7.1", rcptErr: e(550, 5, 7, 1, "Recipient address rejected: Access denied"), permanent: true},
		{name: "rcpt 530 5.7.57", rcptErr: e(530, 5, 7, 57, "Client not authenticated"), login: true},
		{name: "data 554 5.7.1", dataErr: e(554, 5, 7, 1, "Message rejected as spam"), permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newSMTPSink(t, false)
			sink.authErr, sink.mailErr, sink.dataErr = tt.authErr, tt.mailErr, tt.dataErr
			sink.rcptErr["reporter@example.org"] = tt.rcptErr
			var logins loginLog
			s := NewSender(SMTPOptions{Address: sink.address(), TLS: "none", Username: "sender", Password: "secret",
				OnLogin: logins.record, Timeout: 5 * time.Second}, testLogger(t))
			t.Cleanup(func() { s.Close() })
			err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(0))
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if IsLoginError(err) != tt.login || IsPermanent(err) != tt.permanent {
				t.Errorf("Send = %v: login error %v, permanent %v; want %v, %v", err, IsLoginError(err), IsPermanent(err), tt.login, tt.permanent)
			}
			got := logins.get()
			if last := got[len(got)-1]; IsLoginError(last) != tt.login {
				t.Errorf("last OnLogin call %v, want a login error: %v", last, tt.login)
			}

			// Fixed on the server: the same sender sends, and says so.
			sink.mu.Lock()
			sink.authErr, sink.mailErr, sink.dataErr = nil, nil, nil
			delete(sink.rcptErr, "reporter@example.org")
			sink.mu.Unlock()
			if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(1)); err != nil {
				t.Fatalf("send after the fix: %v", err)
			}
			if got := logins.get(); tt.login && got[len(got)-1] != nil {
				t.Errorf("OnLogin calls %v, want nil last after the fix", got)
			}
		})
	}
}
