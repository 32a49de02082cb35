package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPOptions configures a Sender.
type SMTPOptions struct {
	// Address is host:port of the submission server.
	Address string
	// TLS is "implicit" (port 465), "starttls" (port 587) or "none".
	TLS string
	// TLSConfig is used for "implicit" and "starttls"; nil means the system
	// defaults. ServerName defaults to the host of Address.
	TLSConfig *tls.Config
	// Username and Password authenticate with AUTH PLAIN when Username is
	// set, or with AUTH LOGIN when the server offers LOGIN and not PLAIN.
	// The password is never logged.
	Username, Password string
	// Token, when set, authenticates with SASL Mechanism and a bearer token
	// as Username instead of the password. A refused token is fetched
	// afresh (fresh=true) and tried once more on the same connection.
	Token TokenFunc
	// Mechanism is MechXOAUTH2 (default) or MechOAuthBearer.
	Mechanism string
	// OnLogin, if set, is called after every login: nil on success, a
	// *LoginError when the server refused it or no token could be had. A
	// server that refuses MAIL for want of a login (530, 5.7.x) counts as
	// a refused login too, and the next accepted MAIL as a success. It is
	// called with the Sender's lock held and must not call the Sender.
	OnLogin func(err error)
	// HelloName is the name sent in EHLO; empty means "localhost".
	HelloName string
	// Timeout bounds connecting and each SMTP command, including the reply
	// to the final dot of DATA. Zero keeps go-smtp's RFC 5321 §4.5.3.2
	// defaults (5 and 12 minutes) and a 30s connect timeout.
	Timeout time.Duration
}

// Sender submits mail over one SMTP connection, opened on first use and kept
// for later calls. It is safe for concurrent use; sends are serialised.
type Sender struct {
	o   SMTPOptions
	log *slog.Logger

	mu   sync.Mutex
	c    *smtp.Client // nil when not connected
	conn net.Conn     // c's underlying connection, closed to abort
	// tokenRefused: the last token login was refused, so skip the cache.
	tokenRefused bool
	// mailRefused: the last MAIL was refused as a login failure; the next
	// accepted MAIL reports the login working again.
	mailRefused bool
}

// NewSender returns a Sender. It does no I/O. A nil log discards.
func NewSender(o SMTPOptions, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{o: o, log: log.With("component", "smtp")}
}

// IsPermanent reports whether err carries an SMTP 5xx reply, after which
// retrying the same message cannot help. Everything else, including 4xx
// replies, timeouts and network errors, is temporary.
func IsPermanent(err error) bool {
	if IsLoginError(err) {
		// Our account's outage: the same mail goes out once it is fixed.
		return false
	}
	var re *RecipientError
	if errors.As(err, &re) {
		return re.Permanent()
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code >= 500 && se.Code <= 599
	}
	// An address that needs SMTPUTF8 (RFC 6531) cannot go through a
	// server without it, however often we try.
	return err != nil && (errors.Is(err, ErrBadEnvelope) || strings.Contains(err.Error(), "does not support SMTPUTF8"))
}

// RecipientError is a send in which the server refused some recipients
// (RCPT TO) and took the message for the others, Accepted, or, when
// Accepted is empty, refused them all and nothing was sent.
type RecipientError struct {
	Accepted []string
	Refused  []RefusedRecipient
}

// RefusedRecipient is one recipient the server refused, with its reply.
type RefusedRecipient struct {
	Addr string
	Err  error // an *smtp.SMTPError
}

func (e *RecipientError) Error() string {
	var b strings.Builder
	for i, r := range e.Refused {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "rcpt to %s: %v", r.Addr, r.Err)
	}
	if len(e.Accepted) > 0 {
		fmt.Fprintf(&b, " (sent to the other %d)", len(e.Accepted))
	}
	return b.String()
}

// Unwrap returns the refusals.
func (e *RecipientError) Unwrap() []error {
	out := make([]error, len(e.Refused))
	for i, r := range e.Refused {
		out[i] = r.Err
	}
	return out
}

// Permanent reports whether nothing was sent and every refusal was
// permanent, so that trying the mail again cannot help.
func (e *RecipientError) Permanent() bool {
	if len(e.Accepted) > 0 {
		return false
	}
	for _, r := range e.Refused {
		if !IsPermanent(r.Err) {
			return false
		}
	}
	return true
}

