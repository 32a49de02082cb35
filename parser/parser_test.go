package parser

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, m *Message)
	}{
		{"plain.eml", func(t *testing.T, m *Message) {
			want(t, "From", m.From, Address{Name: "Alice Reporter", Addr: "alice@example.org"})
			want(t, "Subject", m.Subject, "XSS in search page")
			want(t, "MessageID", m.MessageID, "abc123@example.org")
			want(t, "Class", m.Class, ClassHuman)
			want(t, "Language", m.Language, "en")
			want(t, "URLs", m.URLs, []string{"https://www.example.com/search?q=", "https://api.example.com/v1/items?id=1"})
			want(t, "IPs", m.IPs, []string{"192.0.2.10", "2001:db8::1"})
			want(t, "Hosts", m.Hosts, []string{"www.example.com", "api.example.com"})
			want(t, "AuthResults", m.AuthResults, []string{
				"mx.example.com; dkim=pass header.d=example.org; dmarc=pass header.from=example.org",
				"other.example.net; spf=fail",
			})
			want(t, "Date", m.Date.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), true)
			wantNoProblems(t, m)
		}},
		{"html-only.eml", func(t *testing.T, m *Message) {
			want(t, "HTMLOnly", m.HTMLOnly, true)
			want(t, "Text", m.Text, "Hi team,\n\nThe login page at this page <https://login.example.com/auth> leaks tokens & cookies.\n\n- step one\n- step two\n\nRegards\nBob")
			want(t, "URLs", m.URLs, []string{"https://login.example.com/auth"})
		}},
		{"alternative.eml", func(t *testing.T, m *Message) {
			want(t, "Text", m.Text, "Plain text wins.")
			want(t, "HTMLOnly", m.HTMLOnly, false)
			wantNoProblems(t, m)
		}},
		{"latin1-qp.eml", func(t *testing.T, m *Message) {
			want(t, "From", m.From, Address{Name: "André", Addr: "andre@example.fr"})
			want(t, "Subject", m.Subject, "Problème de sécurité")
			want(t, "Text", m.Text, "Bonjour, le problème est sérieux. Une ligne très longue.")
			want(t, "Language", m.Language, "")
		}},
		{"rfc2047-subject.eml", func(t *testing.T, m *Message) {
			want(t, "Subject", m.Subject, "Sicherheitslücke gefunden ✔")
			want(t, "From.Name", m.From.Name, "Jörg")
		}},
		{"attachment.eml", func(t *testing.T, m *Message) {
			want(t, "Text", m.Text, "See the attached proof of concept.")
			want(t, "Attachments", m.Attachments, []Attachment{
				{Filename: "poc.py", ContentType: "application/octet-stream", Size: 12,
					SHA256: "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"},
				{Filename: "scréen.png", ContentType: "image/png", Size: 8,
					SHA256: "4c4b6a3be1314ab86138bef4314dde022e600960d8689a2c8f8631802d20dab6"},
			})
		}},
		{"nested.eml", func(t *testing.T, m *Message) {
			want(t, "Text", m.Text, "Deep plain text.")
			if len(m.Attachments) != 2 || m.Attachments[0].ContentType != "image/gif" ||
				m.Attachments[1].ContentType != "message/rfc822" || m.Attachments[1].Filename != "Forwarded thing.eml" {
				t.Errorf("Attachments = %+v", m.Attachments)
			}
			want(t, "Class", m.Class, ClassHuman)
		}},
		{"dutch.eml", func(t *testing.T, m *Message) {
			want(t, "Language", m.Language, "nl")
			want(t, "Class", m.Class, ClassHuman)
		}},
		{"dsn.eml", func(t *testing.T, m *Message) {
			want(t, "Class", m.Class, ClassBounce)
			want(t, "ClassReason", m.ClassReason, "multipart/report delivery-status")
		}},
		{"vacation.eml", func(t *testing.T, m *Message) {
			want(t, "Class", m.Class, ClassAutoreply)
			want(t, "ClassReason", m.ClassReason, "Auto-Submitted: auto-replied")
		}},
		{"list.eml", func(t *testing.T, m *Message) {
			want(t, "Class", m.Class, ClassList)
			want(t, "ClassReason", m.ClassReason, "List-Id header")
		}},
		{"malformed-header.eml", func(t *testing.T, m *Message) {
			want(t, "From.Addr", m.From.Addr, "grace@example.com")
			want(t, "Subject", m.Subject, "indented first header")
			want(t, "Text", m.Text, "This line has no colon\n\nbody")
			if len(m.Problems) == 0 {
				t.Error("no problems recorded")
			}
		}},
		{"bare-cr-mbox.eml", func(t *testing.T, m *Message) {
			want(t, "From.Addr", m.From.Addr, "grace@example.com")
			want(t, "Subject", m.Subject, "bare CR")
			want(t, "Text", m.Text, "Body with bare CR line endings.\nSecond line.")
		}},
		{"unknown-encoding.eml", func(t *testing.T, m *Message) {
			want(t, "Text", m.Text, "raw \uFFFD bytes")
			want(t, "Problems", m.Problems, []string{
				`unknown transfer encoding "base9000"; raw body kept`,
				`unknown charset "x-fakescii"; raw text kept`,
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := Parse(readFixture(t, tt.file), Limits{})
			checkInvariants(t, m)
			tt.check(t, m)
		})
	}
}

