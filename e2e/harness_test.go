package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Paths relative to this package's directory, where `go test` runs us.
const (
	repoRoot    = ".."
	startScript = "mailstack/start.sh"
	stopScript  = "mailstack/stop.sh"
)

// Per-binary state: one mail stack and one daemon binary, made on first use
// and torn down by TestMain.
var (
	stackOnce sync.Once
	stackEnv  map[string]string
	stackErr  error
	stackDir  string // non-empty if we started the stack and must stop it

	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if stackDir != "" {
		cmd := exec.Command("bash", stopScript, stackDir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stop mailstack %s: %v\n", stackDir, err)
			if code == 0 {
				code = 1
			}
		}
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// mailstack returns the MAILSTACK_* variables of a running Postfix + Dovecot.
// It uses the stack described by the environment if MAILSTACK_IMAP_PORT is
// set; otherwise it starts a private stack on free ports, once per test
// binary. It skips the test if that fails and CI is unset.
func mailstack(t *testing.T) map[string]string {
	t.Helper()
	stackOnce.Do(func() { stackEnv, stackErr = startStack() })
	if stackErr != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("mailstack not available: %v", stackErr)
		}
		t.Fatalf("mailstack: %v", stackErr)
	}
	return stackEnv
}

func startStack() (map[string]string, error) {
	env := map[string]string{}
	if os.Getenv("MAILSTACK_IMAP_PORT") != "" {
		for _, kv := range os.Environ() {
			if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MAILSTACK_") {
				env[k] = v
			}
		}
		return env, checkStackEnv(env)
	}
	// Short: the stack puts unix sockets below it (108-byte limit).
	dir, err := os.MkdirTemp("", "ms")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", startScript, dir)
	cmd.Env = append(os.Environ(), "MAILSTACK_PORT_BASE=auto")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// start.sh tears down what it started; remove the dir if it is
		// still empty (it refuses to run as non-root before touching it).
		os.Remove(dir)
		return nil, fmt.Errorf("%s %s: %v\n%s", startScript, dir, err, lastLines(stderr.String(), 20))
	}
	stackDir = dir
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
			env[k] = v
		}
	}
	return env, checkStackEnv(env)
}

func checkStackEnv(env map[string]string) error {
	for _, k := range []string{"MAILSTACK_SMTP_PORT", "MAILSTACK_SUBMISSION_PORT", "MAILSTACK_IMAP_PORT",
		"MAILSTACK_CA_CERT", "MAILSTACK_PASSWORD", "MAILSTACK_SECURITY_USER", "MAILSTACK_REPORTER_USER",
		"MAILSTACK_STAFF_USER", "MAILSTACK_CATCHALL_USER"} {
		if env[k] == "" {
			return fmt.Errorf("mailstack environment lacks %s", k)
		}
	}
	return nil
}