// Send submits raw (CRLF lines) from the envelope sender from to the
// recipients to. Recipients the server refuses are left out and reported
// in a *RecipientError; the message still goes to the others. It reuses the
// cached connection; if that turns out to be dead before anything was
// accepted, it redials once. Cancelling ctx aborts the send and drops the
// connection.
func (s *Sender) Send(ctx context.Context, from string, to []string, raw []byte) error {
	return s.SendAfter(ctx, from, to, raw, nil)
}

// SendAfter is Send, except that it holds back the end of DATA, the moment
// the server takes responsibility for the message, until ready returns. The
// caller can finish other work (committing the previous send's result) while
// the envelope and body travel, without ever having two accepted messages
// unrecorded. If ready fails, the connection is dropped inside DATA, so the
// server discards the message, and SendAfter returns that error. ready may be
// called twice (when a dead cached connection is redialled) and must return
// the same result each time; a nil ready does not wait.
func (s *Sender) SendAfter(ctx context.Context, from string, to []string, raw []byte, ready func() error) error {
	if len(to) == 0 {
		return errors.New("send: no recipients")
	}
	// Never hand SMTP a path that could carry parameters (issue 11).
	for _, a := range append([]string{from}, to...) {
		if err := CheckEnvelopeAddress(a); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send: %w", err)
	}

	reused := s.c != nil
	stale, err := s.sendOnce(ctx, from, to, raw, ready)
	if err != nil && reused && stale && ctx.Err() == nil {
		// The server dropped the idle connection (or said 421 on MAIL):
		// nothing of this message was accepted, so a retry cannot duplicate.
		s.log.Debug("cached smtp connection was dead; redialling", "err", err)
		_, err = s.sendOnce(ctx, from, to, raw, ready)
	}
	return err
}

// Close quits and closes the cached connection, if any. A later Send dials
// again.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c, s.conn = nil, nil
	if err := c.Quit(); err != nil {
		c.Close()
		return fmt.Errorf("smtp quit: %w", err)
	}
	return nil
}

// phase is how far a transaction got.
type phase int

const (
	phaseMail phase = iota
	phaseRcpt
	phaseData
)

// sendOnce sends over the cached connection, dialling if there is none.
// stale reports a failure on MAIL FROM that suggests a dead connection rather
// than a refusal of this message.
func (s *Sender) sendOnce(ctx context.Context, from string, to []string, raw []byte, ready func() error) (stale bool, err error) {
	if s.c == nil {
		if err := s.connect(ctx); err != nil {
			return false, fmt.Errorf("connect to %s: %w", s.o.Address, err)
		}
	}
	c, conn := s.c, s.conn
	stop := context.AfterFunc(ctx, func() {
		defer recoverLog(s.log, "smtp cancel")
		conn.Close()
	})
	ph, err := transact(c, from, to, raw, ready)
	if lerr := smtpMailLoginError(ph, err); lerr != nil {
		err = lerr
		s.mailRefused = true
		s.onLogin(lerr)
	} else if s.mailRefused && (err == nil || ph > phaseMail) {
		s.mailRefused = false
		s.onLogin(nil)
	}
	if !stop() {
		// ctx was cancelled and the connection closed under us.
		s.drop()
		var re *RecipientError
		if err == nil {
			// The server accepted the message before the close landed.
			return false, nil
		}
		if errors.As(err, &re) && len(re.Accepted) > 0 {
			return false, err // accepted for some, also before the close
		}
		return false, fmt.Errorf("send: %w", ctx.Err())
	}
	if err == nil {
		return false, nil
	}

	var se *smtp.SMTPError
	isSMTP := errors.As(err, &se)
	switch {
	case isSMTP && se.Code != 421:
		// A refusal of this message; the connection is fine once the
		// transaction is reset (RFC 5321 §4.1.1.5).
		if rerr := c.Reset(); rerr != nil {
			s.drop()
		}
	default:
		// Network error or 421 "closing channel": the connection is gone.
		s.drop()
	}
	return ph == phaseMail && (!isSMTP || se.Code == 421), err
}

