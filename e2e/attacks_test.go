package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// Issue 11's attacks 1-4 against the built binary, through Postfix and
// Dovecot.

// waitProcessed waits until the message with Message-ID msgID in the
// security mailbox carries the processed mark.
func waitProcessed(t *testing.T, env map[string]string, msgID string) {
	t.Helper()
	waitForStored(t, env, env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_PASSWORD"], "INBOX", func(m storedMail) bool {
		return header(m.Raw, "Message-ID") == msgID && m.hasFlag("$Processed")
	}, reactTimeout)
}

// clientSubject is the subject a staff client shows for raw: decoded, and
// decoded once more, as a careless client or a forwarding chain might.
func clientSubject(raw []byte) string {
	s := subjectOf(raw)
	if twice, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		s = twice
	}
	return s
}

// TestHostileMessagesDoNotStopIntake is attack 1 and SPEC §8's "never
// blocks the messages behind it": one batch holds a subject whose encoded
// word decodes to a newline, a From with a 36 KB quoted local part, a
// report whose acknowledgment cannot be rendered (an operator template
// that fails on it), and an innocent report. Every one becomes a case and
// is marked processed; the innocent reporter is acknowledged.
func TestHostileMessagesDoNotStopIntake(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw, sec, rep := env["MAILSTACK_PASSWORD"], env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_REPORTER_USER"]
	tdir := t.TempDir()
	os.MkdirAll(filepath.Join(tdir, "en"), 0o755)
	if err := os.WriteFile(filepath.Join(tdir, "en", "ack.tmpl"), []byte("Subject: [{{.CaseID}}] Received: {{.Subject}}\n\n"+
		"{{if eq .Subject \"poison\"}}{{index .URLs 99}}{{end}}Thank you.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, env, map[string]any{"templates.dir": tdir})
	mark := marker(t)
	ids := []string{"<nl-" + mark + "@evil.example>", "<long-" + mark + "@evil.example>", "<poison-" + mark + "@example.org>", "<ok-" + mark + "@example.org>"}
	msgs := [][]byte{
		buildMail([][2]string{{"From", "eve@evil.example"}, {"To", sec}, {"Subject", "=?utf-8?q?line1=0Aline2?="}, {"Message-ID", ids[0]}}, "newline in the subject\n"),
		buildMail([][2]string{{"From", "\"" + strings.Repeat("a", 36<<10) + "\"@evil.example"}, {"To", sec}, {"Subject", "long sender"}, {"Message-ID", ids[1]}}, "long sender\n"),
		buildMail([][2]string{{"From", "Rita <" + rep + ">"}, {"To", sec}, {"Subject", "poison"}, {"Message-ID", ids[2]}}, "this one breaks the template\n"),
		buildMail([][2]string{{"From", "Rita <" + rep + ">"}, {"To", sec}, {"Subject", "innocent " + mark}, {"Message-ID", ids[3]}}, "XSS in the search box\n"),
	}
	for _, m := range msgs {
		appendMail(t, env, sec, pw, "INBOX", m, time.Now())
	}
	d := startDaemon(t, cfg)
	waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
		return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == ids[3]
	}, reactTimeout)
	for _, id := range ids {
		waitProcessed(t, env, id)
	}
	waitForMail(t, env, env["MAILSTACK_STAFF_USER"], pw, "INBOX", func(raw []byte) bool {
		return strings.HasSuffix(subjectOf(raw), "New report: poison")
	}, reactTimeout)
	d.stop(t)
	year := strconv.Itoa(time.Now().Year())
	var failed int
	for i := 1; i <= 4; i++ {
		v := showFull(t, cfg, fmt.Sprintf("CS-%s-%04d", year, i))
		if strings.ContainsAny(v.Subject, "\r\n") {
			t.Errorf("%s subject %q is not one line", v.ID, v.Subject)
		}
		for _, ev := range v.Events {
			failed += map[bool]int{true: 1}[ev.Type == "ingest_failed"]
		}
	}
	if failed != 1 {
		t.Errorf("%d ingest_failed events, want 1 (the poisoned report)", failed)
	}
	if out, _ := runCLI(t, cfg, "show", fmt.Sprintf("CS-%s-0005", year)); strings.Contains(out, "CS-") {
		t.Errorf("a fifth case exists: %s", out)
	}
}

