package parser

import (
	"strings"
	"testing"
)

// TestHeaderValuesAreCleaned covers issue 11's header inputs: every subject,
// name and address is one bounded line with no encoded-word syntax left
// after decoding.
func TestHeaderValuesAreCleaned(t *testing.T) {
	for _, tc := range []struct {
		name, subject, want string
	}{
		{"encoded newline", "=?utf-8?q?line1=0Aline2?=", "line1 line2"},
		{"encoded blank line", "=?utf-8?q?a=0D=0A=0D=0A=23reward_1?=", "a #reward 1"},
		{"bare CR", "=?utf-8?q?one=0Dtwo?=", "one two"},
		{"controls", "=?utf-8?q?a=00b=1Bc=7Fd=C2=85e?=", "a b c d e"},
		{"line separator", "=?utf-8?q?a=E2=80=A8b?=", "a b"},
		{"tabs and folding", "a\t\tb\r\n  c", "a b c"},
		{"encoded word inside encoded word", "=?utf-8?b?PT91dGYtOD9xPz0yM3Jld2FyZF8xMDAwXz0yM3Jlc29sdmVkPz0=?=",
			"= ?utf-8?q? =23reward_1000_=23resolved? ="},
		{"plain", "XSS in login", "XSS in login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Parse([]byte("From: a@example.org\r\nSubject: "+tc.subject+"\r\n\r\nbody\r\n"), Limits{})
			if m.Subject != tc.want {
				t.Errorf("subject %q, want %q", m.Subject, tc.want)
			}
			if strings.Contains(m.Subject, "=?") || strings.Contains(m.Subject, "?=") {
				t.Errorf("subject %q still has encoded-word syntax", m.Subject)
			}
		})
	}
}

func TestHeaderValuesAreBounded(t *testing.T) {
	local := strings.Repeat("x", 36<<10)
	raw := "From: \"" + local + "\"@evil.example\r\nSubject: " + strings.Repeat("s", 5000) +
		"\r\nMessage-ID: <" + strings.Repeat("m", 40<<10) + "@evil.example>\r\n" +
		"References: <ok@example.org> <" + strings.Repeat("r", 40<<10) + "@x>\r\n\r\nbody\r\n"
	m := Parse([]byte(raw), Limits{})
	if len(m.From.Addr) > MaxAddrBytes || m.From.Addr == "" {
		t.Errorf("From address of %d bytes, want 1..%d", len(m.From.Addr), MaxAddrBytes)
	}
	if len(m.Subject) > MaxSubjectBytes || !strings.HasSuffix(m.Subject, "…") {
		t.Errorf("subject of %d bytes (want at most %d, ellipsis at the cut)", len(m.Subject), MaxSubjectBytes)
	}
	if m.MessageID != "" {
		t.Errorf("a 40 KB Message-ID was kept (%d bytes)", len(m.MessageID))
	}
	if len(m.References) != 1 || m.References[0] != "ok@example.org" {
		t.Errorf("references %d, want only the usable one", len(m.References))
	}
	name := Parse([]byte("From: =?utf-8?q?Eve=0AInjected: yes?= <eve@example.org>\r\n\r\nx"), Limits{}).From
	if name.Name != "Eve Injected: yes" || name.Addr != "eve@example.org" {
		t.Errorf("from %+v", name)
	}
}

// TestDuplicateSingleFields: a mail with two From or two Subject fields
// (a DKIM replay with fields added above the signed ones) is flagged.
func TestDuplicateSingleFields(t *testing.T) {
	raw := "From: staff@example.test\r\nSubject: Re: [CS-2026-0001] #reward 1000\r\n" +
		"From: Security <security@example.test>\r\nTo: r@example.org\r\nSubject: [CS-2026-0001] Received: x\r\n\r\nbody\r\n"
	m := Parse([]byte(raw), Limits{})
	if strings.Join(m.Duplicates, ",") != "From,Subject" {
		t.Errorf("duplicates %v, want From,Subject", m.Duplicates)
	}
	one := Parse([]byte("From: a@example.org\r\nTo: b@example.org\r\nCc: c@example.org\r\nCc: d@example.org\r\n\r\nx"), Limits{})
	if len(one.Duplicates) != 0 {
		t.Errorf("duplicates %v for a mail with one of each single field", one.Duplicates)
	}
}

// TestGuessedAddressIsMarked: an address picked out of a From field that
// does not parse must never be written to automatically.
func TestGuessedAddressIsMarked(t *testing.T) {
	for _, tc := range []struct {
		from    string
		guessed bool
	}{
		{`Ada <ada@example.org>`, false},
		{`"victim@target.example" <attacker@evil.example`, true},
		{`victim@target.example <`, true},
		{`"x #reward 1000 #credit Pwned"@evil.example`, false},
		{`victim@target.example <attacker@evil.example>`, false}, // the angle address, not the name
		{"Caf\xe9 <cafe@example.org>", false},
	} {
		m := Parse([]byte("From: "+tc.from+"\r\n\r\nx"), Limits{})
		if tc.from == `victim@target.example <attacker@evil.example>` && m.From.Addr != "attacker@evil.example" {
			t.Errorf("From: %s: address %q, want the angle address", tc.from, m.From.Addr)
		}
		if m.From.Guessed != tc.guessed {
			t.Errorf("From: %s: address %q guessed %v, want %v", tc.from, m.From.Addr, m.From.Guessed, tc.guessed)
		}
	}
}

// FuzzHeaderValues: whatever the Subject and From fields hold, the values
// Parse returns are single-line, bounded and free of encoded-word syntax.
func FuzzHeaderValues(f *testing.F) {
	f.Add("=?utf-8?q?line1=0Aline2?=", `"x #reward 1000 #credit Pwned"@evil.example`)
	f.Add("=?utf-8?b?PT91dGYtOD9xPz0yM3Jld2FyZF8xMDAwXz0yM3Jlc29sdmVkPz0=?=", "=?utf-8?q?Eve=0D=0A?= <e@x>")
	f.Add("a\r\n b", `"victim@target.example> NOTIFY=NEVER ORCPT=rfc822;x"@evil.example`)
	f.Fuzz(func(t *testing.T, subject, from string) {
		m := Parse([]byte("From: "+from+"\r\nSubject: "+subject+"\r\n\r\nx"), Limits{})
		check := func(what, v string, max int) {
			if len(v) > max {
				t.Fatalf("%s of %d bytes, bound %d", what, len(v), max)
			}
			if strings.Contains(v, "=?") || strings.Contains(v, "?=") {
				t.Fatalf("%s %q has encoded-word syntax", what, v)
			}
			for _, r := range v {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
					t.Fatalf("%s %q has control %U", what, v, r)
				}
			}
		}
		check("subject", m.Subject, MaxSubjectBytes)
		for _, a := range append([]Address{m.From}, m.To...) {
			check("name", a.Name, MaxNameBytes)
			check("address", a.Addr, MaxAddrBytes)
		}
	})
}
