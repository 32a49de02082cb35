package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpSink is an in-process SMTP server that records mail and injects
// errors.
type smtpSink struct {
	t           *testing.T
	requireAuth bool
	tlsMode     string
	tlsConfig   *tls.Config
	clientTLS   *tls.Config

	mu       sync.Mutex
	addr     string
	srv      *smtp.Server
	sessions int // TCP connections accepted
	mails    []sinkMail
	rcptErr  map[string]error // by recipient
	dataErr  error
	dataHold chan struct{} // if set, DATA signals inData, then waits for it to close
	inData   chan struct{}
	mailErr  error // if set, MAIL FROM answers with it

	// Authentication: mechs is what EHLO offers (nil: PLAIN); authErr, if
	// set, refuses every AUTH with it; token accepts a bearer token.
	mechs    []string
	authErr  error
	token    func(user, token string) bool
	authUsed []string // mechanisms tried, in order
	badAcks  int      // wrong client answers to a refusal challenge
}

type sinkMail struct {
	from string
	to   []string
	data string
}

func newSMTPSink(t *testing.T, requireAuth bool) *smtpSink {
	t.Helper()
	return newSMTPSinkTLS(t, requireAuth, "none", nil)
}

// newSMTPSinkTLS serves with tlsMode "implicit", "starttls" or "none".
func newSMTPSinkTLS(t *testing.T, requireAuth bool, tlsMode string, cfg *tls.Config) *smtpSink {
	t.Helper()
	s := &smtpSink{t: t, requireAuth: requireAuth, rcptErr: map[string]error{}, tlsMode: tlsMode, tlsConfig: cfg}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *smtpSink) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	s.addr = ln.Addr().String()
	// Count TCP connections, not Sessions: go-smtp starts a new Session
	// after STARTTLS on the same connection.
	ln = &countingListener{Listener: ln, sink: s}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = discardLogger{}
	switch s.tlsMode {
	case "implicit":
		ln = tls.NewListener(ln, s.tlsConfig)
	case "starttls":
		srv.TLSConfig = s.tlsConfig
	}
	s.srv = srv
	go srv.Serve(ln)
}

func (s *smtpSink) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func (s *smtpSink) address() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *smtpSink) snapshot() (sessions int, mails []sinkMail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions, append([]sinkMail(nil), s.mails...)
}

type countingListener struct {
	net.Listener
	sink *smtpSink
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.sink.mu.Lock()
		l.sink.sessions++
		l.sink.mu.Unlock()
	}
	return c, err
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type sinkSession struct {
	sink   *smtpSink
	authed bool
	from   string
	to     []string
}

func (ss *sinkSession) AuthMechanisms() []string {
	ss.sink.mu.Lock()
	defer ss.sink.mu.Unlock()
	if ss.sink.mechs != nil {
		return ss.sink.mechs
	}
	return []string{sasl.Plain}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	sink := ss.sink
	sink.mu.Lock()
	sink.authUsed = append(sink.authUsed, mech)
	authErr, token := sink.authErr, sink.token
	sink.mu.Unlock()
	password := func(username, password string) error {
		if authErr != nil {
			return authErr
		}
		if username != "sender" || password != "secret" {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, pass string) error { return password(username, pass) }), nil
	case sasl.Login:
		return &loginServer{check: password}, nil
	case "XOAUTH2", "OAUTHBEARER":
		ack := []byte{0x01}
		if mech == "XOAUTH2" {
			ack = []byte{}
		}
		return &bearerServer{mech: mech, ack: ack,
			check: func(user, tok string) bool {
				if authErr != nil || token == nil || !token(user, tok) {
					return false
				}
				ss.authed = true
				return true
			},
			refuse: func() error {
				if authErr != nil {
					return authErr
				}
				return smtp.ErrAuthFailed
			},
			badAck: func() { sink.mu.Lock(); sink.badAcks++; sink.mu.Unlock() },
		}, nil
	}
	return nil, &smtp.SMTPError{Code: 504, EnhancedCode: smtp.EnhancedCode{5, 5, 4}, Message: "unrecognized authentication type"}
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.sink.mu.Lock()
	merr := ss.sink.mailErr
	ss.sink.mu.Unlock()
	if merr != nil {
		return merr
	}
	if ss.sink.requireAuth && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.sink.mu.Lock()
	err := ss.sink.rcptErr[to]
	ss.sink.mu.Unlock()
	if err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.sink.mu.Lock()
	hold, derr := ss.sink.dataHold, ss.sink.dataErr
	ss.sink.mu.Unlock()
	if hold != nil {
		ss.sink.inData <- struct{}{}
		<-hold
	}
	if derr != nil {
		return derr
	}
	ss.sink.mu.Lock()
	ss.sink.mails = append(ss.sink.mails, sinkMail{from: ss.from, to: ss.to, data: string(b)})
	ss.sink.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func testMail(i int) []byte {
	return fmt.Appendf(nil, "From: security@example.net\r\nTo: reporter@example.org\r\n"+
		"Subject: reply %d\r\n\r\n.leading dot %d\r\n", i, i)
}