func want[T any](t *testing.T, what string, got, exp T) {
	t.Helper()
	if !equal(got, exp) {
		t.Errorf("%s = %#v, want %#v", what, got, exp)
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case []Attachment:
		return slices.Equal(a, b.([]Attachment))
	}
	return a == b
}

func wantNoProblems(t *testing.T, m *Message) {
	t.Helper()
	if len(m.Problems) > 0 {
		t.Errorf("Problems = %q", m.Problems)
	}
}

func TestParseNeverFails(t *testing.T) {
	deep := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@example.com\r\n")
		for i := range n {
			b.WriteString("Content-Type: multipart/mixed; boundary=\"b" + strings.Repeat("x", i) + "\"\r\n\r\n--b" + strings.Repeat("x", i) + "\r\n")
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep text\r\n")
		return b.Bytes()
	}
	many := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@example.com\nContent-Type: multipart/mixed; boundary=x\n\n")
		for range n {
			b.WriteString("--x\nContent-Type: text/plain\n\npart\n")
		}
		b.WriteString("--x--\n")
		return b.Bytes()
	}
	tests := []struct {
		name    string
		raw     []byte
		lim     Limits
		problem string // a substring of some problem, "" for none expected
		text    string // substring of Text
	}{
		{"empty", nil, Limits{}, "no readable text", ""},
		{"only blank", []byte("\r\n\r\n  \r\n"), Limits{}, "no readable text", ""},
		{"no header", []byte("just some words\n"), Limits{}, "no header block", "just some words"},
		{"binary junk", []byte("\x00\x01\x02\xff\xfe:\n\n\x00"), Limits{}, "", ""},
		{"deep nesting", deep(40), Limits{}, "nesting deeper than 20", ""},
		{"deep within limit", deep(5), Limits{}, "", "deep text"},
		{"many parts", many(50), Limits{MaxParts: 10}, "more than 10 MIME parts", "part"},
		{"huge header", append([]byte("From: a@example.com\nX-Big: "+strings.Repeat("a", 2000)+"\n\nbody"), '\n'), Limits{MaxHeaderBytes: 100}, "header exceeds 100 bytes", "body"},
		{"no boundary", []byte("Content-Type: multipart/mixed\n\nhello\n"), Limits{}, "without a boundary", "hello"},
		{"unterminated html", []byte("Content-Type: text/html\n\n<p>hi <a href=\"x"), Limits{}, "", "hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse(tt.raw, tt.lim)
			checkInvariants(t, m)
			if tt.problem != "" && !slices.ContainsFunc(m.Problems, func(p string) bool { return strings.Contains(p, tt.problem) }) {
				t.Errorf("Problems = %q, want one containing %q", m.Problems, tt.problem)
			}
			if !strings.Contains(m.Text, tt.text) {
				t.Errorf("Text = %q, want it to contain %q", m.Text, tt.text)
			}
		})
	}
}

