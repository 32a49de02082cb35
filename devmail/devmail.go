// Package devmail is a tiny in-process mail system for `disclosured dev` and
// for tests: an IMAP server backed by go-imap's imapmemserver and an SMTP
// server (go-smtp) that delivers into it, both on 127.0.0.1 with free ports.
//
// It owns nothing on disk. Every user logs in with their full, lowercased
// address and a password; each user has the mailboxes INBOX, Sent and Trash.
//
// Delivery rules for the SMTP side:
//
//   - A RCPT that is a known user gets the message in that user's INBOX.
//   - A RCPT that is not a known user goes to Options.CatchAll if it is set,
//     and is refused with 550 5.1.1 otherwise (RFC 5321 section 3.3).
//   - Recipients that resolve to the same user get one copy (as Postfix does
//     for virtual aliases).
//   - Each stored copy starts with Return-Path (RFC 5321 section 4.4, added
//     at final delivery) and a Received trace field naming the original
//     recipients.
//   - AUTH PLAIN is offered over plaintext and checked against the users,
//     but never required: the server plays both the MTA and the submission
//     role.
//
// Invariants: once Close returns, no OnMessage call is running or will
// start, and both listeners are closed.
package devmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// hostname is the name the servers use for themselves in greetings and in
// the Received fields they write.
const hostname = "devmail.localhost"

// maxMessageBytes caps one SMTP DATA; generous for development mail.
const maxMessageBytes = 50 << 20

// User is one mail account.
type User struct {
	// Address is the login name and the address mail is delivered to.
	// It is compared case-insensitively.
	Address string
	// Password is used for IMAP LOGIN and SMTP AUTH PLAIN.
	Password string
}

// Options configures Start.
type Options struct {
	// Users are the accounts; at least one is required.
	Users []User
	// CatchAll, if set, is the address of a user in Users that receives SMTP
	// mail for unknown recipients. If empty, unknown recipients get 550.
	CatchAll string
	// Logger receives one line per accepted message and server errors.
	// Nil discards.
	Logger *slog.Logger
	// OnMessage, if set, is called once for each message accepted over SMTP,
	// after it was stored, with the envelope and the bytes as the client sent
	// them (without the trace fields devmail adds). It runs on the SMTP
	// connection's goroutine; the client waits for it.
	OnMessage func(from string, to []string, raw []byte)
	// Exchange, if set, makes the IMAP server answer as Exchange Online
	// does (see Exchange), and with Exchange.Token set the SMTP server
	// offers XOAUTH2 with the same tokens.
	Exchange *Exchange
}

// System is a running devmail instance. Its methods are safe for concurrent
// use.
type System struct {
	log       *slog.Logger
	mem       *imapmemserver.Server
	users     map[string]*account // by lowercased address
	catchAll  string
	onMessage func(from string, to []string, raw []byte)

	imapSrv *imapserver.Server
	imapLn  net.Listener
	smtpSrv *smtp.Server
	smtpLn  net.Listener

	// With Options.Exchange: the profile, and a plain IMAP server on the
	// same store for Messages.
	exchange   *Exchange
	inspectSrv *imapserver.Server
	inspectLn  net.Listener
	bodies     atomic.Int64 // BODY[] literals sent by the Exchange server
	bads       atomic.Int64 // its BAD answers to keywords

	serveWG sync.WaitGroup // the two Serve goroutines

	// mu guards closed; inflight counts DATA commands between the closed
	// check and the end of OnMessage, so Close can wait for them.
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup

	done      chan struct{}
	closeOnce sync.Once
	seq       atomic.Uint64 // for Received ids
}

type account struct {
	address, password string
	mem               *imapmemserver.User
}

// defaultMailboxes exist for every user.
var defaultMailboxes = []string{"INBOX", "Sent", "Trash"}

