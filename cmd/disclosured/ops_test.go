package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"disclosured/store"
)

// opsDaemon runs `run` in-process with a reload channel the test controls.
type opsDaemon struct {
	cancel context.CancelFunc
	done   chan error
	hup    chan os.Signal
	logs   *syncBuffer
}

func startOps(t *testing.T, cfg string) *opsDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &opsDaemon{cancel: cancel, done: make(chan error, 1), hup: make(chan os.Signal, 1), logs: &syncBuffer{}}
	go func() {
		d.done <- dispatch(ctx, []string{"run", "-c", cfg}, env{stdout: d.logs, stderr: d.logs, reload: d.hup})
	}()
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *opsDaemon) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("daemon: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("daemon did not stop within 20s")
	}
}

func (d *opsDaemon) waitLog(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(15 * time.Second)
	for !rx.MatchString(d.logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("log never matched %q:\n%s", re, d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCommandsReachTheRunningDaemon(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	d := startOps(t, cfg)
	send(t, ms, "reporter@example.org", "security@example.test", fmt.Sprintf(reportMail, "ops-1@example.org"))
	waitMail(t, ms, "reporter@example.org", regexp.MustCompile(`Received: SQL injection`))

	// While the daemon holds the store, the CLI goes through the socket.
	out, stderr, code := cli(t, "cases", "--json", "-c", cfg)
	if code != 0 || !strings.Contains(out, `"reporter": "reporter@example.org"`) {
		t.Fatalf("cases through the daemon (exit %d): %s %s", code, out, stderr)
	}
	out, _, code = cli(t, "show", "CS-2026-0001", "-c", cfg)
	if code != 0 || !strings.Contains(out, "State:     acknowledged") || !strings.Contains(out, "Reporter:  Ada Reporter <reporter@example.org>\n") {
		t.Errorf("show through the daemon (exit %d): %s", code, out)
	}
	if _, stderr, code := cli(t, "show", "CS-2026-0404", "-c", cfg); code != 1 || !strings.Contains(stderr, "no such case") {
		t.Errorf("unknown case through the daemon: exit %d, %q", code, stderr)
	}
	if _, stderr, code := cli(t, "cases", "--bogus", "-c", cfg); code != 2 || !strings.Contains(stderr, "unknown flag") {
		t.Errorf("usage error through the daemon: exit %d, %q", code, stderr)
	}
	eml := filepath.Join(t.TempDir(), "r.eml")
	os.WriteFile(eml, []byte("From: eve@example.org\r\nSubject: imported\r\nMessage-ID: <imp@x>\r\n\r\nhello\r\n"), 0o600)
	out, _, code = cli(t, "import", eml, "--received", "2026-11-23T10:00:00+01:00", "-c", cfg)
	if code != 0 || !strings.Contains(out, "new case") {
		t.Errorf("import through the daemon (exit %d): %s", code, out)
	}
	// The daemon's own outbox sends the imported report's ack at once.
	waitMail(t, ms, "catchall@example.test", regexp.MustCompile(`Received: imported`))

	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, stderr, code := cli(t, "backup", backup, "-c", cfg); code != 0 {
		t.Fatalf("backup (exit %d): %s", code, stderr)
	}
	d.stop(t)
	if strings.Contains(d.logs.String(), "locked") {
		t.Errorf("a command met the store lock:\n%s", d.logs)
	}
	// Restore: the copy opens and holds every case.
	db, err := store.Open(backup, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.View(func(tx *store.Tx) error {
		cases, err := tx.Cases()
		n = len(cases)
		return err
	})
	if n != 2 {
		t.Errorf("backup holds %d cases, want 2", n)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	ms := mailSystem(t)
	addr := freePort(t)
	cfg := writeConfig(t, ms, "")
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(text, []byte(`listen: ""`), []byte("listen: "+addr), 1), 0o600)
	d := startOps(t, cfg)
	send(t, ms, "reporter@example.org", "security@example.test", fmt.Sprintf(reportMail, "m-1@example.org"))
	waitMail(t, ms, "staff@example.test", regexp.MustCompile(`New report: SQL injection`))
	d.waitLog(t, `kind=new-report`)

	code, body := httpGet(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`disclosured_messages_ingested_total{class="human"} 1`,
		`disclosured_cases{state="acknowledged"} 1`,
		`disclosured_imap_connected 1`,
		`disclosured_outbox_pending 0`,
		`disclosured_mail_sent_total{kind="ack"} 1`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "disclosured_panics_recovered_total{") {
		t.Errorf("a panic was recovered:\n%s", body)
	}
	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
}

func TestReloadSwapsOnlyValidConfig(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	good, _ := os.ReadFile(cfg)
	d := startOps(t, cfg)
	d.waitLog(t, "imap connected")

	// A broken config is refused and the daemon keeps running.
	os.WriteFile(cfg, append(append([]byte{}, good...), []byte("sla:\n  working_hours: 9-5\n")...), 0o600)
	d.hup <- syscall.SIGHUP
	d.waitLog(t, `reload failed, keeping the running config.*sla.working_hours`)

	// A good one with a template override takes effect.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "ack.tmpl"), []byte("Subject: [{{.CaseID}}] Received: reloaded template\n\nhi\n"), 0o600)
	os.WriteFile(cfg, append(append([]byte{}, good...), []byte("templates:\n  dir: "+dir+"\n")...), 0o600)
	d.hup <- syscall.SIGHUP
	d.waitLog(t, "config and templates reloaded")
	send(t, ms, "reporter@example.org", "security@example.test", fmt.Sprintf(reportMail, "reload-1@example.org"))
	waitMail(t, ms, "reporter@example.org", regexp.MustCompile(`Received: reloaded template`))
}

func TestEraseRemovesPersonalDataFromTheFile(t *testing.T) {
	for _, viaDaemon := range []bool{false, true} {
		t.Run(fmt.Sprintf("daemon=%v", viaDaemon), func(t *testing.T) {
			ms := mailSystem(t)
			cfg := writeConfig(t, ms, "")
			eml := filepath.Join(t.TempDir(), "r.eml")
			os.WriteFile(eml, []byte("From: Grace Hopper <grace.hopper@example.org>\r\nSubject: Bug in COBOL parser\r\n"+
				"Message-ID: <gh@mail.hopper-home.example>\r\n\r\nI am Grace Hopper, grace.hopper@example.org. The parser crashes.\r\n"), 0o600)
			if _, stderr, code := cli(t, "import", eml, "-c", cfg); code != 0 {
				t.Fatal(stderr)
			}
			var d *opsDaemon
			if viaDaemon {
				d = startOps(t, cfg)
				d.waitLog(t, "imap connected")
			}
			out, stderr, code := cli(t, "erase", "CS-2026-0001", "-c", cfg)
			if code != 0 || !strings.Contains(out, "erased") {
				t.Fatalf("erase (exit %d): %s %s", code, out, stderr)
			}
			out, _, _ = cli(t, "show", "CS-2026-0001", "--json", "-c", cfg)
			var v struct {
				State    string
				Reporter string
			}
			if json.Unmarshal([]byte(out), &v) != nil || v.Reporter != "[erased]" {
				t.Errorf("tombstone: %s", out)
			}
			if d != nil {
				d.stop(t)
			}
			raw, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "d.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"grace.hopper@example.org", "Grace Hopper", "COBOL", "hopper-home"} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("the store file still contains %q", secret)
				}
			}
		})
	}
}

// TestSMTPOutageDelaysButLosesNothing: with the SMTP server unreachable the
// report still becomes a case and its mail waits, visible in show; once the
// server is back, each mail is delivered exactly once.
func TestSMTPOutageDelaysButLosesNothing(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	good, _ := os.ReadFile(cfg)
	dead := freePort(t) // nothing listens here
	os.WriteFile(cfg, []byte(strings.Replace(string(good), "address: "+ms.SMTPAddr(), "address: "+dead, 1)), 0o600)
	d := startOps(t, cfg)
	send(t, ms, "reporter@example.org", "security@example.test", fmt.Sprintf(reportMail, "outage-1@example.org"))
	d.waitLog(t, `mail not sent, will retry.*kind=ack`)
	// The log line is written inside the transaction that records the
	// failure, so look until both mails show it or the deadline passes.
	var problems []string
	for deadline := time.Now().Add(15 * time.Second); ; {
		out, _, code := cli(t, "show", "CS-2026-0001", "--json", "-c", cfg)
		var v struct {
			Messages []struct {
				Direction, Kind, Status string
				LastError               string `json:"last_error"`
			}
		}
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("show during the outage (exit %d): %s", code, out)
		}
		problems = problems[:0]
		outgoing := 0
		for _, m := range v.Messages {
			if m.Direction != "out" {
				continue
			}
			outgoing++
			if m.Status != "pending" || m.LastError == "" {
				problems = append(problems, fmt.Sprintf("%s mail: %s %q, want pending with the error", m.Kind, m.Status, m.LastError))
			}
		}
		if outgoing < 2 {
			problems = append(problems, fmt.Sprintf("%d outgoing mails, want the ack and the staff notice", outgoing))
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error("during the outage: " + p)
	}
	d.stop(t)
	os.WriteFile(cfg, good, 0o600)
	startOps(t, cfg)
	re := regexp.MustCompile(`(?m)^Subject: \[CS-2026-0001\] Received:`)
	waitMail(t, ms, "reporter@example.org", re)
	waitMail(t, ms, "staff@example.test", regexp.MustCompile(`New report: SQL injection`))
	time.Sleep(300 * time.Millisecond)
	if n := countMail(t, ms, "reporter@example.org", re); n != 1 {
		t.Errorf("%d acknowledgments after the outage, want 1", n)
	}
}

// TestSystemdNotify: with NOTIFY_SOCKET set, as under Type=notify, the
// daemon reports READY=1 after its first IMAP login and STOPPING=1 when it
// shuts down.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	got := make(chan string, 10)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	next := func() string {
		select {
		case s := <-got:
			return s
		case <-time.After(15 * time.Second):
			return "nothing within 15s"
		}
	}
	ms := mailSystem(t)
	d := startOps(t, writeConfig(t, ms, ""))
	if s := next(); s != "READY=1" {
		t.Errorf("first notification %q, want READY=1", s)
	}
	if !strings.Contains(d.logs.String(), "imap connected") {
		t.Error("READY=1 came before the first IMAP login")
	}
	d.stop(t)
	if s := next(); s != "STOPPING=1" {
		t.Errorf("notification at shutdown %q, want STOPPING=1", s)
	}
}

