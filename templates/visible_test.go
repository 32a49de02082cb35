package templates

import (
	"strings"
	"testing"
)

func TestVisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain, Zoë, 日本, 🙂\tand\nlines", "plain, Zoë, 日本, 🙂\tand\nlines"},
		{"invoice\u202Efdp.exe", "invoice[U+202E]fdp.exe"},
		{"a\u2066b\u2069c\u200Fd", "a[U+2066]b[U+2069]c[U+200F]d"},
		{"#re\u200Bward", "#re[U+200B]ward"},
		{"\uFEFFx\u2060y", "[U+FEFF]x[U+2060]y"},
		{"line1\rline2", "line1[U+000D]line2"},
		{"crlf\r\nok", "crlf\nok"},
		{"esc\x1b[31m", "esc[U+001B][31m"},
		{"tag\U000E0041", "tag[U+E0041]"},
		{"sep\u2028x", "sep[U+2028]x"},
	}
	for _, tt := range tests {
		if got := Visible(tt.in); got != tt.want {
			t.Errorf("Visible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRenderMarksInvisible: a subject, a name and a text with bidi and
// zero-width characters reach the rendered mail marked.
func TestRenderMarksInvisible(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	d := Sample()
	d.Subject = "XSS in \u202Egnp.exe"
	d.ReporterName = "Ada\u200B Reporter"
	d.Text = "see \u2066hidden\u2069 part\rover"
	d.URLs = []string{"https://example.com/\u200Dx"}
	subject, body, err := s.Render("new-report", "en", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[U+202E]gnp.exe"} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject %q lacks %q", subject, want)
		}
	}
	for _, want := range []string{"Ada[U+200B] Reporter", "[U+2066]hidden[U+2069]", "part[U+000D]over"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.ContainsAny(subject+body, "\u202E\u200B\u2066\u2069\r\u200D") {
		t.Errorf("an invisible character survived:\n%q\n%q", subject, body)
	}
}
