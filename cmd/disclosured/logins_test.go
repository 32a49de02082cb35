package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"disclosured/mailbox"
)

// TestRefusedSMTPLoginIsAnOutage: with a wrong smtp.password the server
// answers 535 to AUTH. Three reports make six mails that all stay pending,
// /healthz answers 503 with the server's answer at once, the failures are
// counted, and after the fix and a restart every mail goes out once.
func TestRefusedSMTPLoginIsAnOutage(t *testing.T) {
	ms := mailSystem(t)
	httpAddr := freePort(t)
	cfg := writeConfig(t, ms, "")
	good, _ := os.ReadFile(cfg)
	goodText := strings.Replace(string(good), `listen: ""`, "listen: "+httpAddr, 1)
	bad := strings.Replace(goodText, "smtp:\n  address: "+ms.SMTPAddr()+"\n  tls: none\n  username: security@example.test\n  password: "+devPassword,
		"smtp:\n  address: "+ms.SMTPAddr()+"\n  tls: none\n  username: security@example.test\n  password: wrong", 1)
	if bad == goodText {
		t.Fatal("could not break the smtp password in the config")
	}
	os.WriteFile(cfg, []byte(bad), 0o600)
	d := startOps(t, cfg)
	for i := range 3 {
		send(t, ms, "reporter@example.org", "security@example.test", fmt.Sprintf(reportMail, fmt.Sprintf("login-%d@example.org", i)))
	}
	d.waitLog(t, `smtp login refused; no mail is lost`)
	code, body := httpGet(t, "http://"+httpAddr+"/healthz")
	if code != 503 || !strings.Contains(body, "smtp login refused") || !strings.Contains(body, "535") {
		t.Errorf("/healthz = %d %q, want 503 with the server's 535", code, body)
	}
	_, metricsBody := httpGet(t, "http://"+httpAddr+"/metrics")
	if !regexp.MustCompile(`disclosured_login_failures_total\{service="smtp"\} [1-9]`).MatchString(metricsBody) {
		t.Errorf("no smtp login failure counted:\n%s", grepLines(metricsBody, "login_failures"))
	}
	if !strings.Contains(d.logs.String(), "smtp.password or smtp.password_file") {
		t.Errorf("the log line does not name the keys to check:\n%s", d.logs)
	}
	if strings.Contains(d.logs.String(), "password=wrong") || strings.Contains(d.logs.String(), " wrong") {
		t.Errorf("the log shows the password")
	}
	// Wait until all three reports are cases, then check nothing failed.
	waitFor(t, "three cases", func() bool {
		out, _, _ := cli(t, "cases", "-c", cfg)
		return strings.Count(out, "CS-2026-") == 3
	})
	d.stop(t)
	out, _, _ := cli(t, "show", "CS-2026-0003", "-c", cfg)
	if strings.Contains(out, "failed") {
		t.Errorf("a mail failed during the login outage:\n%s", out)
	}

	os.WriteFile(cfg, []byte(goodText), 0o600)
	d2 := startOps(t, cfg)
	ack := regexp.MustCompile(`(?m)^Subject: \[CS-2026-000[123]\] Received:`)
	waitFor(t, "three acknowledgments", func() bool { return countMail(t, ms, "reporter@example.org", ack) == 3 })
	waitFor(t, "three staff notices", func() bool {
		return countMail(t, ms, "staff@example.test", regexp.MustCompile(`New report: SQL injection`)) == 3
	})
	if code, body := httpGet(t, "http://"+httpAddr+"/healthz"); code != 200 {
		t.Errorf("/healthz after the fix = %d %q, want 200", code, body)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive within this
	if n := countMail(t, ms, "reporter@example.org", ack); n != 3 {
		t.Errorf("%d acknowledgments, want 3 (each once)", n)
	}
	d2.stop(t)
}

// TestLoginWatchLogsOncePerOutage: many refusals make one error line, the
// recovery one info line, and the health check follows the state.
func TestLoginWatchLogsOncePerOutage(t *testing.T) {
	var logs syncBuffer
	w := newLoginWatch(slog.New(slog.NewTextHandler(&logs, nil)), true, false)
	counted := 0
	w.setCounter(func(string) { counted++ })
	refused := &mailbox.LoginError{Service: "imap", Err: errors.New("NO [AUTHENTICATIONFAILED] AUTHENTICATE failed.")}
	for range 5 {
		w.report("imap")(refused)
	}
	if err := w.check(); err == nil || !strings.Contains(err.Error(), "imap login refused: NO [AUTHENTICATIONFAILED]") {
		t.Errorf("check() = %v, want the refusal", err)
	}
	w.report("imap")(nil)
	w.report("imap")(nil)
	if err := w.check(); err != nil {
		t.Errorf("check() after the fix = %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 || counted != 5 {
		t.Errorf("%d refusal lines and %d counted, want 1 and 5:\n%s", n, counted, out)
	}
	if !strings.Contains(out, "oauth2.*") || strings.Count(out, "imap login works again") != 1 {
		t.Errorf("want the oauth2 keys named and one recovery line:\n%s", out)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