// buildBinary builds cmd/disclosured once per test binary and returns its
// path. When the tests run with -race, so does the daemon.
// E2E_DISCLOSURED_BIN names a prebuilt binary to use instead.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("E2E_DISCLOSURED_BIN"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "disclosured-e2e")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "disclosured")
		args := []string{"build", "-ldflags", "-X main.version=e2e", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/disclosured")...)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/disclosured: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// tlsConfig trusts the stack's throw-away CA and verifies the server
// certificate strictly, as the daemon does.
func tlsConfig(t *testing.T, env map[string]string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(env["MAILSTACK_CA_CERT"])
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", env["MAILSTACK_CA_CERT"])
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func stackAddr(env map[string]string, portKey string) string {
	return net.JoinHostPort("127.0.0.1", env[portKey])
}

// sendMail hands raw to Postfix's MTA port (no AUTH, as a reporter's mail
// server would) after STARTTLS. from "" sends with the null reverse-path,
// as bounces do.
func sendMail(t *testing.T, env map[string]string, from string, to []string, raw []byte) {
	t.Helper()
	if err := smtpSend(env, stackAddr(env, "MAILSTACK_SMTP_PORT"), tlsConfig(t, env), nil, from, to, raw); err != nil {
		t.Fatalf("send mail from <%s> to %v: %v", from, to, err)
	}
}

// submitMail sends raw through the submission port with STARTTLS and AUTH
// PLAIN, the path the daemon itself uses.
func submitMail(t *testing.T, env map[string]string, user, password string, to []string, raw []byte) {
	t.Helper()
	auth := smtp.PlainAuth("", user, password, "127.0.0.1")
	if err := smtpSend(env, stackAddr(env, "MAILSTACK_SUBMISSION_PORT"), tlsConfig(t, env), auth, user, to, raw); err != nil {
		t.Fatalf("submit mail as %s to %v: %v", user, to, err)
	}
}

func smtpSend(env map[string]string, addr string, tc *tls.Config, auth smtp.Auth, from string, to []string, raw []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello("e2e.example.test"); err != nil {
		return err
	}
	// net/smtp.SendMail would do STARTTLS on its own with the system roots;
	// do it here with the stack's CA instead.
	if err := c.StartTLS(tc); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// storedMail is one message in a mailbox.
type storedMail struct {
	UID   imap.UID
	Flags []imap.Flag
	Raw   []byte
}

// hasFlag compares case-insensitively: servers may change a keyword's case.
func (m storedMail) hasFlag(f imap.Flag) bool {
	for _, g := range m.Flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

// imapLogin opens an IMAP session over STARTTLS with certificate checks.
// The connection is closed when the test ends.
func imapLogin(t *testing.T, env map[string]string, user, password string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialStartTLS(stackAddr(env, "MAILSTACK_IMAP_PORT"), &imapclient.Options{TLSConfig: tlsConfig(t, env)})
	if err != nil {
		t.Fatalf("imap dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("imap login %s: %v", user, err)
	}
	return c
}

// listMail returns every message in mailbox, in UID order, without setting
// \Seen.
func listMail(c *imapclient.Client, mailbox string) ([]storedMail, error) {
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("examine %s: %w", mailbox, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", mailbox, err)
	}
	out := make([]storedMail, 0, len(bufs))
	for _, b := range bufs {
		out = append(out, storedMail{UID: b.UID, Flags: b.Flags, Raw: b.FindBodySection(section)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// waitForStored polls mailbox every 100ms until a message satisfies match,
// and returns it; it fails the test after timeout.
func waitForStored(t *testing.T, env map[string]string, user, password, mailbox string, match func(storedMail) bool, timeout time.Duration) storedMail {
	t.Helper()
	c := imapLogin(t, env, user, password)
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var seen int
	for {
		msgs, err := listMail(c, mailbox)
		if err != nil {
			t.Fatalf("%s %s: %v", user, mailbox, err)
		}
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		seen = len(msgs)
		if time.Now().After(deadline) {
			var subjects []string
			for _, m := range msgs {
				subjects = append(subjects, fmt.Sprintf("%q %v", subjectOf(m.Raw), m.Flags))
			}
			t.Fatalf("no matching mail in %s %s within %v; %d messages there: %s",
				user, mailbox, timeout, seen, strings.Join(subjects, "; "))
		}
		<-tick.C
	}
}

// waitForMail polls mailbox every 100ms until a message's raw bytes satisfy
// match, and returns them; it fails the test after timeout.
func waitForMail(t *testing.T, env map[string]string, user, password, mailbox string, match func(raw []byte) bool, timeout time.Duration) []byte {
	t.Helper()
	return waitForStored(t, env, user, password, mailbox, func(m storedMail) bool { return match(m.Raw) }, timeout).Raw
}

// countMail returns how many messages in mailbox satisfy match (nil counts
// all).
func countMail(t *testing.T, env map[string]string, user, password, mailbox string, match func(raw []byte) bool) int {
	t.Helper()
	msgs, err := listMail(imapLogin(t, env, user, password), mailbox)
	if err != nil {
		t.Fatalf("%s %s: %v", user, mailbox, err)
	}
	n := 0
	for _, m := range msgs {
		if match == nil || match(m.Raw) {
			n++
		}
	}
	return n
}

// appendMail stores raw in mailbox with the given INTERNALDATE, as if it
// had been delivered at that time, bypassing Postfix.
func appendMail(t *testing.T, env map[string]string, user, password, mailbox string, raw []byte, internalDate time.Time) {
	t.Helper()
	appendOn(t, imapLogin(t, env, user, password), mailbox, raw, internalDate)
}

// appendOn appends over an open connection, for tests that put many
// messages in place (one login each would exhaust the server's limits).
// A zero internalDate means now.
func appendOn(t *testing.T, c *imapclient.Client, mailbox string, raw []byte, internalDate time.Time) {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Time: internalDate})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("append to %s: %v", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("append to %s: %v", mailbox, err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %s: %v", mailbox, err)
	}
}

// clearMailbox deletes every message in mailbox.
func clearMailbox(t *testing.T, env map[string]string, user, password, mailbox string) {
	t.Helper()
	c := imapLogin(t, env, user, password)
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatalf("select %s %s: %v", user, mailbox, err)
	}
	if sel.NumMessages > 0 {
		all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatalf("flag %s %s deleted: %v", user, mailbox, err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatalf("expunge %s %s: %v", user, mailbox, err)
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("unselect %s %s: %v", user, mailbox, err)
	}
}

// clearInboxes empties the INBOX of every stack user: the daemon under test
// must only see this test's mail, and assertions count messages.
func clearInboxes(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"MAILSTACK_SECURITY_USER", "MAILSTACK_REPORTER_USER", "MAILSTACK_STAFF_USER", "MAILSTACK_CATCHALL_USER"} {
		clearMailbox(t, env, env[k], env["MAILSTACK_PASSWORD"], "INBOX")
	}
}

// writeConfig writes a daemon config pointed at the stack into a fresh
// directory and returns its path. overrides maps dotted keys
// ("imap.poll_interval") to values; a nil value removes the key.
func writeConfig(t *testing.T, env map[string]string, overrides map[string]any) string {
	t.Helper()
	// Short, because control.socket is a unix socket (108-byte limit).
	dir, err := os.MkdirTemp("", "d")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sec, pw := env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_PASSWORD"]
	staff := env["MAILSTACK_STAFF_USER"]
	cfg := map[string]any{
		"organization": map[string]any{
			"name":        "CloudSphere",
			"address":     sec,
			"case_prefix": "CS",
		},
		"imap": map[string]any{
			"address":       stackAddr(env, "MAILSTACK_IMAP_PORT"),
			"tls":           "starttls",
			"username":      sec,
			"password":      pw,
			"ca_file":       env["MAILSTACK_CA_CERT"],
			"poll_interval": "2s",
		},
		"smtp": map[string]any{
			"address":  stackAddr(env, "MAILSTACK_SUBMISSION_PORT"),
			"tls":      "starttls",
			"username": sec,
			"password": pw,
			"ca_file":  env["MAILSTACK_CA_CERT"],
		},
		"staff": map[string]any{
			"addresses": []string{staff},
			"notify":    []string{staff},
			"auth":      "none",
		},
		"store":   map[string]any{"path": filepath.Join(dir, "d.db")},
		"control": map[string]any{"socket": filepath.Join(dir, "ctl.sock")},
		"http":    map[string]any{"listen": ""},
		"log":     map[string]any{"level": "debug"},
	}
	for key, v := range overrides {
		parts := strings.Split(key, ".")
		m := cfg
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		if v == nil {
			delete(m, parts[len(parts)-1])
		} else {
			m[parts[len(parts)-1]] = v
		}
	}
	var b strings.Builder
	b.WriteString("# written by the e2e harness\n")
	writeYAML(t, &b, cfg, 0)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeYAML emits the few shapes a config needs: nested maps, scalars and
// string lists. Strings are double-quoted (Go escapes of printable text are
// valid YAML escapes).
func writeYAML(t *testing.T, b *strings.Builder, m map[string]any, indent int) {
	t.Helper()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pad := strings.Repeat("  ", indent)
	for _, k := range keys {
		switch v := m[k].(type) {
		case map[string]any:
			fmt.Fprintf(b, "%s%s:\n", pad, k)
			writeYAML(t, b, v, indent+1)
		case []string:
			q := make([]string, len(v))
			for i, s := range v {
				q[i] = strconv.Quote(s)
			}
			fmt.Fprintf(b, "%s%s: [%s]\n", pad, k, strings.Join(q, ", "))
		case []float64:
			q := make([]string, len(v))
			for i, f := range v {
				q[i] = strconv.FormatFloat(f, 'g', -1, 64)
			}
			fmt.Fprintf(b, "%s%s: [%s]\n", pad, k, strings.Join(q, ", "))
		case string:
			fmt.Fprintf(b, "%s%s: %s\n", pad, k, strconv.Quote(v))
		case time.Duration:
			fmt.Fprintf(b, "%s%s: %s\n", pad, k, strconv.Quote(v.String()))
		case bool, int, int64, float64:
			fmt.Fprintf(b, "%s%s: %v\n", pad, k, v)
		default:
			t.Fatalf("writeConfig: key %s: unsupported value %T", k, v)
		}
	}
}

// daemon is a `disclosured run` child process.
type daemon struct {
	cmd      *exec.Cmd
	logPath  string
	done     chan struct{} // closed when the process has exited
	waitErr  error         // valid after done
	stopOnce sync.Once
}

// startDaemon runs `disclosured run -c cfgPath` with its output in a log
// file. It is stopped (SIGTERM, SIGKILL after 10s) when the test ends,
// unless the test stopped it before; the log is shown if the test failed.
func startDaemon(t *testing.T, cfgPath string) *daemon {
	t.Helper()
	return startDaemonBin(t, buildBinary(t), cfgPath)
}

// startDaemonBin is startDaemon with a given binary.
func startDaemonBin(t *testing.T, bin, cfgPath string) *daemon {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-c", cfgPath)
	cmd.Env = daemonEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start daemon: %v", err)
	}
	logFile.Close() // the child has its own descriptor
	d := &daemon{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop(t)
		log := d.log()
		// A daemon built with -race reports races on stderr and keeps going.
		for _, bad := range []string{"WARNING: DATA RACE", "panic:"} {
			if strings.Contains(log, bad) {
				t.Errorf("daemon log contains %q", bad)
			}
		}
		if t.Failed() {
			t.Logf("daemon log (%s), last lines:\n%s", logPath, lastLines(log, 80))
		}
	})
	return d
}

// daemonEnv is the child environment: ours without DISCLOSURED_* (which
// would override the config), with the stack's CA trusted as a system root
// too, in case some connection does not use the configured ca_file.
func daemonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISCLOSURED_") && !strings.HasPrefix(kv, "SSL_CERT_FILE=") {
			env = append(env, kv)
		}
	}
	if ca := stackEnv["MAILSTACK_CA_CERT"]; ca != "" {
		env = append(env, "SSL_CERT_FILE="+ca)
	}
	return env
}

// stop sends SIGTERM, waits up to 10s, then SIGKILLs. The daemon must exit
// 0 on SIGTERM. Safe to call more than once.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.stopOnce.Do(func() {
		select {
		case <-d.done:
			t.Errorf("daemon exited before it was stopped: %v", d.waitErr)
			return
		default:
		}
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("SIGTERM daemon: %v", err)
		}
		select {
		case <-d.done:
			if d.waitErr != nil {
				t.Errorf("daemon exit after SIGTERM: %v", d.waitErr)
			}
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
			t.Errorf("daemon did not stop within 10s of SIGTERM; killed")
		}
	})
}

