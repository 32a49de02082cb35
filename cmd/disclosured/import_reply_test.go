package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportStaffReplyCutsQuote imports a report, then a staff #reply
// written on Outlook for iOS (app signature, header block, the report
// quoted below), and checks that the reporter receives exactly the new
// text: none of the signature, the header block or the quoted report.
func TestImportStaffReplyCutsQuote(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	dir := t.TempDir()
	report := filepath.Join(dir, "report.eml")
	os.WriteFile(report, []byte("From: Ada Reporter <reporter@example.org>\r\nTo: security@example.test\r\n"+
		"Subject: SQL injection in search\r\nMessage-ID: <rep-1@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\n"+
		"The search at https://shop.example.com/search?q=' returns a database error.\r\n"), 0o600)
	if out, stderr, code := cli(t, "import", report, "-c", cfg); code != 0 || !strings.Contains(out, "new case") {
		t.Fatalf("import report (exit %d): %s %s", code, out, stderr)
	}
	id := "CS-2026-0001"
	if out, _, _ := cli(t, "cases", "-c", cfg); !strings.Contains(out, id) {
		id = regexp.MustCompile(`CS-\d{4}-0001`).FindString(out)
	}
	newText := "Thanks Ada, we reproduced it.\r\nThe fix ships in 2.3 on Friday.\r\n\r\nBob"
	reply := filepath.Join(dir, "reply.eml")
	os.WriteFile(reply, []byte("From: Bob <staff@example.test>\r\nTo: security@example.test\r\n"+
		"Subject: RE: ["+id+"] New report: SQL injection in search #reply\r\nMessage-ID: <staff-1@example.test>\r\n"+
		"Date: Mon, 23 Nov 2026 12:00:00 +0100\r\n\r\n"+newText+"\r\n\r\n"+
		"Get Outlook for iOS<https://aka.ms/o0ukef>\r\n________________________________\r\n"+
		"From: Ada Reporter <reporter@example.org>\r\nSent: Monday, November 23, 2026 10:00:00 AM\r\n"+
		"To: security@example.test\r\nSubject: SQL injection in search\r\n\r\n"+
		"The search at https://shop.example.com/search?q=' returns a database error.\r\n"), 0o600)
	if out, stderr, code := cli(t, "import", reply, "-c", cfg); code != 0 {
		t.Fatalf("import reply (exit %d): %s %s", code, out, stderr)
	}
	stop, _ := startDaemon(t, cfg)
	got := waitMail(t, ms, "reporter@example.org", regexp.MustCompile(`(?m)^Subject: \[`+id+`\] Re: `))
	stop()
	_, body, _ := strings.Cut(strings.ReplaceAll(got, "\r\n", "\n"), "\n\n")
	want := strings.ReplaceAll(newText, "\r\n", "\n") + "\n\n"
	if !strings.HasPrefix(body, want) {
		t.Errorf("reply body does not start with the new text:\n%s", body)
	}
	for _, bad := range []string{"Outlook", "From:", "database error", "____"} {
		if strings.Contains(body, bad) {
			t.Errorf("reply body holds %q:\n%s", bad, body)
		}
	}
}

// TestImportEmlStartingWithEnvelope: a .eml bounce that starts with an
// mbox envelope line and quotes the returned message with its own
// envelope line is one message, a bounce, and is not acknowledged.
func TestImportEmlStartingWithEnvelope(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "corpus", "bounce", "sisimai-rb-issue-368-bug.eml")
	raw, err := os.ReadFile(src)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	eml := filepath.Join(t.TempDir(), "bounce.eml")
	os.WriteFile(eml, raw, 0o600)
	out, stderr, code := cli(t, "import", eml, "-c", cfg)
	if code != 0 {
		t.Fatalf("import (exit %d): %s %s", code, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "\tbounce") {
		t.Fatalf("want one bounce, got:\n%s", out)
	}
	// The same bytes as an mbox file are split by the mbox rules; the
	// .eml name is what keeps them whole.
	show, _, _ := cli(t, "show", strings.Fields(lines[0])[1], "--json", "-c", cfg)
	if strings.Contains(show, `"kind": "ack"`) {
		t.Errorf("the bounce was acknowledged:\n%s", show)
	}
}
