package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdvisoryAndReportChart(t *testing.T) {
	ms := mailSystem(t)
	cfg := writeConfig(t, ms, "")
	eml := filepath.Join(t.TempDir(), "r.eml")
	if err := os.WriteFile(eml, []byte(fmt.Sprintf(reportMail, "m1@x")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := cli(t, "import", eml, "--received", "2026-11-20T16:00:00+01:00", "-c", cfg); code != 0 {
		t.Fatalf("import (exit %d): %s %s", code, out, stderr)
	}

	out, stderr, code := cli(t, "advisory", "cs-2026-0001", "-c", cfg)
	if code != 0 || !strings.HasPrefix(out, "Security advisory CS-2026-0001: ") || !strings.Contains(out, "Severity:        not assessed") {
		t.Fatalf("advisory (exit %d): %s %s", code, out, stderr)
	}
	out, stderr, code = cli(t, "advisory", "CS-2026-0001", "--csaf", "-c", cfg)
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["document"].(map[string]any)["csaf_version"] != "2.0" {
		t.Fatalf("advisory --csaf (exit %d): %s %s", code, out, stderr)
	}
	if _, _, code := cli(t, "advisory", "CS-2026-0099", "-c", cfg); code != 1 {
		t.Errorf("advisory of an unknown case: exit %d, want 1", code)
	}
	if _, _, code := cli(t, "advisory", "-c", cfg); code != 2 {
		t.Errorf("advisory without ID: exit %d, want 2", code)
	}

	file := filepath.Join(t.TempDir(), "sla.png")
	out, stderr, code = cli(t, "report", "--png", file, "-c", cfg)
	if code != 0 || out != "" || !strings.Contains(stderr, "chart written to "+file) {
		t.Fatalf("report --png (exit %d): %q %q", code, out, stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 600 {
		t.Fatalf("chart: %v %v", err, img)
	}
	// Without --png the table, as before.
	out, _, _ = cli(t, "report", "-c", cfg)
	if !strings.HasPrefix(out, "TIMER") || !strings.Contains(out, "acknowledge") {
		t.Errorf("report:\n%s", out)
	}
}
