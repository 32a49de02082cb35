package parser

import (
	"strings"
	"testing"
)

// TestDecodedSubjectHasNoLineBreak: encoded words that decode to a bare CR,
// a LF or CRLF leave none in the subject or the sender's name.
func TestDecodedSubjectHasNoLineBreak(t *testing.T) {
	for _, enc := range []string{"=?utf-8?q?line1=0Dline2?=", "=?utf-8?q?line1=0Aline2?=", "=?utf-8?b?bGluZTENCmxpbmUy?="} {
		raw := "From: =?utf-8?q?Ada=0DEvil?= <a@example.org>\r\nSubject: " + enc + "\r\n\r\nbody\r\n"
		m := Parse([]byte(raw), Limits{})
		if strings.ContainsAny(m.Subject, "\r\n") || !strings.HasPrefix(m.Subject, "line1") {
			t.Errorf("%s: subject %q", enc, m.Subject)
		}
		if strings.ContainsAny(m.From.Name, "\r\n") {
			t.Errorf("%s: name %q", enc, m.From.Name)
		}
	}
}
