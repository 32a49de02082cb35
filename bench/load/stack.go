package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// stack is a running Postfix + Dovecot (e2e/mailstack). Either we started it
// (dir is set and stop tears it down) or it came from MAILSTACK_* in the
// environment.
type stack struct {
	env  map[string]string
	dir  string
	root string
	tls  *tls.Config
}

// errNoStack means no mail stack could be had; the smoke test skips on it
// unless CI is set.
var errNoStack = errors.New("no mail stack")

// startStack gets a mail stack according to mode:
//
//	env      use MAILSTACK_* from the environment
//	private  start one with e2e/mailstack/start.sh on free ports (root only)
//	auto     private when running as root, else env
//
// A private stack is the default for root because the benchmark empties the
// INBOX of every stack user: on a shared stack that would disturb whoever
// else uses it (the e2e tests in `go test ./...`, a colleague's dev stack).
func startStack(root, mode string) (*stack, error) {
	if mode == "auto" {
		mode = "env"
		if os.Geteuid() == 0 {
			mode = "private"
		}
	}
	s := &stack{env: map[string]string{}, root: root}
	switch mode {
	case "env":
		if os.Getenv("MAILSTACK_IMAP_PORT") == "" {
			return nil, fmt.Errorf("%w: MAILSTACK_IMAP_PORT is unset and we are not root, so we cannot start one", errNoStack)
		}
		for _, kv := range os.Environ() {
			if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MAILSTACK_") {
				s.env[k] = v
			}
		}
	case "private":
		// Short: the stack puts unix sockets below it (108-byte limit).
		dir, err := os.MkdirTemp("", "msb")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command("bash", filepath.Join(root, "e2e", "mailstack", "start.sh"), dir)
		cmd.Env = append(os.Environ(), "MAILSTACK_PORT_BASE=auto")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("%w: start.sh %s: %v\n%s", errNoStack, dir, err, lastLines(stderr.String(), 15))
		}
		s.dir = dir
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
				s.env[k] = v
			}
		}
	default:
		return nil, fmt.Errorf("unknown -stack %q (want auto, private or env)", mode)
	}
	for _, k := range []string{"MAILSTACK_SMTP_PORT", "MAILSTACK_SUBMISSION_PORT", "MAILSTACK_IMAP_PORT",
		"MAILSTACK_LMTP_PORT", "MAILSTACK_CA_CERT", "MAILSTACK_PASSWORD", "MAILSTACK_SECURITY_USER",
		"MAILSTACK_REPORTER_USER", "MAILSTACK_STAFF_USER", "MAILSTACK_CATCHALL_USER"} {
		if s.env[k] == "" {
			s.stop()
			return nil, fmt.Errorf("mail stack environment lacks %s", k)
		}
	}
	pem, err := os.ReadFile(s.env["MAILSTACK_CA_CERT"])
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("read stack CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		s.stop()
		return nil, fmt.Errorf("no certificate in %s", s.env["MAILSTACK_CA_CERT"])
	}
	s.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return s, nil
}

// stop tears down a stack we started; a borrowed one is left alone.
func (s *stack) stop() error {
	if s == nil || s.dir == "" {
		return nil
	}
	cmd := exec.Command("bash", filepath.Join(s.root, "e2e", "mailstack", "stop.sh"), s.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("stop mail stack %s: %v\n%s", s.dir, err, out)
	}
	s.dir = ""
	return nil
}

func (s *stack) addr(portKey string) string { return net.JoinHostPort("127.0.0.1", s.env[portKey]) }

func (s *stack) user(key string) string { return s.env["MAILSTACK_"+key+"_USER"] }

func (s *stack) password() string { return s.env["MAILSTACK_PASSWORD"] }

// imapLogin opens an IMAP session over STARTTLS with strict certificate
// checks. h, if not nil, receives unsolicited mailbox data (IDLE pushes).
func (s *stack) imapLogin(user string, h *imapclient.UnilateralDataHandler) (*imapclient.Client, error) {
	c, err := imapclient.DialStartTLS(s.addr("MAILSTACK_IMAP_PORT"),
		&imapclient.Options{TLSConfig: s.tls, UnilateralDataHandler: h})
	if err != nil {
		return nil, fmt.Errorf("imap dial: %w", err)
	}
	if err := c.Login(user, s.password()).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap login %s: %w", user, err)
	}
	return c, nil
}

// count returns the number of messages in user's INBOX.
func (s *stack) count(user string) (uint32, error) {
	c, err := s.imapLogin(user, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("status %s INBOX: %w", user, err)
	}
	return *st.NumMessages, nil
}

// waitCount polls user's INBOX until it holds at least n messages.
func (s *stack) waitCount(user string, n uint32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.count(user)
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s INBOX holds %d messages after %v, want %d", user, got, timeout, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clearInbox deletes every message in user's INBOX.
func (s *stack) clearInbox(user string) error {
	c, err := s.imapLogin(user, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return fmt.Errorf("select %s INBOX: %w", user, err)
	}
	if sel.NumMessages > 0 {
		all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return fmt.Errorf("flag %s INBOX deleted: %w", user, err)
		}
		if err := c.Expunge().Close(); err != nil {
			return fmt.Errorf("expunge %s INBOX: %w", user, err)
		}
	}
	return c.Logout().Wait()
}

