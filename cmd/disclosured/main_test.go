package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"disclosured/devmail"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs one command in-process and returns stdout, stderr and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb syncBuffer
	err := dispatch(context.Background(), args, env{stdout: &out, stderr: &errb})
	code := exitCode(err, &errb)
	return out.String(), errb.String(), code
}

// mailSystem starts devmail with the demo users.
func mailSystem(t *testing.T) *devmail.System {
	t.Helper()
	var users []devmail.User
	for _, u := range devUsers {
		users = append(users, devmail.User{Address: u, Password: devPassword})
	}
	ms, err := devmail.Start(context.Background(), devmail.Options{Users: users, CatchAll: "catchall@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	return ms
}

func writeConfig(t *testing.T, ms *devmail.System, extra string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	text := devConfig(ms, "d.db", "ctl.sock") + extra
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitMail polls a devmail mailbox until a message matches.
func waitMail(t *testing.T, ms *devmail.System, user string, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := ms.Messages(user, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if re.Match(m) {
				return string(m)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail matching %s in %s's INBOX", re, user)
	return ""
}

func countMail(t *testing.T, ms *devmail.System, user string, re *regexp.Regexp) int {
	t.Helper()
	msgs, err := ms.Messages(user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if re.Match(m) {
			n++
		}
	}
	return n
}

// startDaemon runs `run` in-process until the test ends.
func startDaemon(t *testing.T, cfg string) (stop func() error, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, []string{"run", "-c", cfg}, env{stdout: logs, stderr: logs}) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = fmt.Errorf("daemon did not stop within 20s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop, logs
}

func send(t *testing.T, ms *devmail.System, from, to string, raw string) {
	t.Helper()
	if err := smtp.SendMail(ms.SMTPAddr(), nil, from, []string{to}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
}

const reportMail = "From: Ada Reporter <reporter@example.org>\r\nTo: security@example.test\r\n" +
	"Subject: SQL injection in search\r\nMessage-ID: <%s>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\n" +
	"The search at https://shop.example.com/search?q=' returns a database error.\r\n"

func TestDaemonAcknowledgesAndThreads(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	stop, logs := startDaemon(t, cfg)

	send(t, ms, "reporter@example.org", "security@example.test", fmt.Sprintf(reportMail, "rep-1@example.org"))
	ack := waitMail(t, ms, "reporter@example.org", regexp.MustCompile(`(?m)^Subject: \[CS-\d{4}-0001\] Received: SQL injection`))
	if !strings.Contains(ack, "In-Reply-To: <rep-1@example.org>") {
		t.Errorf("ack does not answer the report:\n%s", ack)
	}
	waitMail(t, ms, "staff@example.test", regexp.MustCompile(`(?m)^Subject: \[CS-\d{4}-0001\] New report: SQL injection`))
	id := regexp.MustCompile(`CS-\d{4}-0001`).FindString(ack)

	// A follow-up from the reporter joins the case and is not acknowledged again.
	send(t, ms, "reporter@example.org", "security@example.test",
		"From: reporter@example.org\r\nTo: security@example.test\r\nSubject: Re: ["+id+"] Received: SQL injection\r\nMessage-ID: <rep-2@example.org>\r\n\r\nAlso the admin page.\r\n")
	waitMail(t, ms, "staff@example.test", regexp.MustCompile(`(?m)^Subject: \[`+id+`\] Reporter replied:`))
	if n := countMail(t, ms, "reporter@example.org", regexp.MustCompile(`(?m)^Subject: \[`+id+`\] Received:`)); n != 1 {
		t.Errorf("reporter got %d acknowledgments, want 1", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, logs)
	}
	if strings.Contains(logs.String(), devPassword) || strings.Contains(logs.String(), "admin page") {
		t.Errorf("log leaks a secret or a body:\n%s", logs)
	}

	out, _, code := cli(t, "cases", "--json", "-c", cfg)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["reporter"] != "reporter@example.org" {
		t.Fatalf("cases --json (exit %d):\n%s", code, out)
	}
	out, _, code = cli(t, "show", id, "--json", "-c", cfg)
	var v struct {
		State     string
		Messages  []struct{ Direction, Kind, Status string }
		Deadlines map[string]struct {
			Due   time.Time
			MetAt *time.Time `json:"met_at"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("show --json (exit %d):\n%s", code, out)
	}
	if v.State != "acknowledged" || len(v.Messages) != 5 || v.Deadlines["acknowledge"].MetAt == nil || v.Deadlines["assess"].Due.IsZero() {
		t.Errorf("show: %+v", v)
	}
	for _, m := range v.Messages {
		if m.Direction == "out" && m.Status != "sent" {
			t.Errorf("%s mail is %s, want sent", m.Kind, m.Status)
		}
	}
}

func TestImportMboxAndDuplicates(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	mbox := filepath.Join(t.TempDir(), "reports.mbox")
	content := "From ada@example.org Mon Nov 23 10:00:00 2026\n" + strings.ReplaceAll(fmt.Sprintf(reportMail, "m1@x"), "\r\n", "\n") +
		"\n>From the start it was broken.\n\nFrom bob@example.org Mon Nov 23 11:00:00 2026\n" +
		"From: bob@example.org\nSubject: second\nMessage-ID: <m2@x>\n\nbody\n"
	if err := os.WriteFile(mbox, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cli(t, "import", mbox, "--received", "2026-11-20T16:00:00+01:00", "-c", cfg)
	if code != 0 || strings.Count(out, "new case") != 2 {
		t.Fatalf("import (exit %d): %s %s", code, out, stderr)
	}
	out, _, _ = cli(t, "import", "-c", cfg, mbox)
	if strings.Count(out, "already imported") != 2 {
		t.Errorf("second import: %s", out)
	}
	out, _, _ = cli(t, "show", "CS-2026-0001", "-c", cfg, "--json")
	if !strings.Contains(out, `"received_at": "2026-11-20T16:00:00+01:00"`) {
		t.Errorf("receipt time is not --received:\n%s", out)
	}
	// The outbox waits for the daemon: start it and the acks go out.
	stop, _ := startDaemon(t, cfg)
	waitMail(t, ms, "reporter@example.org", regexp.MustCompile(`(?m)^Subject: \[CS-2026-0001\] Received:`))
	stop()
}

func TestExitCodes(t *testing.T) {
	ms := mailSystem(t)
	good := writeConfig(t, ms, "")
	bad := writeConfig(t, ms, "sla:\n  working_hours: 9-5\nimap_typo: 1\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"bad flag", []string{"cases", "--nope", "-c", good}, 2, "unknown flag"},
		{"bad config", []string{"check-config", "-c", bad}, 2, `sla.working_hours: want HH:MM-HH:MM, got "9-5"`},
		{"bad config names unknown key", []string{"check-config", "-c", bad}, 2, "imap_typo"},
		{"missing config", []string{"cases", "-c", "/nonexistent/c.yaml"}, 2, "read config"},
		{"unknown case", []string{"show", "CS-2026-0042", "-c", good}, 1, "no such case"},
		{"calendar usage", []string{"calendar", "add", "tomorrow", "3wd", "-c", good}, 2, "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "unknown case" {
				cli(t, "import", "-c", good, os.DevNull) // creates the store
			}
			_, stderr, code := cli(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

func TestCheckConfigMasksSecrets(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	out, _, code := cli(t, "check-config", "-c", cfg)
	if code != 0 || strings.Contains(out, "password: "+devPassword) || !strings.Contains(out, "********") {
		t.Errorf("check-config (exit %d):\n%s", code, out)
	}
}

// TestShowMarksInvisibleCharacters: a subject with a bidi override and a
// zero-width space is printed by cases and show with markers.
func TestShowMarksInvisibleCharacters(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	eml := filepath.Join(t.TempDir(), "r.eml")
	os.WriteFile(eml, []byte("From: Eve <eve@example.org>\r\nSubject: =?utf-8?q?invoice=E2=80=AEfdp.exe_#re=E2=80=8Bward?=\r\n"+
		"Message-ID: <bidi@example.org>\r\n\r\nhi\r\n"), 0o600)
	if _, stderr, code := cli(t, "import", eml, "-c", cfg); code != 0 {
		t.Fatal(stderr)
	}
	for _, args := range [][]string{{"show", "CS-2026-0001"}, {"cases"}} {
		out, _, code := cli(t, append(args, "-c", cfg)...)
		if code != 0 || !strings.Contains(out, "invoice[U+202E]fdp.exe #re[U+200B]ward") || strings.ContainsAny(out, "\u202E\u200B") {
			t.Errorf("%s (exit %d):\n%s", args[0], code, out)
		}
	}
}

// TestCheckConfigWarnsAboutCleartext: tls none is fine to loopback, and
// warned about to any other host.
func TestCheckConfigWarnsAboutCleartext(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	if _, stderr, code := cli(t, "check-config", "-c", cfg); code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("loopback, tls none (exit %d): %s", code, stderr)
	}
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(good), "address: "+ms.SMTPAddr(), "address: 192.0.2.25:25", 1)), 0o600)
	_, stderr, code := cli(t, "check-config", "-c", cfg)
	if code != 0 || !strings.Contains(stderr, "warning: smtp.tls is none but smtp.address 192.0.2.25:25 is not a loopback address") {
		t.Errorf("remote, tls none (exit %d): %s", code, stderr)
	}
}

func TestCalendarAdd(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	out, _, code := cli(t, "calendar", "add", "2026-11-20T16:00:00+01:00", "1wd", "-c", cfg)
	if code != 0 || strings.TrimSpace(out) != "2026-11-23T16:00:00+01:00" {
		t.Errorf("calendar add (exit %d) = %q", code, out)
	}
}

func TestDevPrintsExchangedMail(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, []string{"dev", "--dir", t.TempDir()}, env{stdout: &out, stderr: &out}) }()
	// The acknowledgment and the staff notice go out one after the other;
	// wait for both before stopping the demo.
	deadline := time.Now().Add(15 * time.Second)
	for !(strings.Contains(out.String(), "] Received: Reflected XSS") && strings.Contains(out.String(), "] New report: Reflected XSS")) &&
		time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IMAP  127.0.0.1:", "SMTP  127.0.0.1:", "=== mail from reporter@example.org to security@example.test",
		"] Received: Reflected XSS", "] New report: Reflected XSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev output lacks %q", want)
		}
	}
}
