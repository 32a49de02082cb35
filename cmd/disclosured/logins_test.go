package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"disclosured/devmail"
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

// exchangeSystem starts devmail with the demo users whose IMAP server
// behaves as Exchange Online's (devmail.Exchange).
func exchangeSystem(t *testing.T, x devmail.Exchange) *devmail.System {
	t.Helper()
	var users []devmail.User
	for _, u := range devUsers {
		users = append(users, devmail.User{Address: u, Password: devPassword})
	}
	ms, err := devmail.Start(context.Background(), devmail.Options{Users: users, CatchAll: "catchall@example.test", Exchange: &x})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	return ms
}

// TestDaemonOnExchangeOnline runs the daemon against an IMAP server with
// Exchange Online's capabilities, flags and BAD answers to keywords: 20
// reports become 20 cases, each fetched once, all moved to Processed, and
// no keyword is sent.
func TestDaemonOnExchangeOnline(t *testing.T) {
	for _, tt := range []struct {
		name string
		x    devmail.Exchange
	}{
		{name: "exchange online"},
		{name: "without uidplus and move", x: devmail.Exchange{NoMove: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := exchangeSystem(t, tt.x)
			httpAddr := freePort(t)
			cfg := writeConfig(t, ms, "")
			text, _ := os.ReadFile(cfg)
			os.WriteFile(cfg, []byte(strings.Replace(string(text), `listen: ""`, "listen: "+httpAddr, 1)), 0o600)
			for i := range 20 {
				raw := fmt.Sprintf("From: Reporter %d <reporter%d@example.org>\r\nTo: security@example.test\r\n"+
					"Subject: Finding %d\r\nMessage-ID: <exchange-%d@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\n"+
					"Finding %d: https://shop.example.com/item/%d leaks data.\r\n", i, i, i, i, i, i)
				if err := ms.Deliver("security@example.test", []byte(raw), time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			d := startOps(t, cfg)
			waitFor(t, "20 messages in Processed", func() bool {
				msgs, _ := ms.Messages("security@example.test", "Processed")
				inbox, _ := ms.Messages("security@example.test", "INBOX")
				return len(msgs) == 20 && len(inbox) == 0
			})
			if n := ms.BodiesFetched(); n != 20 {
				t.Errorf("%d bodies fetched, want 20", n)
			}
			if n := ms.KeywordRefusals(); n != 0 {
				t.Errorf("%d keyword commands refused, want none sent", n)
			}
			if code, body := httpGet(t, "http://"+httpAddr+"/healthz"); code != 200 {
				t.Errorf("/healthz = %d %q", code, body)
			}
			d.stop(t)
			out, _, code := cli(t, "cases", "-c", cfg)
			if n := strings.Count(out, "CS-2026-"); code != 0 || n != 20 {
				t.Errorf("%d cases (exit %d), want 20:\n%s", n, code, out)
			}
		})
	}
}

// TestScanFailureMakesHealthFail: a mailbox the server refuses to select
// makes /healthz fail with the server's answer after the second refusal.
func TestScanFailureMakesHealthFail(t *testing.T) {
	ms := mailSystem(t)
	httpAddr := freePort(t)
	cfg := writeConfig(t, ms, "")
	text, _ := os.ReadFile(cfg)
	text = []byte(strings.Replace(string(text), `listen: ""`, "listen: "+httpAddr, 1))
	text = []byte(strings.Replace(string(text), "poll_interval: 5s", "poll_interval: 5s\n  mailbox: Reports", 1))
	os.WriteFile(cfg, text, 0o600)
	d := startOps(t, cfg)
	d.waitLog(t, `imap server refuses the scan the same way again`)
	code, body := httpGet(t, "http://"+httpAddr+"/healthz")
	if code != 503 || !strings.Contains(body, "imap scan keeps failing") || !strings.Contains(body, "select Reports") {
		t.Errorf("/healthz = %d %q, want 503 with the refused SELECT", code, body)
	}
}

// TestRefusedIMAPLoginFailsHealthAtOnce: a wrong imap.password is on
// /healthz with the server's answer at once, not after the 10 minutes a
// disconnection may last, and counted.
func TestRefusedIMAPLoginFailsHealthAtOnce(t *testing.T) {
	ms := mailSystem(t)
	httpAddr := freePort(t)
	cfg := writeConfig(t, ms, "")
	text, _ := os.ReadFile(cfg)
	s := strings.Replace(string(text), `listen: ""`, "listen: "+httpAddr, 1)
	s = strings.Replace(s, "username: security@example.test\n  password: "+devPassword+"\n  poll_interval",
		"username: security@example.test\n  password: wrong\n  poll_interval", 1)
	os.WriteFile(cfg, []byte(s), 0o600)
	d := startOps(t, cfg)
	d.waitLog(t, `imap login refused; no mail is lost`)
	code, body := httpGet(t, "http://"+httpAddr+"/healthz")
	if code != 503 || !strings.Contains(body, "imap login refused") {
		t.Errorf("/healthz = %d %q, want 503 with the refused login", code, body)
	}
	_, metricsBody := httpGet(t, "http://"+httpAddr+"/metrics")
	if !regexp.MustCompile(`disclosured_login_failures_total\{service="imap"\} [1-9]`).MatchString(metricsBody) {
		t.Errorf("no imap login failure counted:\n%s", grepLines(metricsBody, "login_failures"))
	}
	if !strings.Contains(d.logs.String(), "Check imap.username and imap.password or imap.password_file") {
		t.Errorf("the log line does not name the keys:\n%s", d.logs)
	}
}

// TestForeignChangeFailsHealthForAnHour: messages another client took
// while we processed them fail /healthz for an hour.
func TestForeignChangeFailsHealthForAnHour(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	w := newLoginWatch(slog.New(slog.DiscardHandler), false, false)
	w.now = func() time.Time { return now }
	w.foreignChange(2)
	if err := w.check(); err == nil || !strings.Contains(err.Error(), "second daemon") {
		t.Errorf("check() = %v, want the second-daemon warning", err)
	}
	now = now.Add(61 * time.Minute)
	if err := w.check(); err != nil {
		t.Errorf("check() an hour later = %v", err)
	}
}
