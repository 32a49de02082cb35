package e2e

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ackSubject matches the acknowledgement sent to a reporter.
var ackSubject = regexp.MustCompile(`^\[(CS-\d{4}-\d{4})\] Received:`)

// How long the daemon may take to react to mail: IMAP IDLE pushes arrive
// ~0.5s after delivery, poll_interval is 2s, and sends go through Postfix.
const reactTimeout = 20 * time.Second

// quiet is how long a mailbox must stay unchanged to count as "no mail".
const quiet = 4 * time.Second

// TestMailstackRoundTrip guards the harness itself: Postfix's MTA port,
// submission with STARTTLS + AUTH (the daemon's path), IMAP STARTTLS with
// the CA, the catch-all route, and the count/clear helpers.
func TestMailstackRoundTrip(t *testing.T) {
	env := mailstack(t)
	pw := env["MAILSTACK_PASSWORD"]
	sec, rep, catch := env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_CATCHALL_USER"]
	mark := marker(t)

	report := buildMail([][2]string{
		{"From", rep}, {"To", sec}, {"Subject", "smoke report " + mark},
		{"Message-ID", "<smoke-" + mark + "@example.org>"}, {"Date", time.Now().Format(time.RFC1123Z)},
	}, "XSS in /search "+mark+"\n")
	sendMail(t, env, rep, []string{sec}, report)
	got := waitForMail(t, env, sec, pw, "INBOX", func(raw []byte) bool {
		return subjectOf(raw) == "smoke report "+mark
	}, 10*time.Second)
	if !bytes.Contains(got, []byte("XSS in /search "+mark)) {
		t.Errorf("security got the report without its body:\n%s", got)
	}

	reply := buildMail([][2]string{
		{"From", sec}, {"To", rep}, {"Subject", "Re: smoke report " + mark},
		{"In-Reply-To", "<smoke-" + mark + "@example.org>"}, {"Date", time.Now().Format(time.RFC1123Z)},
	}, "Thanks.\n")
	submitMail(t, env, sec, pw, []string{rep}, reply)
	waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
		return header(raw, "In-Reply-To") == "<smoke-"+mark+"@example.org>"
	}, 10*time.Second)
	isReply := func(raw []byte) bool { return subjectOf(raw) == "Re: smoke report "+mark }
	if n := countMail(t, env, rep, pw, "INBOX", isReply); n != 1 {
		t.Errorf("reporter has %d copies of the reply, want 1", n)
	}

	// Foreign domains land in catchall; clearMailbox empties it.
	foreign := buildMail([][2]string{{"From", sec}, {"To", "someone@elsewhere.invalid"}, {"Subject", "smoke foreign " + mark}}, "x\n")
	submitMail(t, env, sec, pw, []string{"someone@elsewhere.invalid"}, foreign)
	waitForMail(t, env, catch, pw, "INBOX", func(raw []byte) bool {
		return subjectOf(raw) == "smoke foreign "+mark
	}, 10*time.Second)
	clearMailbox(t, env, catch, pw, "INBOX")
	if n := countMail(t, env, catch, pw, "INBOX", nil); n != 0 {
		t.Errorf("catchall has %d messages after clearMailbox, want 0", n)
	}
}

// TestConfigIsValid checks that the harness writes a config the daemon
// accepts, so a renamed key fails here rather than as a silent timeout.
func TestConfigIsValid(t *testing.T) {
	env := mailstack(t)
	cfg := writeConfig(t, env, nil)
	if out, code := runCLI(t, cfg, "check-config"); code != 0 {
		t.Fatalf("check-config: exit %d\n%s", code, out)
	}
}

// reportMail is a first report from the reporter, marked with mark.
func reportMail(env map[string]string, mark string) (raw []byte, messageID, subject string) {
	messageID = "<report-" + mark + "@example.org>"
	subject = "XSS in /search " + mark
	raw = buildMail([][2]string{
		{"From", "Rita Reporter <" + env["MAILSTACK_REPORTER_USER"] + ">"},
		{"To", env["MAILSTACK_SECURITY_USER"]},
		{"Subject", subject},
		{"Message-ID", messageID},
		{"Date", time.Now().Format(time.RFC1123Z)},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
	}, "Hello,\n\nhttps://app.example.test/search?q=<script>alert(1)</script> reflects the query unescaped.\n\nMarker "+mark+"\n")
	return raw, messageID, subject
}

