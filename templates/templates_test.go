package templates

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestGolden(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		for _, name := range Names {
			t.Run(lang+"/"+name, func(t *testing.T) {
				subj, body, err := s.Render(name, lang, Sample())
				if err != nil {
					t.Fatal(err)
				}
				got := "Subject: " + subj + "\n\n" + body
				golden := filepath.Join("testdata", lang+"-"+name+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if got != string(want) {
					t.Errorf("rendered %s/%s differs from %s:\n%s", lang, name, golden, got)
				}
			})
		}
	}
}

func TestStaffSubjectPrefixesFixed(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	prefixes := map[string]string{"new-report": "New report:", "reporter-replied": "Reporter replied:", "flood": "New report:",
		"publish-today": "Publish today:", "publish-reminder": "Reminder:", "show": "Case:"}
	for _, lang := range Languages {
		for name, prefix := range prefixes {
			subj, _, err := s.Render(name, lang, Sample())
			if err != nil {
				t.Fatal(err)
			}
			if want := "[CS-2026-0001] " + prefix; !strings.HasPrefix(subj, want) {
				t.Errorf("%s/%s subject %q does not start with %q", lang, name, subj, want)
			}
		}
		// Mail about the whole programme carries no case tag.
		for name, prefix := range map[string]string{"overview": "Overview:", "report": "Report:"} {
			subj, _, err := s.Render(name, lang, Sample())
			if err != nil {
				t.Fatal(err)
			}
			if want := "[disclosured] " + prefix; !strings.HasPrefix(subj, want) {
				t.Errorf("%s/%s subject %q does not start with %q", lang, name, subj, want)
			}
		}
	}
}

func TestOverrides(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		wantErr string
		want    string
	}{
		{"override applies", "nl/ack.tmpl", "Subject: [{{.CaseID}}] Hallo\n\nHoi {{.ReporterName}}\n", "", "Hoi Ada Reporter\n"},
		{"syntax error", "en/ack.tmpl", "Subject: {{.CaseID\n\nx", "en/ack.tmpl", ""},
		{"unknown field", "en/ack.tmpl", "Subject: x\n\n{{.Nope}}", "can't evaluate field Nope", ""},
		{"no subject", "en/ack.tmpl", "Hello\n\nbody", "must start with one \"Subject: \" line", ""},
		{"unknown file", "en/acknowledge.tmpl", "Subject: x\n\ny", "unknown template", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tt.file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Load(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, body, err := s.Render("ack", "nl", Sample())
			if err != nil {
				t.Fatal(err)
			}
			if body != tt.want {
				t.Errorf("body = %q, want %q", body, tt.want)
			}
		})
	}
}