// TestImportThroughTheDaemonIsTheSame: the same file imported with and
// without a running daemon gives the same case: the receipt time is the
// file's modification time, sent along through the control socket, and
// the message is cut at limits.max_message_bytes the same way.
func TestImportThroughTheDaemonIsTheSame(t *testing.T) {
	mtime := time.Date(2026, 11, 19, 9, 30, 0, 0, time.UTC)
	eml := filepath.Join(t.TempDir(), "r.eml")
	os.WriteFile(eml, []byte("From: Ada <ada@example.org>\r\nSubject: Import\r\nMessage-ID: <imp@x>\r\n\r\n"+
		strings.Repeat("a long report line\r\n", 400)), 0o600)
	if err := os.Chtimes(eml, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	type view struct {
		ReceivedAt time.Time `json:"received_at"`
		Messages   []struct {
			Size      int64 `json:"size"`
			Truncated bool  `json:"truncated"`
			Text      string
		} `json:"messages"`
	}
	var got [2]view
	for i, viaDaemon := range []bool{false, true} {
		ms := mailSystem(t)
		cfg := writeConfig(t, ms, "limits:\n  max_message_bytes: 4096\n")
		if viaDaemon {
			d := startOps(t, cfg)
			d.waitLog(t, "imap connected")
		}
		if out, stderr, code := cli(t, "import", "-c", cfg, eml); code != 0 || !strings.Contains(out, "new case") {
			t.Fatalf("daemon=%v: import (exit %d): %s %s", viaDaemon, code, out, stderr)
		}
		out, _, _ := cli(t, "show", "CS-2026-0001", "--json", "-c", cfg)
		if err := json.Unmarshal([]byte(out), &got[i]); err != nil || len(got[i].Messages) == 0 {
			t.Fatalf("daemon=%v: show: %v\n%s", viaDaemon, err, out)
		}
		v := got[i]
		if !v.ReceivedAt.Equal(mtime) {
			t.Errorf("daemon=%v: received %s, want the file's time %s", viaDaemon, v.ReceivedAt, mtime)
		}
		if m := v.Messages[0]; !m.Truncated || m.Size != 8000+int64(len("From: Ada <ada@example.org>\r\nSubject: Import\r\nMessage-ID: <imp@x>\r\n\r\n")) {
			t.Errorf("daemon=%v: message size %d truncated %v", viaDaemon, m.Size, m.Truncated)
		}
	}
	if got[0].Messages[0].Text != got[1].Messages[0].Text {
		t.Error("the daemon stored another text than the local import")
	}
}