// Start starts the IMAP and SMTP servers on 127.0.0.1 with ports chosen by
// the kernel. ctx bounds the setup; cancelling it later also closes the
// system, as Close does.
func Start(ctx context.Context, o Options) (*System, error) {
	if len(o.Users) == 0 {
		return nil, errors.New("devmail: no users")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &System{
		log:       log.With("component", "devmail"),
		mem:       imapmemserver.New(),
		users:     make(map[string]*account, len(o.Users)),
		onMessage: o.OnMessage,
		done:      make(chan struct{}),
		exchange:  o.Exchange,
	}
	for _, u := range o.Users {
		addr := strings.ToLower(strings.TrimSpace(u.Address))
		if addr == "" || !strings.Contains(addr, "@") {
			return nil, fmt.Errorf("devmail: user address %q: want local@domain", u.Address)
		}
		if _, dup := s.users[addr]; dup {
			return nil, fmt.Errorf("devmail: user %s listed twice", addr)
		}
		mu := imapmemserver.NewUser(addr, u.Password)
		for _, name := range defaultMailboxes {
			if err := mu.Create(name, nil); err != nil {
				return nil, fmt.Errorf("devmail: create %s for %s: %w", name, addr, err)
			}
		}
		s.mem.AddUser(mu)
		s.users[addr] = &account{address: addr, password: u.Password, mem: mu}
	}
	if o.CatchAll != "" {
		s.catchAll = strings.ToLower(o.CatchAll)
		if s.users[s.catchAll] == nil {
			return nil, fmt.Errorf("devmail: catch-all %s is not a user", o.CatchAll)
		}
	}

	var lc net.ListenConfig
	var err error
	if s.imapLn, err = lc.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("devmail: listen imap: %w", err)
	}
	if s.smtpLn, err = lc.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
		s.imapLn.Close()
		return nil, fmt.Errorf("devmail: listen smtp: %w", err)
	}

	plain := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return s.mem.NewSession(), nil, nil
		},
		// IMAP4rev1 brings IDLE; imapmemserver implements MOVE and UIDPLUS
		// too, so the daemon's preferred code paths run against it.
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {},
			imap.CapMove:      {},
			imap.CapUIDPlus:   {},
		},
		InsecureAuth: true,
		Logger:       logAdapter{s.log.With("server", "imap")},
	}
	s.imapSrv = imapserver.New(plain)
	imapLn := s.imapLn
	if x := o.Exchange; x != nil {
		if s.inspectLn, err = lc.Listen(ctx, "tcp", "127.0.0.1:0"); err != nil {
			s.imapLn.Close()
			s.smtpLn.Close()
			return nil, fmt.Errorf("devmail: listen imap: %w", err)
		}
		s.inspectSrv = s.imapSrv
		ex := *plain
		ex.Caps = x.serverCaps()
		ex.NewSession = func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			es := &exchangeSession{Session: s.mem.NewSession(), sys: s, x: x}
			if x.NoMove {
				return es, nil, nil
			}
			return exchangeMoveSession{es}, nil, nil
		}
		s.imapSrv = imapserver.New(&ex)
		imapLn = &exchangeListener{Listener: s.imapLn, sys: s, caps: x.capsLine()}
	}

	s.smtpSrv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{sys: s, conn: c}, nil
	}))
	s.smtpSrv.Domain = hostname
	s.smtpSrv.AllowInsecureAuth = true
	s.smtpSrv.MaxMessageBytes = maxMessageBytes
	s.smtpSrv.MaxRecipients = 100
	s.smtpSrv.ReadTimeout = 5 * time.Minute
	s.smtpSrv.WriteTimeout = time.Minute
	s.smtpSrv.ErrorLog = logAdapter{s.log.With("server", "smtp")}

	s.serveWG.Add(2)
	go func() {
		defer s.serveWG.Done()
		if err := s.imapSrv.Serve(imapLn); err != nil && !s.isClosed() {
			s.log.Error("imap serve", "err", err)
		}
	}()
	if s.inspectSrv != nil {
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			if err := s.inspectSrv.Serve(s.inspectLn); err != nil && !s.isClosed() {
				s.log.Error("imap serve", "err", err)
			}
		}()
	}
	go func() {
		defer s.serveWG.Done()
		if err := s.smtpSrv.Serve(s.smtpLn); err != nil && !s.isClosed() {
			s.log.Error("smtp serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	s.log.Info("devmail listening", "imap", s.IMAPAddr(), "smtp", s.SMTPAddr(), "users", len(s.users))
	return s, nil
}

// IMAPAddr is the host:port of the IMAP server (plaintext, LOGIN allowed).
func (s *System) IMAPAddr() string { return s.imapLn.Addr().String() }

// SMTPAddr is the host:port of the SMTP server (plaintext, AUTH optional).
func (s *System) SMTPAddr() string { return s.smtpLn.Addr().String() }

// Close stops both servers and waits until no SMTP delivery or OnMessage
// call is running. It is safe to call more than once. It always returns nil;
// the error is there for io.Closer.
func (s *System) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)

		// Both servers only close listeners that Serve has registered, so
		// a Close right after Start could miss them: close them here too.
		// That also makes their own errors uninteresting.
		s.smtpSrv.Close()
		s.imapSrv.Close()
		s.smtpLn.Close()
		s.imapLn.Close()
		if s.inspectSrv != nil {
			s.inspectSrv.Close()
			s.inspectLn.Close()
		}
		s.serveWG.Wait()
		s.inflight.Wait()
	})
	return nil
}

// Deliver appends raw to the INBOX of the user with address to, with
// internalDate as its IMAP INTERNALDATE (zero means now). It adds no
// header fields; use it to seed mailboxes with exact bytes and dates.
// Unlike SMTP, an unknown address is an error, not a catch-all delivery.
func (s *System) Deliver(to string, raw []byte, internalDate time.Time) error {
	a := s.users[strings.ToLower(to)]
	if a == nil {
		return fmt.Errorf("devmail: deliver to %s: no such user", to)
	}
	if _, err := a.mem.Append("INBOX", bytes.NewReader(raw), &imap.AppendOptions{Time: internalDate}); err != nil {
		return fmt.Errorf("devmail: deliver to %s: %w", to, err)
	}
	return nil
}

