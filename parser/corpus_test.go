package parser

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// corpusDir returns the shared real-world corpus (shared/corpus/README.md).
// Without it the corpus tests skip, except in CI where they fail.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("DISCLOSURED_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("corpus missing in CI: %v", err)
		}
		tb.Skipf("corpus not available: %v", err)
	}
	return dir
}

type corpusFile struct {
	path, category string
}

// corpusFiles lists the files in MANIFEST.tsv.
func corpusFiles(tb testing.TB, dir string) []corpusFile {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []corpusFile
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 2 || f[0] == "" {
			continue
		}
		out = append(out, corpusFile{path: f[0], category: f[1]})
	}
	if len(out) == 0 {
		tb.Fatal("empty corpus manifest")
	}
	return out
}

// parseWithTimeout runs Parse in a goroutine and fails the test if it does
// not return within d; a panic escaping Parse also fails it.
func parseWithTimeout(t *testing.T, raw []byte, d time.Duration) *Message {
	t.Helper()
	type result struct {
		m     *Message
		panic any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{panic: r}
			}
		}()
		done <- result{m: Parse(raw, Limits{})}
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("Parse panicked: %v", r.panic)
		}
		if r.m == nil {
			t.Fatal("Parse returned nil")
		}
		return r.m
	case <-time.After(d):
		t.Fatalf("Parse did not return within %v", d)
		return nil
	}
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	for _, f := range corpusFiles(t, dir) {
		t.Run(f.path, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join(dir, f.path))
			if err != nil {
				t.Fatal(err)
			}
			m := parseWithTimeout(t, raw, 10*time.Second)
			checkInvariants(t, m)
			switch f.category {
			case "human":
				if m.Class != ClassHuman {
					t.Errorf("class %s (%s), want human", m.Class, m.ClassReason)
				}
				if m.From.Addr == "" {
					t.Errorf("empty From.Addr")
				}
				if strings.TrimSpace(m.Text) == "" {
					t.Errorf("empty text; problems %q", m.Problems)
				}
			case "bounce":
				if m.Class != ClassBounce {
					t.Errorf("class %s (%s), want bounce", m.Class, m.ClassReason)
				}
			case "autoreply":
				if m.Class != ClassAutoreply {
					t.Errorf("class %s (%s), want autoreply", m.Class, m.ClassReason)
				}
			case "malformed":
				if m.Text == "" && len(m.Problems) == 0 {
					t.Errorf("neither text nor problems")
				}
			default:
				t.Fatalf("unknown category %q", f.category)
			}
			if testing.Verbose() {
				t.Logf("%s class=%s reason=%q lang=%q from=%q subj=%q text=%d html=%v att=%d urls=%d ips=%v hosts=%d problems=%q",
					f.path, m.Class, m.ClassReason, m.Language, m.From.Addr, head(m.Subject, 50), len(m.Text), m.HTMLOnly,
					len(m.Attachments), len(m.URLs), m.IPs, len(m.Hosts), m.Problems)
			}
		})
	}
}

// checkInvariants asserts what Parse promises for every input.
func checkInvariants(t *testing.T, m *Message) {
	t.Helper()
	strs := []string{m.From.Name, m.From.Addr, m.Subject, m.MessageID, m.Text, m.ClassReason, m.Language}
	for _, l := range [][]string{m.InReplyTo, m.References, m.URLs, m.IPs, m.Hosts, m.AuthResults, m.Problems} {
		strs = append(strs, l...)
	}
	for _, as := range [][]Address{m.ReplyTo, m.To, m.Cc} {
		for _, a := range as {
			strs = append(strs, a.Name, a.Addr)
		}
	}
	for _, a := range m.Attachments {
		strs = append(strs, a.Filename, a.ContentType)
		if strings.ContainsAny(a.Filename, "/\\\x00") || len(a.Filename) > 255 {
			t.Errorf("unsafe attachment name %q", a.Filename)
		}
		if len(a.SHA256) != 64 || a.Size < 0 {
			t.Errorf("bad attachment %+v", a)
		}
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8: %q", head(s, 80))
		}
	}
	if len(m.Text) > MaxTextBytes {
		t.Errorf("text %d bytes, cap %d", len(m.Text), MaxTextBytes)
	}
	if !slices.Contains([]Class{ClassHuman, ClassBounce, ClassAutoreply, ClassList}, m.Class) {
		t.Errorf("class %q", m.Class)
	}
	if m.ClassReason == "" {
		t.Errorf("empty class reason")
	}
	if !slices.Contains([]string{"", "en", "nl"}, m.Language) {
		t.Errorf("language %q", m.Language)
	}
	for _, l := range [][]string{m.URLs, m.IPs, m.Hosts} {
		if len(l) > maxListItems {
			t.Errorf("list of %d items", len(l))
		}
	}
}