// sendReport sends a report and waits for its acknowledgement; it returns
// the case ID and the acknowledgement.
func sendReport(t *testing.T, env map[string]string, mark string) (id string, ack []byte) {
	t.Helper()
	pw := env["MAILSTACK_PASSWORD"]
	raw, msgID, _ := reportMail(env, mark)
	sendMail(t, env, env["MAILSTACK_REPORTER_USER"], []string{env["MAILSTACK_SECURITY_USER"]}, raw)
	ack = waitForMail(t, env, env["MAILSTACK_REPORTER_USER"], pw, "INBOX", func(raw []byte) bool {
		return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == msgID
	}, reactTimeout)
	return ackSubject.FindStringSubmatch(subjectOf(ack))[1], ack
}

// expectCountStays fails the test if, at any point during d, the number of
// messages in mailbox matching match is not want.
func expectCountStays(t *testing.T, env map[string]string, user, mailbox string, match func([]byte) bool, want int, d time.Duration) {
	t.Helper()
	c := imapLogin(t, env, user, env["MAILSTACK_PASSWORD"])
	deadline := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs, err := listMail(c, mailbox)
		if err != nil {
			t.Fatalf("%s %s: %v", user, mailbox, err)
		}
		n := 0
		var subjects []string
		for _, m := range msgs {
			if match == nil || match(m.Raw) {
				n++
				subjects = append(subjects, subjectOf(m.Raw))
			}
		}
		if n != want {
			t.Fatalf("%s %s has %d matching messages, want %d: %q", user, mailbox, n, want, subjects)
		}
		if time.Now().After(deadline) {
			return
		}
		<-tick.C
	}
}

// caseSummary and caseView are the parts of `cases --json` and
// `show --json` the tests look at.
type caseSummary struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Reporter string `json:"reporter"`
	Subject  string `json:"subject"`
	Class    string `json:"class"`
}

type caseView struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Reporter string `json:"reporter"`
	Messages []struct {
		Direction string `json:"direction"`
		Kind      string `json:"kind"`
		Subject   string `json:"subject"`
		MessageID string `json:"message_id"`
		Status    string `json:"status"`
	} `json:"messages"`
}

func listCases(t *testing.T, cfg string) []caseSummary {
	t.Helper()
	out, code := runCLI(t, cfg, "cases", "--json")
	if code != 0 {
		t.Fatalf("cases --json: exit %d", code)
	}
	var list []caseSummary
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("cases --json: %v\n%s", err, out)
	}
	return list
}

func showCase(t *testing.T, cfg, id string) caseView {
	t.Helper()
	out, code := runCLI(t, cfg, "show", id, "--json")
	if code != 0 {
		t.Fatalf("show %s --json: exit %d", id, code)
	}
	var v caseView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("show %s --json: %v\n%s", id, err, out)
	}
	return v
}

func directions(v caseView) map[string]int {
	n := map[string]int{}
	for _, m := range v.Messages {
		n[m.Direction]++
	}
	return n
}

func TestReportIsAcknowledged(t *testing.T) {
	env := mailstack(t)
	buildBinary(t) // fail before touching the mailboxes
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	rep := env["MAILSTACK_REPORTER_USER"]
	cfg := writeConfig(t, env, nil)
	d := startDaemon(t, cfg)

	mark := marker(t)
	id, ack := sendReport(t, env, mark)
	if v := header(ack, "Auto-Submitted"); !strings.HasPrefix(strings.ToLower(v), "auto-replied") {
		t.Errorf("acknowledgement Auto-Submitted = %q, want auto-replied (RFC 3834)", v)
	}
	if !strings.Contains(subjectOf(ack), mark) {
		t.Errorf("acknowledgement subject %q lacks the report's subject", subjectOf(ack))
	}
	waitForMail(t, env, env["MAILSTACK_STAFF_USER"], pw, "INBOX", func(raw []byte) bool {
		return strings.HasPrefix(subjectOf(raw), "["+id+"] New report:")
	}, reactTimeout)

	d.stop(t)
	// SPEC §7: the log never holds a secret or a message body.
	for _, secret := range []string{pw, "reflects the query unescaped"} {
		if strings.Contains(d.log(), secret) {
			t.Errorf("the daemon log contains %q", secret)
		}
	}
	list := listCases(t, cfg)
	if len(list) != 1 {
		t.Fatalf("cases --json lists %d cases, want 1: %+v", len(list), list)
	}
	if list[0].ID != id || !strings.EqualFold(list[0].Reporter, rep) {
		t.Errorf("case = %+v, want id %s reporter %s", list[0], id, rep)
	}
	v := showCase(t, cfg, id)
	if v.State != "acknowledged" {
		t.Errorf("state = %q, want acknowledged", v.State)
	}
	if dirs := directions(v); dirs["in"] < 1 || dirs["out"] < 1 {
		t.Errorf("messages by direction = %v, want at least one in and one out", dirs)
	}
}