// running reports whether the process has not exited.
func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// log returns the daemon's output so far.
func (d *daemon) log() string {
	b, _ := os.ReadFile(d.logPath)
	return string(b)
}

// runCLI runs `disclosured ARGS[0] -c cfgPath ARGS[1:]...` and returns its
// stdout and exit code; stderr is logged when the exit code is not 0.
func runCLI(t *testing.T, cfgPath string, args ...string) (stdout string, exit int) {
	t.Helper()
	if len(args) == 0 {
		t.Fatal("runCLI: no command")
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	full := append([]string{args[0], "-c", cfgPath}, args[1:]...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = daemonEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		exit = exitErr.ExitCode()
	default:
		t.Fatalf("disclosured %s: %v", strings.Join(full, " "), err)
	}
	if exit != 0 || ctx.Err() != nil {
		t.Logf("disclosured %s: exit %d, stderr:\n%s", strings.Join(full, " "), exit, errb.String())
	}
	return out.String(), exit
}

// marker returns a string unique to this run, for subjects and Message-IDs.
func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// header returns the first value of a header field of raw, or "" if raw
// does not parse or lacks it. Subjects are RFC 2047-decoded.
func header(raw []byte, name string) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	v := m.Header.Get(name)
	if strings.EqualFold(name, "Subject") {
		if dec, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
			v = dec
		}
	}
	return v
}

func subjectOf(raw []byte) string { return header(raw, "Subject") }

// buildMail assembles a message with CRLF line endings.
func buildMail(headers [][2]string, body string) []byte {
	var b bytes.Buffer
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return b.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readFixture returns e2e/testdata/name with @@MARKER@@ replaced and line
// endings made CRLF.
func readFixture(t *testing.T, name, mark string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "@@MARKER@@", mark)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	return []byte(s)
}
