package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoticeFixtures classifies parser/testdata/notices/CLASS-name.eml and
// expects CLASS: automatic notices that carry no standard report, and
// people whose mail looks a little like them.
func TestNoticeFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "notices", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no notice fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, _, _ := strings.Cut(name, "-")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := Parse(raw, Limits{})
		if string(m.Class) != want {
			t.Errorf("%s: class %s (%s), want %s", name, m.Class, m.ClassReason, want)
		} else {
			t.Logf("%s: %s (%s)", name, m.Class, m.ClassReason)
		}
	}
}