func TestFollowUpJoinsCase(t *testing.T) {
	env := mailstack(t)
	buildBinary(t) // fail before touching the mailboxes
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	sec, rep, staff := env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"]
	cfg := writeConfig(t, env, nil)
	d := startDaemon(t, cfg)

	mark := marker(t)
	id, _ := sendReport(t, env, mark)

	// The reply carries only the tag in the subject, no In-Reply-To or
	// References, so the subject tag alone must join it to the case.
	followUp := buildMail([][2]string{
		{"From", "Rita Reporter <" + rep + ">"},
		{"To", sec},
		{"Subject", "Re: [" + id + "] more details " + mark},
		{"Message-ID", "<followup-" + mark + "@example.org>"},
		{"Date", time.Now().Format(time.RFC1123Z)},
	}, "The same bug also affects /profile.\n")
	sendMail(t, env, rep, []string{sec}, followUp)
	waitForMail(t, env, staff, pw, "INBOX", func(raw []byte) bool {
		return strings.HasPrefix(subjectOf(raw), "["+id+"] Reporter replied:")
	}, reactTimeout)

	isAck := func(raw []byte) bool { return ackSubject.MatchString(subjectOf(raw)) }
	expectCountStays(t, env, rep, "INBOX", isAck, 1, quiet)

	d.stop(t)
	if list := listCases(t, cfg); len(list) != 1 {
		t.Fatalf("cases --json lists %d cases, want 1 (the follow-up must not open a case): %+v", len(list), list)
	}
	v := showCase(t, cfg, id)
	if dirs := directions(v); dirs["in"] != 2 {
		t.Errorf("case has %d incoming messages, want 2 (report and follow-up); by direction %v", dirs["in"], dirs)
	}
}

func TestBounceGetsNoReply(t *testing.T) {
	env := mailstack(t)
	buildBinary(t) // fail before touching the mailboxes
	clearInboxes(t, env)
	sec, rep, catch := env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_CATCHALL_USER"]
	cfg := writeConfig(t, env, nil)
	d := startDaemon(t, cfg)

	mark := marker(t)
	dsn := readFixture(t, "bounce.eml", mark)
	// A DSN has the null reverse-path (RFC 5321 section 4.5.5).
	sendMail(t, env, "", []string{sec}, dsn)

	// The daemon marks a message processed only after committing it.
	waitForStored(t, env, sec, env["MAILSTACK_PASSWORD"], "INBOX", func(m storedMail) bool {
		return strings.Contains(subjectOf(m.Raw), mark) && m.hasFlag("$Processed")
	}, reactTimeout)
	// Its From (MAILER-DAEMON@mx.elsewhere.invalid) would route to catchall.
	expectCountStays(t, env, catch, "INBOX", nil, 0, quiet)
	expectCountStays(t, env, rep, "INBOX", nil, 0, 0)
	if !d.running() {
		t.Fatal("daemon died")
	}

	d.stop(t)
	list := listCases(t, cfg)
	if len(list) != 1 {
		t.Fatalf("cases --json lists %d cases, want 1 (the bounce): %+v", len(list), list)
	}
	if list[0].Class != "bounce" {
		t.Errorf("case class = %q, want bounce", list[0].Class)
	}
}