func newTestSender(t *testing.T, sink *smtpSink, user, pass string) *Sender {
	s := NewSender(SMTPOptions{
		Address:   sink.address(),
		TLS:       sink.tlsMode,
		TLSConfig: sink.clientTLS,
		Username:  user,
		Password:  pass,
		HelloName: "disclosured.test",
		Timeout:   5 * time.Second,
	}, testLogger(t))
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSenderReusesOneConnection(t *testing.T) {
	tests := []struct {
		name        string
		requireAuth bool
		user, pass  string
	}{
		{name: "no auth"},
		{name: "auth plain", requireAuth: true, user: "sender", pass: "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newSMTPSink(t, tt.requireAuth)
			s := newTestSender(t, sink, tt.user, tt.pass)
			for i := range 3 {
				if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			sessions, mails := sink.snapshot()
			if sessions != 1 {
				t.Errorf("%d connections, want 1", sessions)
			}
			if len(mails) != 3 {
				t.Fatalf("%d mails received, want 3", len(mails))
			}
			for i, m := range mails {
				if m.data != string(testMail(i)) || m.from != "security@example.net" ||
					len(m.to) != 1 || m.to[0] != "reporter@example.org" {
					t.Errorf("mail %d = %+v", i, m)
				}
			}
		})
	}
}

// TestSenderAuthFailureIsALoginError: a wrong password is our outage, not
// the message's fault: never permanent, reported to OnLogin, and the mail
// goes out once the password is right.
func TestSenderAuthFailureIsALoginError(t *testing.T) {
	sink := newSMTPSink(t, true)
	var logins []error
	s := NewSender(SMTPOptions{
		Address: sink.address(), TLS: "none", Username: "sender", Password: "wrong",
		Timeout: 5 * time.Second, OnLogin: func(err error) { logins = append(logins, err) },
	}, testLogger(t))
	err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(0))
	if err == nil || IsPermanent(err) || !IsLoginError(err) {
		t.Fatalf("Send = %v, want a temporary *LoginError", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}
	if len(logins) != 1 || !IsLoginError(logins[0]) {
		t.Fatalf("OnLogin calls %v, want one *LoginError", logins)
	}
	s.o.Password = "secret"
	if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(0)); err != nil {
		t.Fatalf("send after the fix: %v", err)
	}
	if len(logins) != 2 || logins[1] != nil {
		t.Errorf("OnLogin calls %v, want the refusal then nil", logins)
	}
	if _, mails := sink.snapshot(); len(mails) != 1 {
		t.Errorf("%d mails, want 1", len(mails))
	}
}

