package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplyFixtures runs every parser/testdata/replies/NAME.eml through
// Parse and SplitReply and compares the new text with NAME.want. It logs
// the pass rate, fails on any miss and names over-cuts (expected text
// lost) separately from under-cuts (quote left in). Every fixture is a
// person's mail, so each must also classify as human; a fixture named
// *-forward* must keep its forwarded message.
func TestReplyFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "replies", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reply fixtures: %v", err)
	}
	pass, overcut := 0, 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		wantB, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".want")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := strings.TrimRight(string(wantB), "\n")
		m := Parse(raw, Limits{})
		r := SplitReply(m.Text)
		ok := true
		if r.Text != want {
			ok = false
			kind := "under-cut"
			if !strings.Contains(r.Text, want) {
				kind = "OVER-CUT"
				overcut++
			}
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", name, kind, r.Text, want)
		}
		if m.Class != ClassHuman {
			ok = false
			t.Errorf("%s: class %s (%s), want human", name, m.Class, m.ClassReason)
		}
		if strings.Contains(name, "-forward") && !strings.Contains(r.Forwarded, "I found an XSS") {
			ok = false
			t.Errorf("%s: forwarded message lost: %q", name, r.Forwarded)
		}
		if ok {
			pass++
		}
	}
	t.Logf("reply fixtures: %d/%d exact (%.1f %%), %d over-cut", pass, len(files), 100*float64(pass)/float64(len(files)), overcut)
}

// TestCorpusReplies cuts the talon replies of the shared corpus (Apache-2.0,
// mailgun/talon tests/fixtures/standard_replies, see its MANIFEST.tsv):
// every one of them answers "Hello" above the quote, in a different
// client's form.
func TestCorpusReplies(t *testing.T) {
	dir := corpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "human", "talon-*.eml"))
	if len(files) == 0 {
		t.Fatal("no talon replies in the corpus")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := StripQuoted(Parse(raw, Limits{}).Text); got != "Hello" {
			t.Errorf("%s: got %q, want %q", filepath.Base(f), got, "Hello")
		}
	}
	t.Logf("%d corpus replies", len(files))
}