func TestClassifyHeaders(t *testing.T) {
	tests := []struct {
		header string
		class  Class
		reason string
	}{
		{"From: a@example.com\nSubject: hello", ClassHuman, "no machine signals"},
		{"From: a@example.com\nAuto-Submitted: no\nSubject: hello", ClassHuman, "no machine signals"},
		{"From: a@example.com\nAuto-Submitted: auto-generated", ClassAutoreply, "Auto-Submitted: auto-generated"},
		{"From: a@example.com\nPrecedence: bulk", ClassAutoreply, "Precedence: bulk"},
		{"From: a@example.com\nPrecedence: list", ClassList, "Precedence: list"},
		{"From: a@example.com\nX-Autoreply: yes", ClassAutoreply, "X-Autoreply header"},
		{"From: a@example.com\nSubject: Automatisch antwoord: Re: melding", ClassAutoreply, "auto-reply subject: automatisch antwoord"},
		{"From: a@example.com\nSubject: Abwesenheitsnotiz", ClassAutoreply, "auto-reply subject: abwesenheitsnotiz"},
		{"From: a@example.com\nSubject: Re: out of office policy bug", ClassAutoreply, "auto-reply subject: re: out of office"},
		{"From: a@example.com\nReturn-Path: <>", ClassAutoreply, "Return-Path: <> (null sender)"},
		{"From: postmaster@example.com\nSubject: question about your DMARC policy", ClassHuman, "no machine signals"},
		{"From: postmaster@example.com\nReturn-Path: <>\nSubject: hi", ClassBounce, "From: postmaster with bounce signals"},
		{"From: a@example.com\nSubject: Fwd: Undeliverable: test", ClassHuman, "no machine signals"},
		{"From: a@example.com\nSubject: Undeliverable: test", ClassBounce, "bounce subject: undeliverable"},
		{"From: a@example.com\nList-Unsubscribe: <mailto:x@example.com>", ClassList, "List-Unsubscribe header"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			m := Parse([]byte(tt.header+"\n\nbody text\n"), Limits{})
			if m.Class != tt.class || m.ClassReason != tt.reason {
				t.Errorf("got %s (%q), want %s (%q)", m.Class, m.ClassReason, tt.class, tt.reason)
			}
		})
	}
}

func TestBodyBounceNeedsMachineSender(t *testing.T) {
	body := "\n\nHi, when I mail your host I get: 550 5.1.1 user unknown. Could not be delivered.\n"
	if m := Parse([]byte("From: researcher@example.org\nSubject: mail issue"+body), Limits{}); m.Class != ClassHuman {
		t.Errorf("human with SMTP error text classified %s (%s)", m.Class, m.ClassReason)
	}
	if m := Parse([]byte("From: no-reply@example.org\nSubject: notice"+body), Limits{}); m.Class != ClassBounce {
		t.Errorf("no-reply bounce text classified %s (%s)", m.Class, m.ClassReason)
	}
}

func TestExtractIndicators(t *testing.T) {
	tests := []struct {
		in               string
		urls, ips, hosts []string
	}{
		{"see (https://example.com/a_(b)) and http://x.example.org/.", []string{"https://example.com/a_(b)", "http://x.example.org/"}, nil, []string{"example.com", "x.example.org"}},
		{"ftp://[2001:db8::2]:21/file", []string{"ftp://[2001:db8::2]:21/file"}, []string{"2001:db8::2"}, nil},
		{"version 1.2.3.4.5 and 10.0.0.256 and 10.0.0.1.", nil, []string{"10.0.0.1"}, nil},
		{"std::string and Foo::Bar at 12:30:45, fe80::1.", nil, []string{"fe80::1"}, nil},
		{"files: report.pdf, exploit.sh, jquery.min.js, but evil.example.sh and mail.example.pl", nil, nil, []string{"evil.example.sh", "mail.example.pl"}},
		{"Then.Next sentence, API.EXAMPLE.COM shouts", nil, nil, []string{"api.example.com"}},
		{"dup example.com example.com EXAMPLE.com", nil, nil, []string{"example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, i, h := extractIndicators(tt.in)
			if !slices.Equal(u, tt.urls) || !slices.Equal(i, tt.ips) || !slices.Equal(h, tt.hosts) {
				t.Errorf("got %q %q %q, want %q %q %q", u, i, h, tt.urls, tt.ips, tt.hosts)
			}
		})
	}
}