// Messages returns the raw bytes of every message in a user's mailbox, in
// UID order. It reads them over a loopback IMAP session (BODY.PEEK[], so
// \Seen is left alone), which sees exactly what any other client sees.
func (s *System) Messages(user, mailbox string) ([][]byte, error) {
	a := s.users[strings.ToLower(user)]
	if a == nil {
		return nil, fmt.Errorf("devmail: messages of %s: no such user", user)
	}
	addr := s.IMAPAddr()
	if s.inspectLn != nil {
		addr = s.inspectLn.Addr().String()
	}
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, fmt.Errorf("devmail: messages of %s: %w", user, err)
	}
	defer c.Close()
	if err := c.Login(a.address, a.password).Wait(); err != nil {
		return nil, fmt.Errorf("devmail: messages of %s: login: %w", user, err)
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("devmail: messages of %s: select %s: %w", user, mailbox, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	var all imap.SeqSet
	all.AddRange(1, 0)
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("devmail: messages of %s: fetch %s: %w", user, mailbox, err)
	}
	sort.Slice(bufs, func(i, j int) bool { return bufs[i].UID < bufs[j].UID })
	out := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		out = append(out, b.FindBodySection(section))
	}
	_ = c.Logout().Wait()
	return out, nil
}

// resolve maps an SMTP recipient to the account that stores its mail, or
// nil if there is none.
func (s *System) resolve(rcpt string) *account {
	if a := s.users[strings.ToLower(rcpt)]; a != nil {
		return a
	}
	if s.catchAll != "" {
		return s.users[s.catchAll]
	}
	return nil
}

func (s *System) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// begin registers one DATA transaction, failing once Close has started.
func (s *System) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// session is one SMTP connection's transaction state.
type session struct {
	sys  *System
	conn *smtp.Conn
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if x := ss.sys.exchange; x != nil && x.Token != nil {
		return []string{sasl.Plain, "XOAUTH2"}
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if x := ss.sys.exchange; mech == "XOAUTH2" && x != nil && x.Token != nil {
		return &xoauth2Server{check: func(user, token string) bool {
			a := ss.sys.users[strings.ToLower(user)]
			return a != nil && x.Token(a.address, token)
		}, refuse: smtp.ErrAuthFailed}, nil
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		a := ss.sys.users[strings.ToLower(username)]
		if a == nil || a.password != password || (identity != "" && !strings.EqualFold(identity, username)) {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	ss.to = nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.sys.resolve(to) == nil {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if !ss.sys.begin() {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Shutting down"}
	}
	defer ss.sys.inflight.Done()

	// Group recipients by the account that stores them: one copy each.
	var order []*account
	rcpts := map[*account][]string{}
	for _, to := range ss.to {
		a := ss.sys.resolve(to)
		if _, ok := rcpts[a]; !ok {
			order = append(order, a)
		}
		rcpts[a] = append(rcpts[a], to)
	}
	now := time.Now()
	for _, a := range order {
		msg := append(ss.traceFields(rcpts[a], now), raw...)
		if _, err := a.mem.Append("INBOX", bytes.NewReader(msg), &imap.AppendOptions{Time: now}); err != nil {
			ss.sys.log.Error("deliver", "rcpt", a.address, "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Delivery failed"}
		}
	}
	ss.sys.log.Info("message accepted", "from", ss.from, "to", strings.Join(ss.to, ","), "size", len(raw))
	if ss.sys.onMessage != nil {
		ss.sys.onMessage(ss.from, append([]string(nil), ss.to...), raw)
	}
	return nil
}

// traceFields returns the Return-Path and Received fields for one stored
// copy (RFC 5321 section 4.4; RFC 5322 section 3.6.7).
func (ss *session) traceFields(rcpts []string, now time.Time) []byte {
	peer := "unknown"
	if c := ss.conn.Conn(); c != nil {
		if host, _, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
			peer = host
		}
	}
	helo := ss.conn.Hostname()
	if helo == "" {
		helo = "unknown"
	}
	// The "for" clause names one path (RFC 5321 section 4.4); like Postfix,
	// leave it out when one copy serves several recipients.
	forClause := ""
	if len(rcpts) == 1 {
		forClause = "\r\n\tfor <" + rcpts[0] + ">"
	}
	id := ss.sys.seq.Add(1)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", ss.from)
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (devmail) with ESMTP id %d%s;\r\n\t%s\r\n",
		helo, peer, hostname, id, forClause, now.Format(time.RFC1123Z))
	return b.Bytes()
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// logAdapter turns the servers' Printf-style error logs into slog lines.
type logAdapter struct{ log *slog.Logger }

func (l logAdapter) Printf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l logAdapter) Println(v ...any)               { l.log.Warn(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }
