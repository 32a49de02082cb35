package advisory

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocsaf/csaf/v3/csaf"
)

func sample() Draft {
	return Draft{
		ID: "CS-2026-0042", Title: "XSS in login form", System: "app.example.com",
		Severity: "high",
		Reported: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Fixed:    time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC),
		Credit:   "Ada R.", Reward: "250 EUR", CVE: "CVE-2026-12345",
		Publisher: Publisher{Name: "CloudSphere", Namespace: "https://example.com", Contact: "security@example.com"},
		Generated: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC),
	}
}

// validate runs the CSAF module's JSON schema validator over the encoded
// document, and its strict loader over a file of it. The loader knows the
// credit only under the misspelt "acknowledgements" (see CSAFJSON), so it
// reads a document with credit only with the credit taken out.
func validate(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	problems, err := csaf.ValidateCSAF(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("CSAF schema validation failed:\n%s\n%s", strings.Join(problems, "\n"), b)
	}
	var strict map[string]any
	_ = json.Unmarshal(b, &strict)
	for _, v := range strict["vulnerabilities"].([]any) {
		delete(v.(map[string]any), "acknowledgments")
	}
	sb, _ := json.Marshal(strict)
	p := filepath.Join(t.TempDir(), "adv.json")
	if err := os.WriteFile(p, sb, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := csaf.LoadAdvisory(p); err != nil {
		t.Fatalf("LoadAdvisory: %v", err)
	}
	return doc
}

func TestCSAFValidates(t *testing.T) {
	published := sample()
	published.Published = time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	bare := Draft{ID: "CS-2026-0001", Title: "Open redirect", System: "CloudSphere",
		Publisher: Publisher{Name: "CloudSphere", Namespace: "https://example.com"}}
	tests := []struct {
		name       string
		d          Draft
		status     string
		tlp        string
		wantFixed  bool
		wantCredit bool
	}{
		{"draft, fixed, credited", sample(), "draft", "AMBER", true, true},
		{"published", published, "final", "WHITE", true, true},
		{"nothing known yet", bare, "draft", "AMBER", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := CSAFJSON(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			doc := validate(t, b)
			document := doc["document"].(map[string]any)
			tracking := document["tracking"].(map[string]any)
			if tracking["status"] != tt.status || tracking["id"] != tt.d.ID {
				t.Errorf("tracking = %v, want status %s id %s", tracking, tt.status, tt.d.ID)
			}
			if got := document["distribution"].(map[string]any)["tlp"].(map[string]any)["label"]; got != tt.tlp {
				t.Errorf("TLP = %v, want %s", got, tt.tlp)
			}
			v := doc["vulnerabilities"].([]any)[0].(map[string]any)
			_, fixed := v["product_status"].(map[string]any)["fixed"]
			if fixed != tt.wantFixed {
				t.Errorf("fixed in product_status = %v, want %v", fixed, tt.wantFixed)
			}
			_, acked := v["acknowledgments"]
			if acked != tt.wantCredit {
				t.Errorf("acknowledgements present = %v, want %v", acked, tt.wantCredit)
			}
			if tt.d.CVE != "" && v["cve"] != tt.d.CVE {
				t.Errorf("cve = %v, want %s", v["cve"], tt.d.CVE)
			}
		})
	}
}

// The validator is not a rubber stamp: a document missing a required
// field is refused.
func TestValidatorRefusesBrokenDocument(t *testing.T) {
	b, err := CSAFJSON(sample())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["document"].(map[string]any), "title")
	problems, err := csaf.ValidateCSAF(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Fatal("a document without a title validated")
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Draft)
		want string
	}{
		{"bad cve", func(d *Draft) { d.CVE = "CVE-26-1" }, `"CVE-26-1" is not a CVE identifier`},
		{"bad severity", func(d *Draft) { d.Severity = "urgent" }, `severity "urgent"`},
		{"no system", func(d *Draft) { d.System = " " }, "no affected system"},
		{"no namespace", func(d *Draft) { d.Publisher.Namespace = "example.com" }, "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sample()
			tt.edit(&d)
			_, err := CSAF(d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CSAF error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	d := sample()
	d.Published = time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	got := Text(d)
	for _, want := range []string{
		"Security advisory CS-2026-0042: XSS in login form\n",
		"Affected system: app.example.com\n",
		"Severity:        high\n",
		"CVE:             CVE-2026-12345\n",
		"Reported:        2026-11-23\n",
		"Fixed:           2026-12-01\n",
		"Published:       2027-01-15\n",
		"CloudSphere thanks Ada R. for reporting",
		"Reward: 250 EUR.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}

	// Without consent to be named or to mention the reward, neither appears.
	d.Credit, d.Reward, d.CVE = "", "", ""
	got = Text(d)
	if strings.Contains(got, "Ada") || strings.Contains(got, "Reward") || strings.Contains(got, "250") {
		t.Errorf("text names the reporter or the reward without consent:\n%s", got)
	}
	if !strings.Contains(got, "chose not to be named") || !strings.Contains(got, "none assigned") {
		t.Errorf("text does not say the reporter is unnamed or no CVE:\n%s", got)
	}
	b, err := CSAFJSON(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Ada") || strings.Contains(string(b), "250") {
		t.Errorf("CSAF names the reporter or the reward without consent:\n%s", b)
	}
}

// A hostile title cannot add lines to the text, and stays valid CSAF.
func TestHostileTitle(t *testing.T) {
	d := sample()
	d.Title = "XSS\n\nCredit: Mallory\r\nReward: 1000000 EUR"
	got := Text(d)
	if strings.Contains(got, "\nCredit: Mallory") || strings.Contains(got, "\nReward: 1000000") {
		t.Errorf("title broke the layout:\n%s", got)
	}
	b, err := CSAFJSON(d)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, b)
}

func TestFileName(t *testing.T) {
	if got, want := FileName("CS-2026-0042"), "cs-2026-0042.json"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
	if got, want := FileName("A/B C"), "a_b_c.json"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
}