func TestExtractCap(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		b.WriteString("https://h" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ".example.com/" + strings.Repeat("p", i) + " ")
	}
	u, _, h := extractIndicators(b.String())
	if len(u) != maxListItems || len(h) > maxListItems {
		t.Errorf("got %d URLs, %d hosts; cap %d", len(u), len(h), maxListItems)
	}
}

func TestCleanFilename(t *testing.T) {
	tests := []struct{ in, out string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\x\evil.exe`, "evil.exe"},
		{"a\x00b\x1bc.txt", "abc.txt"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"..", ""},
		{"=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?=", "résumé.pdf"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	}
	for _, tt := range tests {
		if got := cleanFilename(tt.in); got != tt.out || !utf8.ValidString(got) {
			t.Errorf("cleanFilename(%q) = %q, want %q", tt.in, got, tt.out)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ in, out string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"a<br>b<br/>c", "a\nb\nc"},
		{"<SCRIPT>x</SCRIPT>y<style type=x>z</style>", "y"},
		{"1 < 2 &lt; 3 &#x263a;", "1 < 2 < 3 ☺"},
		{"<pre>  keep\n    indent</pre>", "keep\n    indent"},
		{"<a href='https://e.example/x'>https://e.example/x</a>", "https://e.example/x"},
		{"<div title=\"a>b\">text</div>", "text"},
		{"<!-- unterminated", ""},
		{"<p>unterminated tag <b", "unterminated tag"},
	}
	for _, tt := range tests {
		if got := htmlToText(tt.in); got != tt.out {
			t.Errorf("htmlToText(%q) = %q, want %q", tt.in, got, tt.out)
		}
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct{ subject, text, lang string }{
		{"Lek gevonden", "Ik heb een lek gevonden in de website. Met vriendelijke groet.", "nl"},
		{"Vulnerability", "I found a vulnerability in the login form and the session handling.", "en"},
		{"hi", "ok", ""},
		{"", "> the and of to is in that it you we\nDank je, ik kijk er naar.", "nl"},
	}
	for _, tt := range tests {
		if got := detectLanguage(tt.subject, tt.text); got != tt.lang {
			t.Errorf("detectLanguage(%q, %q) = %q, want %q", tt.subject, tt.text, got, tt.lang)
		}
	}
}

func TestTextCap(t *testing.T) {
	raw := []byte("From: a@example.com\n\n" + strings.Repeat("é", MaxTextBytes))
	m := Parse(raw, Limits{})
	checkInvariants(t, m)
	if len(m.Text) > MaxTextBytes || !slices.ContainsFunc(m.Problems, func(p string) bool { return strings.Contains(p, "truncated") }) {
		t.Errorf("text %d bytes, problems %q", len(m.Text), m.Problems)
	}
}

// FuzzParse checks the invariants of Parse on arbitrary input, seeded with
// the fixtures and the shared corpus.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	dir := os.Getenv("DISCLOSURED_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*.eml"))
	seeds = append(seeds, more...)
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 64<<10 {
			b = b[:64<<10] // keep the fuzzer fast; the corpus test covers whole files
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Parse(raw, Limits{})
		if m == nil {
			t.Fatal("nil message")
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Subject) {
			t.Fatal("invalid UTF-8")
		}
		for _, p := range m.Problems {
			if strings.HasPrefix(p, "internal parser error") {
				t.Fatalf("recovered panic: %s", p)
			}
		}
		checkInvariants(t, m)
	})
}

func BenchmarkParseCorpus(b *testing.B) {
	dir := corpusDir(b)
	var msgs [][]byte
	var total int64
	for _, f := range corpusFiles(b, dir) {
		raw, err := os.ReadFile(filepath.Join(dir, f.path))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range msgs {
			Parse(raw, Limits{})
		}
	}
}