// TestReporterSubjectNeverCommandsStaff is attack 2: a subject that
// decodes to an encoded word full of keywords, and one with an encoded
// blank line before keywords; staff answer our notices with a plain "Re:"
// as their client shows them, and nothing is applied.
func TestReporterSubjectNeverCommandsStaff(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw, rep, staff := env["MAILSTACK_PASSWORD"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"]
	cfg := writeConfig(t, env, nil)
	d := startDaemon(t, cfg)
	var cases []string
	for i, subject := range []string{
		"=?utf-8?b?PT91dGYtOD9xPz0yM3Jld2FyZF8xMDAwXz0yM3Jlc29sdmVkPz0=?=",
		"=?utf-8?q?hello=0D=0A=0D=0A=23reward_1000_=23resolved?=",
	} {
		msgID := fmt.Sprintf("<subj%d-%s@example.org>", i, marker(t))
		sendAs(t, env, "Rita", rep, subject, "report body\n", msgID)
		ack := waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
			return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == msgID
		}, reactTimeout)
		id := ackSubject.FindStringSubmatch(subjectOf(ack))[1]
		cases = append(cases, id)
		notice := waitForMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] New report:"), reactTimeout)
		shown := clientSubject(notice)
		if strings.Contains(shown, "#") {
			t.Errorf("staff client shows %q: a '#' staff did not type", shown)
		}
		replyID := fmt.Sprintf("<staff%d-%s@example.test>", i, marker(t))
		sendAs(t, env, "Sam Staff", staff, "Re: "+shown, "Looking into it.\n", replyID)
		waitProcessed(t, env, replyID)
	}
	expectCountStays(t, env, rep, "INBOX", nil, 2, quiet)
	d.stop(t)
	for _, id := range cases {
		v := showFull(t, cfg, id)
		if v.State != "acknowledged" || v.Reward != nil {
			t.Errorf("%s: state %s reward %+v after a reply without keywords", id, v.State, v.Reward)
		}
		for _, ev := range v.Events {
			if ev.Type == "command" {
				t.Errorf("%s: command applied: %+v", id, ev)
			}
		}
	}
}