// clearAll empties the INBOX of every stack user.
func (s *stack) clearAll() error {
	for _, k := range []string{"SECURITY", "REPORTER", "STAFF", "CATCHALL"} {
		if err := s.clearInbox(s.user(k)); err != nil {
			return err
		}
	}
	return nil
}

// unprocessed counts messages in security@'s INBOX without the daemon's
// $Processed keyword.
func (s *stack) unprocessed() (int, error) {
	c, err := s.imapLogin(s.user("SECURITY"), nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, err
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{"$Processed", imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search unprocessed: %w", err)
	}
	return len(data.AllUIDs()), nil
}

// smtpDial connects to portKey and does EHLO and STARTTLS; with user set
// it also authenticates with AUTH PLAIN (the submission port).
func (s *stack) smtpDial(portKey, user string) (*smtp.Client, error) {
	c, err := smtp.DialStartTLS(s.addr(portKey), s.tls)
	if err != nil {
		return nil, fmt.Errorf("smtp dial %s: %w", portKey, err)
	}
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, s.password())); err != nil {
			c.Close()
			return nil, fmt.Errorf("smtp auth %s: %w", user, err)
		}
	}
	return c, nil
}

// send runs one SMTP transaction; it returns when the server has accepted
// the end of DATA.
func send(c *smtp.Client, from string, to []string, raw []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return fmt.Errorf("rcpt to %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return fmt.Errorf("write data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	return nil
}

// lmtpDeliver stores msgs in rcpt's INBOX through Dovecot's LMTP listener
// over conns parallel connections, bypassing Postfix. It returns once
// Dovecot has confirmed every delivery.
func (s *stack) lmtpDeliver(rcpt string, msgs [][]byte, conns int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		errs []error
	)
	for range min(conns, len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				conn, err := net.DialTimeout("tcp", s.addr("MAILSTACK_LMTP_PORT"), 10*time.Second)
				if err != nil {
					return fmt.Errorf("lmtp dial: %w", err)
				}
				c := smtp.NewClientLMTP(conn)
				defer c.Close()
				if err := c.Hello("bench.example.org"); err != nil {
					return fmt.Errorf("lhlo: %w", err)
				}
				for {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					if i >= len(msgs) {
						return c.Quit()
					}
					if err := send(c, s.user("REPORTER"), []string{rcpt}, msgs[i]); err != nil {
						return fmt.Errorf("lmtp deliver message %d: %w", i, err)
					}
				}
			}()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fetchAll is the plain-client baseline of backlog ingest: log in, select
// and stream every message's BODY.PEEK[] into memory, as the daemon must.
func (s *stack) fetchAll(user string) (n int, bytes int64, d time.Duration, err error) {
	t0 := time.Now()
	c, err := s.imapLogin(user, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, 0, 0, err
	}
	cmd := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil {
				raw, err := io.ReadAll(b.Literal)
				if err != nil {
					cmd.Close()
					return 0, 0, 0, err
				}
				bytes += int64(len(raw))
			}
		}
		n++
	}
	if err := cmd.Close(); err != nil {
		return 0, 0, 0, fmt.Errorf("fetch: %w", err)
	}
	d = time.Since(t0)
	return n, bytes, d, c.Logout().Wait()
}

// existsEvent is one IDLE push of a new message count.
type existsEvent struct {
	at time.Time
	n  uint32
}

// idler holds an IMAP session in IDLE on a user's INBOX and timestamps each
// EXISTS push as it arrives on the client's reader goroutine.
type idler struct {
	c      *imapclient.Client
	idle   *imapclient.IdleCommand
	events chan existsEvent
	have   uint32
}

func (s *stack) startIdle(user string) (*idler, error) {
	ev := make(chan existsEvent, 4096)
	h := &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
		if d.NumMessages == nil {
			return
		}
		select {
		case ev <- existsEvent{at: time.Now(), n: *d.NumMessages}:
		default:
		}
	}}
	c, err := s.imapLogin(user, h)
	if err != nil {
		return nil, err
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		c.Close()
		return nil, err
	}
	idle, err := c.Idle()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("idle on %s: %w", user, err)
	}
	return &idler{c: c, idle: idle, events: ev, have: sel.NumMessages}, nil
}

// next waits for the message count to grow past what was seen so far and
// returns the time of that push.
func (i *idler) next(timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case e := <-i.events:
			if e.n > i.have {
				i.have = e.n
				return e.at, nil
			}
		case <-t.C:
			return time.Time{}, fmt.Errorf("no EXISTS push within %v", timeout)
		}
	}
}

func (i *idler) close() {
	i.idle.Close()
	i.idle.Wait()
	i.c.Logout().Wait()
	i.c.Close()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
