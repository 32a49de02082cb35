package mbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"not an mbox", "From: a@example.org\n\nbody\n", []string{"From: a@example.org\n\nbody\n"}},
		{"one message", "From a@example.org Mon Nov 23 10:00:00 2026\nFrom: a\n\nbody\n", []string{"From: a\n\nbody\n"}},
		{"two messages and mboxrd quoting",
			"From a@example.org Mon Nov 23 10:00:00 2026\nFrom: a\n\n>From here\n>>From there\n\nFrom b@example.org Mon Nov 23 11:00:00 2026\nFrom: b\n\nbody\n",
			[]string{"From: a\n\nFrom here\n>From there\n", "From: b\n\nbody\n"}},
		{"unescaped From in prose", "From a@example.org Mon Nov 23 10:00:00 2026\nFrom: a\n\nhello\n\nFrom the start it was broken.\n",
			[]string{"From: a\n\nhello\n\nFrom the start it was broken.\n"}},
		{"envelope-like line without header after", "From a@x Mon Nov 23 10:00:00 2026\nFrom: a\n\nx\n\nFrom b@x Mon Nov 23 10:00:00 2026\nnot a header\n",
			[]string{"From: a\n\nx\n\nFrom b@x Mon Nov 23 10:00:00 2026\nnot a header\n"}},
		{"no blank line before", "From a@x Mon Nov 23 10:00:00 2026\nFrom: a\n\nx\nFrom b@x Mon Nov 23 10:00:00 2026\nFrom: b\n",
			[]string{"From: a\n\nx\nFrom b@x Mon Nov 23 10:00:00 2026\nFrom: b\n"}},
		{"crlf", "From a@x Mon Nov 23 10:00:00 2026\r\nFrom: a\r\n\r\nx\r\n\r\nFrom b@x Mon Nov 23 10:00:00 2026\r\nFrom: b\r\n\r\ny\r\n",
			[]string{"From: a\r\n\r\nx\r\n", "From: b\r\n\r\ny\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("message %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestIsEnvelope(t *testing.T) {
	for line, want := range map[string]bool{
		"From MAILER-DAEMON  Sat Oct  4 08:00:09 2025":       true,
		"From a@example.org Mon Nov 23 10:00:00 2026\r\n":    true,
		"From a@example.org Mon, 23 Nov 2026 10:00:00 +0100": true,
		"From the start it was broken.":                      false,
		"From a@example.org yesterday":                       false,
		"From:a":                                             false,
	} {
		if got := IsEnvelope([]byte(line)); got != want {
			t.Errorf("IsEnvelope(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestSplitCorpusBounce: a bounce that quotes the returned message with
// its own envelope line, blank line before it and header fields after it,
// is still read as an mbox of two by these rules; which is why `import`
// reads a .eml file as one message without splitting (see cmd). As an
// mbox the first message must at least keep its text.
func TestSplitCorpusBounce(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "corpus", "bounce", "sisimai-rb-issue-368-bug.eml")
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	got := Split(raw)
	if len(got) == 0 || !strings.Contains(string(got[0]), "reject reason: Mailbox full") {
		t.Fatalf("first message lost its text: %d parts", len(got))
	}
}