func TestSenderErrors(t *testing.T) {
	tests := []struct {
		name      string
		rcptErr   error
		dataErr   error
		permanent bool
	}{
		{name: "rcpt 450", rcptErr: &smtp.SMTPError{Code: 450, Message: "mailbox busy"}},
		{name: "rcpt 550", rcptErr: &smtp.SMTPError{Code: 550, Message: "no such user"}, permanent: true},
		{name: "data 451", dataErr: &smtp.SMTPError{Code: 451, Message: "try later"}},
		{name: "data 554", dataErr: &smtp.SMTPError{Code: 554, Message: "rejected"}, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newSMTPSink(t, false)
			sink.rcptErr["bad@example.org"] = tt.rcptErr
			sink.dataErr = tt.dataErr
			s := newTestSender(t, sink, "", "")

			err := s.Send(t.Context(), "security@example.net", []string{"bad@example.org"}, testMail(0))
			if err == nil {
				t.Fatal("Send succeeded, want error")
			}
			if got := IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}

			// The transaction was reset; the same connection still works.
			sink.mu.Lock()
			sink.dataErr = nil
			sink.mu.Unlock()
			if err := s.Send(t.Context(), "security@example.net", []string{"ok@example.org"}, testMail(1)); err != nil {
				t.Fatalf("send after error: %v", err)
			}
			sessions, mails := sink.snapshot()
			if sessions != 1 || len(mails) != 1 || mails[0].to[0] != "ok@example.org" {
				t.Errorf("sessions %d, mails %+v; want 1 session and the second mail", sessions, mails)
			}
		})
	}
}

func TestSenderRedialsAfterServerRestart(t *testing.T) {
	sink := newSMTPSink(t, false)
	s := newTestSender(t, sink, "", "")
	send := func(i int) error {
		return s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(i))
	}
	if err := send(0); err != nil {
		t.Fatal(err)
	}
	sink.stop()
	sink.start()
	if err := send(1); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	sessions, mails := sink.snapshot()
	if sessions != 2 || len(mails) != 2 {
		t.Errorf("sessions %d mails %d, want 2 and 2", sessions, len(mails))
	}

	// With the server down, Send fails temporarily and later recovers.
	sink.stop()
	if err := send(2); err == nil || IsPermanent(err) {
		t.Errorf("send with server down = %v, want temporary error", err)
	}
	sink.start()
	if err := send(3); err != nil {
		t.Fatalf("send after second restart: %v", err)
	}
}