// TestForgedConsentFails is attack 3: a stranger plants a Message-ID on
// our domain in the case, with From: the reporter, then "consents" in
// reply to it; the owner of the third-party system must still get the
// report without the reporter's identity.
func TestForgedConsentFails(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw, rep, sec := env["MAILSTACK_PASSWORD"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_SECURITY_USER"]
	cfg := writeConfig(t, env, nil)
	d := startDaemon(t, cfg)
	mark := marker(t)
	subject := "Open redirect " + mark
	id := openCase(t, env, "Rita Reporter", subject, "The redirect at https://shop.thirdparty.example/r?u= is open.\n")

	planted := "<planted-" + mark + "@example.test>"
	sendMail(t, env, "mallory@evil.example", []string{sec}, buildMail([][2]string{
		{"From", "Rita Reporter <" + rep + ">"}, {"To", sec}, {"Subject", "Re: [" + id + "] more"}, {"Message-ID", planted}}, "more\n"))
	waitProcessed(t, env, planted)
	consent := "<consent-" + mark + "@evil.example>"
	sendMail(t, env, "mallory@evil.example", []string{sec}, buildMail([][2]string{
		{"From", "Rita Reporter <" + rep + ">"}, {"To", sec}, {"Subject", "Re: [" + id + "] #share #credit Mallory"},
		{"Message-ID", consent}, {"In-Reply-To", planted}, {"References", planted}}, "I agree\n"))
	waitProcessed(t, env, consent)

	staffCommand(t, env, id, subject, "#thirdparty owner@thirdparty.example", "Please fix this.", "q-"+mark)
	owner := waitForMail(t, env, env["MAILSTACK_CATCHALL_USER"], pw, "INBOX", subjectPrefix("["+id+"] Security report"), reactTimeout)
	d.stop(t)
	for _, s := range []string{rep, "Rita", "Reporter"} {
		if bytes.Contains(bytes.ToLower(owner), bytes.ToLower([]byte(s))) {
			t.Errorf("the owner's mail names the reporter (%q) after a forged consent", s)
		}
	}
	v := showFull(t, cfg, id)
	for _, ev := range v.Events {
		if ev.Type == "consent" {
			t.Errorf("forged consent recorded: %+v", ev)
		}
	}
}

// TestDKIMReplayCommandsNothing is attack 4: our acknowledgment, DKIM
// signed as the company MTA would (From, To, Subject, Date, Message-ID,
// threading and MIME fields; not oversigned), is sent back with a second
// From (staff) and Subject (keywords) above the signed ones and the
// unsigned fields dropped. The signature still verifies and the MTA's
// Authentication-Results says dkim=pass for the staff domain, yet nothing
// is applied and staff are told.
func TestDKIMReplayCommandsNothing(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw, rep, staff, sec := env["MAILSTACK_PASSWORD"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"], env["MAILSTACK_SECURITY_USER"]
	cfg := writeConfig(t, env, map[string]any{"staff.auth": "authres", "staff.authserv_id": "mx.example.test"})
	d := startDaemon(t, cfg)
	mark := marker(t)
	id := openCase(t, env, "Rita Reporter", "CSRF in settings "+mark, "The settings form has no token.\n")
	ack := waitForMail(t, env, rep, pw, "INBOX", subjectPrefix("["+id+"] Received:"), reactTimeout)
	// As it left the company MTA: without the receiving side's fields.
	ack = []byte(dropFields(string(ack), "Return-Path", "Delivered-To", "Received", "X-Original-To"))
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, bytes.NewReader(ack), &dkim.SignOptions{Domain: "example.test", Selector: "e2e", Signer: key,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-Id", "In-Reply-To", "References", "Mime-Version", "Content-Type"}}); err != nil {
		t.Fatal(err)
	}
	replay := "From: Sam Staff <" + staff + ">\r\nSubject: Re: [" + id + "] #reward 1000 #resolved\r\n" +
		dropFields(signed.String(), "X-Disclosured-Case", "Auto-Submitted", "X-Auto-Response-Suppress")
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(replay), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) {
		return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
	}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
		t.Fatalf("the replayed mail must still verify for the attack to be real: %v %v", err, verifs[0].Err)
	}
	// What the company MTA writes for it.
	replay = "Authentication-Results: mx.example.test; dkim=pass header.d=" + verifs[0].Domain + "\r\n" + replay
	sendMail(t, env, rep, []string{sec}, []byte(replay))
	refused := waitForMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] Refused:"), reactTimeout)
	if !strings.Contains(mailBody(refused), "more than one From, Subject") {
		t.Errorf("refusal does not say why:\n%s", mailBody(refused))
	}
	expectCountStays(t, env, rep, "INBOX", nil, 1, quiet)
	d.stop(t)
	v := showFull(t, cfg, id)
	if v.State != "acknowledged" || v.Reward != nil {
		t.Errorf("replay applied: state %s reward %+v", v.State, v.Reward)
	}
	for _, ev := range v.Events {
		if ev.Type == "command" {
			t.Errorf("command applied: %+v", ev)
		}
	}
}

// dropFields removes the named header fields (with their continuation
// lines) from a CRLF message.
func dropFields(msg string, names ...string) string {
	var out strings.Builder
	drop, inBody := false, false
	for _, line := range strings.SplitAfter(msg, "\r\n") {
		if inBody || line == "\r\n" {
			inBody = true
			out.WriteString(line)
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := strings.Cut(line, ":")
			drop = false
			for _, n := range names {
				drop = drop || strings.EqualFold(strings.TrimSpace(name), n)
			}
		}
		if !drop {
			out.WriteString(line)
		}
	}
	return out.String()
}
