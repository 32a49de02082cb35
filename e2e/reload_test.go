package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP sends the built binary SIGHUP twice: a good file with
// a new limits.max_message_bytes, sla.sweep, reward.max and ack template,
// each of which takes effect at once, and a bad one, which changes
// nothing. A changed key that needs a restart is named in the log.
func TestReloadOnSIGHUP(t *testing.T) {
	env := mailstack(t)
	buildBinary(t) // fail before touching the mailboxes
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	rep := env["MAILSTACK_REPORTER_USER"]
	base := map[string]any{"sla.sweep": "@every 1h", "reward.max": 1000, "limits.max_message_bytes": 1 << 20}
	cfg := writeConfig(t, env, base)
	dir := filepath.Dir(cfg)
	// rewrite replaces the config file in place, keeping the store and
	// the control socket of the running daemon.
	rewrite := func(overrides map[string]any, extra string) {
		t.Helper()
		all := map[string]any{"store.path": filepath.Join(dir, "d.db"), "control.socket": filepath.Join(dir, "ctl.sock")}
		for k, v := range overrides {
			all[k] = v
		}
		b, err := os.ReadFile(writeConfig(t, env, all))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, append(b, extra...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemon(t, cfg)
	waitLog := func(re string, after int) int {
		t.Helper()
		rx := regexp.MustCompile(re)
		deadline := time.Now().Add(reactTimeout)
		for {
			log := d.log()
			if loc := rx.FindStringIndex(log[min(after, len(log)):]); loc != nil {
				return after + loc[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log line matching %q within %s", re, reactTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	runs := func(from int) int { return strings.Count(d.log()[from:], `msg="sweep ran"`) }
	mark := marker(t)
	id := openCase(t, env, "Rita Reporter", "Reload "+mark, "The page https://app.example.test/ leaks tokens.\n")

	// Before: reward.max is 1000.
	staffCommand(t, env, id, "Reload "+mark, "#reward 2000", "", "q1")
	waitForMail(t, env, env["MAILSTACK_STAFF_USER"], pw, "INBOX", subjectPrefix("["+id+"] Refused:"), reactTimeout)

	tmpl := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tmpl, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpl, "en", "ack.tmpl"), []byte("Subject: [{{.CaseID}}] Received: reloaded {{.Subject}}\n\nhi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"sla.sweep": "@every 1s", "reward.max": 5000, "limits.max_message_bytes": 4096,
		"templates.dir": tmpl, "imap.poll_interval": "3s"}
	rewrite(good, "")
	at := len(d.log())
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	at = waitLog(`these settings take effect at restart.*keys=imap\.poll_interval`, at)
	at = waitLog(`config and templates reloaded`, at)

	// sla.sweep: the cron now runs every second.
	deadline := time.Now().Add(reactTimeout)
	for runs(at) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sweeps in the %s after the reload, want 3 with sla.sweep @every 1s", runs(at), reactTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// reward.max: 2000 is within the new bound.
	staffCommand(t, env, id, "Reload "+mark, "#reward 2000", "", "q2")
	waitForMail(t, env, rep, pw, "INBOX", subjectPrefix("["+id+"] Reward"), reactTimeout)
	// The template and limits.max_message_bytes: a new 8 KiB report is
	// acknowledged with the new subject and stored truncated.
	big := mark + "-big"
	msgID := sendAs(t, env, "Rita Reporter", rep, "Big "+big, strings.Repeat("overflow line\n", 600), "<big-"+big+"@example.org>")
	ack := waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
		return header(raw, "In-Reply-To") == msgID
	}, reactTimeout)
	if !strings.Contains(subjectOf(ack), "Received: reloaded Big "+big) {
		t.Errorf("acknowledgment %q does not use the reloaded template", subjectOf(ack))
	}
	bigID := ackSubject.FindStringSubmatch(subjectOf(ack))[1]
	if !truncatedIn(t, cfg, bigID) {
		t.Errorf("%s: the 8 KiB report was not truncated at the reloaded 4096 bytes", bigID)
	}

	// A bad file changes nothing: not the reward bound, not the template.
	bad := map[string]any{"sla.sweep": "@every 1h", "reward.max": 100, "limits.max_message_bytes": 1 << 20}
	rewrite(bad, "sla_typo: 1\n")
	at = len(d.log())
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	at = waitLog(`reload failed, keeping the running config`, at)
	staffCommand(t, env, id, "Reload "+mark, "#reward 3000", "", "q3")
	waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
		return strings.HasPrefix(subjectOf(raw), "["+id+"] Reward") && strings.Contains(mailBody(raw), "3000")
	}, reactTimeout)
	if n := runs(at); n == 0 {
		t.Errorf("no sweep ran after the bad reload: the sweep schedule changed")
	}
}

// truncatedIn reports whether case id's first message was stored
// truncated, asking the running daemon.
func truncatedIn(t *testing.T, cfg, id string) bool {
	t.Helper()
	out, code := runCLI(t, cfg, "show", id, "--json")
	if code != 0 {
		t.Fatalf("show %s: exit %d", id, code)
	}
	var v struct {
		Messages []struct {
			Direction string `json:"direction"`
			Truncated bool   `json:"truncated"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return len(v.Messages) > 0 && v.Messages[0].Direction == "in" && v.Messages[0].Truncated
}