func TestSenderContextCancel(t *testing.T) {
	sink := newSMTPSink(t, false)
	hold := make(chan struct{})
	sink.dataHold = hold
	sink.inData = make(chan struct{}, 1)
	s := newTestSender(t, sink, "", "")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Send(ctx, "security@example.net", []string{"reporter@example.org"}, testMail(0))
	}()
	// Once the server holds DATA, cancelling must not wait for it.
	select {
	case <-sink.inData:
	case <-time.After(waitTimeout):
		t.Fatal("server never got DATA")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Send did not return after cancel")
	}
	sink.mu.Lock()
	sink.dataHold = nil
	sink.mu.Unlock()
	close(hold)

	if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(1)); err != nil {
		t.Fatalf("send after cancel: %v", err)
	}
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("dial tcp: connection refused"), false},
		{&smtp.SMTPError{Code: 421}, false},
		{&smtp.SMTPError{Code: 452}, false},
		{&smtp.SMTPError{Code: 550}, true},
		{fmt.Errorf("rcpt to x: %w", &smtp.SMTPError{Code: 554}), true},
		{context.DeadlineExceeded, false},
		{errors.New("mail from: smtp: server does not support SMTPUTF8"), true},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestSenderTLSModes(t *testing.T) {
	serverCfg, clientCfg := testTLSConfigs(t)
	for _, mode := range []string{"implicit", "starttls", "none"} {
		t.Run(mode, func(t *testing.T) {
			sink := newSMTPSinkTLS(t, true, mode, serverCfg)
			sink.clientTLS = clientCfg
			s := newTestSender(t, sink, "sender", "secret")
			for i := range 2 {
				if err := s.Send(t.Context(), "security@example.net", []string{"reporter@example.org"}, testMail(i)); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			if sessions, mails := sink.snapshot(); sessions != 1 || len(mails) != 2 {
				t.Errorf("sessions %d mails %d, want 1 and 2", sessions, len(mails))
			}
		})
	}
}

// TestSendAfterHoldsTheEndOfData: the server has not taken the message when
// ready runs, takes it once ready succeeds, and never gets it when ready
// fails; the next send then works on a new connection.
func TestSendAfterHoldsTheEndOfData(t *testing.T) {
	sink := newSMTPSink(t, false)
	s := newTestSender(t, sink, "", "")
	to := []string{"reporter@example.org"}

	calls := 0
	err := s.SendAfter(t.Context(), "security@example.net", to, testMail(0), func() error {
		calls++
		if _, mails := sink.snapshot(); len(mails) != 0 {
			t.Errorf("the server had %d mails before ready returned", len(mails))
		}
		return nil
	})
	if _, mails := sink.snapshot(); err != nil || calls != 1 || len(mails) != 1 {
		t.Fatalf("ready called %d times, err %v, %d mails; want 1, nil, 1", calls, err, len(mails))
	}

	commitFailed := errors.New("commit failed")
	err = s.SendAfter(t.Context(), "security@example.net", to, testMail(1), func() error { return commitFailed })
	if !errors.Is(err, commitFailed) {
		t.Fatalf("send with a failing ready: %v, want the ready error", err)
	}
	if err := s.Send(t.Context(), "security@example.net", to, testMail(2)); err != nil {
		t.Fatalf("send after the abandoned one: %v", err)
	}
	sessions, mails := sink.snapshot()
	if sessions != 2 || len(mails) != 2 || mails[1].data != string(testMail(2)) {
		t.Errorf("%d sessions, %d mails (%+v); want 2 and 2, without the abandoned mail", sessions, len(mails), mails)
	}
}

// TestSenderPartialRecipients: refused recipients are left out, the others
// get the message, and the error says which were refused and how.
func TestSenderPartialRecipients(t *testing.T) {
	sink := newSMTPSink(t, false)
	sink.rcptErr["nobody@example.org"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}
	sink.rcptErr["full@example.org"] = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
	s := newTestSender(t, sink, "", "")
	err := s.Send(t.Context(), "security@example.net", []string{"a@example.org", "nobody@example.org", "full@example.org", "b@example.org"}, testMail(0))
	var re *RecipientError
	if !errors.As(err, &re) {
		t.Fatalf("Send = %v, want a *RecipientError", err)
	}
	if fmt.Sprint(re.Accepted) != "[a@example.org b@example.org]" || len(re.Refused) != 2 ||
		re.Refused[0].Addr != "nobody@example.org" || !IsPermanent(re.Refused[0].Err) ||
		re.Refused[1].Addr != "full@example.org" || IsPermanent(re.Refused[1].Err) {
		t.Errorf("accepted %v, refused %+v", re.Accepted, re.Refused)
	}
	if IsPermanent(err) {
		t.Error("a partly delivered mail counts as permanent")
	}
	_, mails := sink.snapshot()
	if len(mails) != 1 || fmt.Sprint(mails[0].to) != "[a@example.org b@example.org]" {
		t.Fatalf("mails %+v, want one to a and b", mails)
	}

	// All refused, permanently: permanent, nothing sent.
	err = s.Send(t.Context(), "security@example.net", []string{"nobody@example.org"}, testMail(1))
	if !errors.As(err, &re) || len(re.Accepted) != 0 || !IsPermanent(err) {
		t.Errorf("Send to a refused recipient = %v, want a permanent *RecipientError", err)
	}
	// All refused, one only for now: temporary.
	err = s.Send(t.Context(), "security@example.net", []string{"nobody@example.org", "full@example.org"}, testMail(2))
	if err == nil || IsPermanent(err) {
		t.Errorf("Send = %v, want a temporary error", err)
	}
	if sessions, mails := sink.snapshot(); sessions != 1 || len(mails) != 1 {
		t.Errorf("%d sessions, %d mails; want 1 and 1", sessions, len(mails))
	}
}