// transact runs MAIL, RCPT and DATA, like smtp.Client.SendMail, and reports
// how far it got. It waits for ready, if set, before it ends DATA.
func transact(c *smtp.Client, from string, to []string, raw []byte, ready func() error) (phase, error) {
	var opts *smtp.MailOptions
	if !isASCII(from) || !allASCII(to) {
		opts = &smtp.MailOptions{UTF8: true} // RFC 6531 SMTPUTF8
	}
	if err := c.Mail(from, opts); err != nil {
		return phaseMail, fmt.Errorf("mail from: %w", err)
	}
	var rerr RecipientError
	for _, rcpt := range to {
		err := c.Rcpt(rcpt, nil)
		var se *smtp.SMTPError
		switch {
		case err == nil:
			rerr.Accepted = append(rerr.Accepted, rcpt)
		case !errors.As(err, &se) || smtpMailLoginError(phaseRcpt, err) != nil:
			// The connection broke, or the server wants a login: not a
			// verdict on this recipient.
			return phaseRcpt, fmt.Errorf("rcpt to %s: %w", rcpt, err)
		default:
			rerr.Refused = append(rerr.Refused, RefusedRecipient{Addr: rcpt, Err: err})
		}
	}
	if len(rerr.Accepted) == 0 {
		return phaseRcpt, &rerr
	}
	w, err := c.Data()
	if err != nil {
		return phaseData, fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return phaseData, fmt.Errorf("write data: %w", err)
	}
	if ready != nil {
		if err := ready(); err != nil {
			// Not w.Close: that would send the final dot. The caller
			// drops the connection, which makes the server discard it.
			return phaseData, fmt.Errorf("held before the end of data: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return phaseData, fmt.Errorf("end data: %w", err)
	}
	if len(rerr.Refused) > 0 {
		return phaseData, &rerr
	}
	return phaseData, nil
}

// connect dials per the TLS mode, says EHLO and authenticates. It does what
// smtp.DialTLS, DialStartTLS and Dial do, but through DialContext and under
// Timeout, so a hung server or a cancelled ctx cannot block it.
func (s *Sender) connect(ctx context.Context) error {
	timeout := s.o.Timeout
	if timeout <= 0 {
		timeout = dialTimeout
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: tcpKeepAlive}
	cfg := tlsConfigFor(s.o.TLSConfig, s.o.Address)

	var (
		conn net.Conn
		err  error
	)
	switch s.o.TLS {
	case "implicit":
		conn, err = (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", s.o.Address)
	case "starttls", "none", "":
		conn, err = d.DialContext(ctx, "tcp", s.o.Address)
	default:
		return fmt.Errorf("unknown tls mode %q (want implicit, starttls or none)", s.o.TLS)
	}
	if err != nil {
		return err
	}

	// The greeting, STARTTLS, EHLO and AUTH must finish within Timeout.
	stopCancel := context.AfterFunc(ctx, func() {
		defer recoverLog(s.log, "smtp connect cancel")
		conn.Close()
	})
	defer stopCancel()
	timer := time.AfterFunc(timeout, func() {
		defer recoverLog(s.log, "smtp connect timeout")
		conn.Close()
	})
	defer timer.Stop()

	var c *smtp.Client
	if s.o.TLS == "starttls" {
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return fmt.Errorf("starttls: %w", err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	if s.o.Timeout > 0 {
		c.CommandTimeout = s.o.Timeout
		c.SubmissionTimeout = s.o.Timeout
	}
	if s.o.HelloName != "" {
		if err := c.Hello(s.o.HelloName); err != nil {
			c.Close()
			return fmt.Errorf("ehlo: %w", err)
		}
	}
	if s.o.Username != "" || s.o.Token != nil {
		if err := s.authenticate(ctx, c); err != nil {
			c.Close()
			return fmt.Errorf("auth as %s: %w", s.o.Username, err)
		}
	}
	s.c, s.conn = c, conn
	s.log.Debug("smtp connected", "address", s.o.Address, "tls", s.o.TLS)
	return nil
}

// drop closes and forgets the cached connection.
func (s *Sender) drop() {
	if s.c != nil {
		s.c.Close()
	}
	s.c, s.conn = nil, nil
}

func recoverLog(log *slog.Logger, where string) {
	if v := recover(); v != nil {
		log.Error("panic recovered", "where", where, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(l []string) bool {
	for _, s := range l {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
