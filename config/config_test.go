package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// good returns a minimal valid configuration as a YAML tree, so cases can
// change one key each.
func good() map[string]any {
	return map[string]any{
		"organization": map[string]any{
			"name":    "Example B.V.",
			"address": "security@example.org",
		},
		"imap": map[string]any{
			"address":  "imap.example.org:993",
			"username": "security@example.org",
			"password": "imap-secret",
		},
		"smtp": map[string]any{
			"address":  "smtp.example.org:587",
			"username": "security@example.org",
			"password": "smtp-secret",
		},
		"staff": map[string]any{
			"addresses":   []any{"alice@example.org"},
			"notify":      "team@example.org", // a scalar is a one-element list
			"authserv_id": "mx.example.org",
		},
		"store": map[string]any{"path": "data/disclosured.db"},
	}
}

// set changes one dotted key of a YAML tree; a nil value deletes it.
func set(tree map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	m := tree
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	if val == nil {
		delete(m, parts[len(parts)-1])
		return
	}
	m[parts[len(parts)-1]] = val
}

// writeConfig writes tree as config.yaml into a new directory and returns
// its path.
func writeConfig(t *testing.T, tree map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "config.yaml", string(b))
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadGood(t *testing.T) {
	path := writeConfig(t, good())
	dir := filepath.Dir(path)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Defaults for everything not in the file.
	want := Default()
	want.Organization.Name = "Example B.V."
	want.Organization.Address = "security@example.org"
	want.Organization.Domain = "example.org"
	want.IMAP.Address = "imap.example.org:993"
	want.IMAP.Username = "security@example.org"
	want.IMAP.Password = "imap-secret"
	want.SMTP.Address = "smtp.example.org:587"
	want.SMTP.Username = "security@example.org"
	want.SMTP.Password = "smtp-secret"
	want.SMTP.Auth = "password" // default when smtp.username is set
	want.SMTP.HelloName = "example.org"
	want.Staff.Addresses = []string{"alice@example.org"}
	want.Staff.Notify = []string{"team@example.org"}
	want.Staff.AuthservID = "mx.example.org"
	want.Store.Path = filepath.Join(dir, "data/disclosured.db")
	want.Staff.Escalate = []string{}
	want.SLA.ClosedDays = []string{}
	want.Digest.To = []string{"team@example.org"} // staff.notify
	want.Report.To = []string{"team@example.org"} // no staff.escalate: staff.notify
	want.Dir = dir

	var got, exp bytes.Buffer
	if err := c.Print(&got); err != nil {
		t.Fatal(err)
	}
	if err := want.Print(&exp); err != nil {
		t.Fatal(err)
	}
	if got.String() != exp.String() {
		t.Errorf("config:\n%s\nwant:\n%s", got.String(), exp.String())
	}
	if c.Dir != dir || c.IMAP.Password != "imap-secret" || c.SMTP.Password != "smtp-secret" {
		t.Errorf("Dir %q, passwords %q %q", c.Dir, c.IMAP.Password, c.SMTP.Password)
	}
	if c.Location().String() != "Europe/Amsterdam" {
		t.Errorf("Location = %v", c.Location())
	}
	if open, closing := c.WorkingHours(); open != 9*time.Hour || closing != 17*time.Hour {
		t.Errorf("WorkingHours = %v, %v", open, closing)
	}
	wantDays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	if d := c.WorkingDays(); !slices.Equal(d, wantDays) {
		t.Errorf("WorkingDays = %v", d)
	}
	// Validate is idempotent on a loaded config (passwords from files
	// included).
	if err := c.Validate(); err != nil {
		t.Errorf("Validate again: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	notPEM := writeFile(t, t.TempDir(), "ca.pem", "not a certificate\n")
	aFile := writeFile(t, t.TempDir(), "file", "x")
	tests := []struct {
		name string
		key  string // dotted key to change
		val  any    // new value; nil deletes the key
		want string // {dir} is the config directory
	}{
		{"name required", "organization.name", nil, "organization.name: required"},
		{"address required", "organization.address", nil, "organization.address: required"},
		{"address invalid", "organization.address", "security", `organization.address: invalid address "security"`},
		{"address with name", "organization.address", "Security <security@example.org>", `organization.address: invalid address "Security <security@example.org>"`},
		{"case prefix", "organization.case_prefix", "cs", `organization.case_prefix: want 1 to 10 characters A-Z or 0-9, got "cs"`},
		{"case prefix long", "organization.case_prefix", "ABCDEFGHIJK", `organization.case_prefix: want 1 to 10 characters A-Z or 0-9, got "ABCDEFGHIJK"`},
		{"domain", "organization.domain", "not a domain", `organization.domain: invalid domain "not a domain"`},
		{"languages empty", "organization.languages", []any{}, "organization.languages: required"},
		{"language", "organization.languages", []any{"en", "de"}, `organization.languages[1]: want en or nl, got "de"`},
		{"imap address required", "imap.address", nil, "imap.address: required"},
		{"imap address", "imap.address", "imap.example.org", `imap.address: want host:port, got "imap.example.org"`},
		{"imap address port", "imap.address", "imap.example.org:imaps", `imap.address: want host:port, got "imap.example.org:imaps"`},
		{"imap tls", "imap.tls", "tls", `imap.tls: want implicit, starttls or none, got "tls"`},
		{"imap mailbox", "imap.mailbox", "", "imap.mailbox: required"},
		{"processed mailbox", "imap.processed_mailbox", "INBOX", `imap.processed_mailbox: must differ from imap.mailbox "INBOX"`},
		{"poll interval syntax", "imap.poll_interval", "soon", `imap.poll_interval: want a duration like 90s, 10m or 365d, got "soon"`},
		{"poll interval no unit", "imap.poll_interval", 60, "imap.poll_interval: want a duration with a unit like 90s, 10m or 365d, got 60"},
		{"poll interval small", "imap.poll_interval", "0s", "imap.poll_interval: want at least 1s, got 0s"},
		{"idle restart", "imap.idle_restart", "29m", "imap.idle_restart: want more than 0 and less than 29m, got 29m0s"},
		{"imap ca file missing", "imap.ca_file", "ca.pem", "imap.ca_file: open {dir}/ca.pem: no such file or directory"},
		{"imap ca file not pem", "imap.ca_file", notPEM, "imap.ca_file: no PEM certificate in " + notPEM},
		{"insecure not bool", "imap.insecure_skip_verify", "maybe", `imap.insecure_skip_verify: want true or false, got "maybe"`},
		{"imap password file missing", "imap.password_file", "imap.pw", "imap.password: set either password or password_file, not both\nimap.password_file: open {dir}/imap.pw: no such file or directory"},
		{"smtp address", "smtp.address", "smtp.example.org", `smtp.address: want host:port, got "smtp.example.org"`},
		{"smtp tls", "smtp.tls", "ssl", `smtp.tls: want implicit, starttls or none, got "ssl"`},
		{"smtp password both", "smtp.password_file", aFile, "smtp.password: set either password or password_file, not both"},
		{"smtp ca file", "smtp.ca_file", "/nonexistent/ca.pem", "smtp.ca_file: open /nonexistent/ca.pem: no such file or directory"},
		{"smtp hello name", "smtp.hello_name", "mail host", `smtp.hello_name: invalid host name "mail host"`},
		{"smtp timeout", "smtp.timeout", "0s", "smtp.timeout: want more than 0, got 0s"},
		{"staff addresses required", "staff.addresses", []any{}, "staff.addresses: required"},
		{"staff address invalid", "staff.addresses", []any{"alice@example.org", "bob"}, `staff.addresses[1]: invalid address "bob"`},
		{"staff notify required", "staff.notify", nil, "staff.notify: required"},
		{"staff escalate", "staff.escalate", "boss", `staff.escalate[0]: invalid address "boss"`},
		{"staff auth", "staff.auth", "dkim", `staff.auth: want authres, microsoft365, pgp or none, got "dkim"`},
		{"tenant id", "staff.tenant_id", "contoso.onmicrosoft.com", `staff.tenant_id: want the directory (tenant) ID, a GUID such as 8c3dbb3e-0b3f-4d47-9a4a-6f1f1b2f7a10, got "contoso.onmicrosoft.com"`},
		{"authserv id", "staff.authserv_id", "", "staff.authserv_id: required when staff.auth is authres"},
		{"store path", "store.path", "", "store.path: required"},
		{"retention syntax", "store.retention", "1y", `store.retention: want a duration like 90s, 10m or 365d, got "1y"`},
		{"retention negative", "store.retention", "-1h", "store.retention: want 0 or more, got -1h0m0s"},
		{"control socket", "control.socket", "", "control.socket: required"},
		{"http listen", "http.listen", "9465", `http.listen: want host:port, got "9465"`},
		{"timezone", "sla.timezone", "Mars/Olympus", `sla.timezone: unknown time zone "Mars/Olympus"`},
		{"working hours", "sla.working_hours", "9-5", `sla.working_hours: want HH:MM-HH:MM, got "9-5"`},
		{"working hours order", "sla.working_hours", "17:00-09:00", `sla.working_hours: want start before end, got "17:00-09:00"`},
		{"working days", "sla.working_days", "monday..friday", `sla.working_days: want a range like mon..fri or a list like mon,tue,wed, got "monday..friday"`},
		{"holidays", "sla.holidays", "de", `sla.holidays: want nl or none, got "de"`},
		{"closed days", "sla.closed_days", []any{"2026-12-24", "2026-13-01"}, `sla.closed_days[1]: want YYYY-MM-DD, got "2026-13-01"`},
		{"good friday", "sla.good_friday", "sometimes", `sla.good_friday: want true or false, got "sometimes"`},
		{"liberation day", "sla.liberation_day", "sometimes", `sla.liberation_day: want always, lustrum or never, got "sometimes"`},
		{"acknowledge", "sla.acknowledge", "3", `sla.acknowledge: want working days like 3wd or calendar days like 60d, got "3"`},
		{"assess zero", "sla.assess", "0wd", `sla.assess: want working days like 3wd or calendar days like 60d, got "0wd"`},
		{"resolve too long", "sla.resolve", "400000wd", `sla.resolve: want at most 36500 days, got "400000wd"`},
		{"working hours past midnight", "sla.working_hours", "09:00-24:30", `sla.working_hours: want start before end, got "09:00-24:30"`},
		{"working days list with a typo", "sla.working_days", []any{"mon", "tues"}, `sla.working_days: want a range like mon..fri or a list like mon,tue,wed, got "mon,tues"`},
		{"working days list of numbers", "sla.working_days", []any{1, 2}, `sla.working_days: want day names like mon, got 1`},
		{"progress", "sla.progress", "2w", `sla.progress: want working days like 3wd or calendar days like 60d, got "2w"`},
		{"resolve", "sla.resolve", "60h", `sla.resolve: want working days like 3wd or calendar days like 60d, got "60h"`},
		{"third party", "sla.third_party", "", `sla.third_party: want working days like 3wd or calendar days like 60d, got ""`},
		{"remind at range", "sla.remind_at", []any{0.5, 1.5}, "sla.remind_at[1]: want a fraction between 0 and 1 (exclusive), got 1.5"},
		{"remind at order", "sla.remind_at", []any{0.8, 0.5}, "sla.remind_at: want strictly ascending fractions, got [0.8 0.5]"},
		{"remind at type", "sla.remind_at", []any{"half"}, `sla.remind_at[0]: want a number, got "half"`},
		{"sweep", "sla.sweep", "every minute", `sla.sweep: invalid cron spec "every minute": expected exactly 5 fields, found 2: [every minute]`},
		{"currency", "reward.currency", "eur", `reward.currency: want 3 uppercase letters, got "eur"`},
		{"reward min negative", "reward.min", -1, "reward.min: want 0 or more, got -1"},
		{"reward min type", "reward.min", "fifty", `reward.min: want an integer, got "fifty"`},
		{"reward max below min", "reward.max", 10, "reward.max: want at least reward.min (50), got 10"},
		{"reward max negative", "reward.max", -5, "reward.max: want 0 or more, got -5"},
		{"max message bytes", "limits.max_message_bytes", 0, "limits.max_message_bytes: want more than 0, got 0"},
		{"acks per sender", "limits.acks_per_sender_per_day", -1, "limits.acks_per_sender_per_day: want more than 0, got -1"},
		{"max mime depth", "limits.max_mime_depth", 0, "limits.max_mime_depth: want more than 0, got 0"},
		{"max parts", "limits.max_parts", 0, "limits.max_parts: want more than 0, got 0"},
		{"max header bytes", "limits.max_header_bytes", 0, "limits.max_header_bytes: want more than 0, got 0"},
		{"templates dir missing", "templates.dir", "tmpl", "templates.dir: stat {dir}/tmpl: no such file or directory"},
		{"templates dir file", "templates.dir", aFile, "templates.dir: not a directory: " + aFile},
		{"digest cron", "digest.cron", "mondays", `digest.cron: invalid cron spec "mondays": expected exactly 5 fields, found 1: [mondays]`},
		{"digest to", "digest.to", []any{"team"}, `digest.to[0]: invalid address "team"`},
		{"report cron", "report.cron", "0 8 32 * *", `report.cron: invalid cron spec "0 8 32 * *": end of range (32) above maximum (31): 32`},
		{"log level", "log.level", "trace", `log.level: want debug, info, warn or error, got "trace"`},
		{"log format", "log.format", "xml", `log.format: want text or json, got "xml"`},
		{"unknown key", "imap.pasword", "x", "imap.pasword: unknown key"},
		{"unknown section", "imapp", map[string]any{"address": "x"}, "imapp: unknown key"},
		{"unknown top-level key", "verbose", true, "verbose: unknown key"},
		{"section not a mapping", "log", "debug", "log: want a mapping of keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := good()
			set(tree, tt.key, tt.val)
			path := writeConfig(t, tree)
			c, err := Load(path, nil)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			want := strings.ReplaceAll(tt.want, "{dir}", filepath.Dir(path))
			if err.Error() != want {
				t.Errorf("error:\n%s\nwant:\n%s", err, want)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Errorf("error is %T, want Errors", err)
			}
		})
	}
}

// TestLoadForms: the forms users write are accepted, enumerations in any
// case (stored in the canonical one), working days as a YAML list.
func TestLoadForms(t *testing.T) {
	week := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	tests := []struct {
		name  string
		set   map[string]any
		check func(c *Config) bool
	}{
		{"working days list", map[string]any{"sla.working_days": []any{"mon", "tue", "wed", "thu", "fri"}},
			func(c *Config) bool { return slices.Equal(c.WorkingDays(), week) }},
		{"working days upper case range", map[string]any{"sla.working_days": "MON..FRI"},
			func(c *Config) bool { return slices.Equal(c.WorkingDays(), week) }},
		{"working days list of ranges", map[string]any{"sla.working_days": []any{"Mon..Wed", "fri"}},
			func(c *Config) bool {
				return slices.Equal(c.WorkingDays(), []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Friday})
			}},
		{"a range wraps past sunday", map[string]any{"sla.working_days": "fri..mon"},
			func(c *Config) bool {
				return slices.Equal(c.WorkingDays(), []time.Weekday{time.Sunday, time.Monday, time.Friday, time.Saturday})
			}},
		{"holidays NL", map[string]any{"sla.holidays": "NL"}, func(c *Config) bool { return c.SLA.Holidays == "nl" }},
		{"liberation day Always", map[string]any{"sla.liberation_day": "Always"},
			func(c *Config) bool { return c.SLA.LiberationDay == "always" }},
		{"imap tls STARTTLS", map[string]any{"imap.tls": "STARTTLS"}, func(c *Config) bool { return c.IMAP.TLS == "starttls" }},
		{"language NL", map[string]any{"organization.languages": []any{"en", "NL"}},
			func(c *Config) bool { return slices.Equal(c.Organization.Languages, []string{"en", "nl"}) }},
		{"log level INFO", map[string]any{"log.level": "INFO"}, func(c *Config) bool { return c.Log.Level == "info" }},
		{"working hours to 24:00", map[string]any{"sla.working_hours": "00:00-24:00"},
			func(c *Config) bool { o, cl := c.WorkingHours(); return o == 0 && cl == 24*time.Hour }},
		{"the longest durations", map[string]any{"sla.resolve": "36500d", "sla.assess": "36500wd"},
			func(c *Config) bool { return c.SLA.Resolve == "36500d" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := good()
			for k, v := range tt.set {
				set(tree, k, v)
			}
			c, err := Load(writeConfig(t, tree), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("config %+v", c.SLA)
			}
		})
	}
}

// TestLoadAllErrors checks that problems are reported together: decode
// errors, unknown keys and validation problems, and that a key that failed
// to decode is not reported again by validation.
func TestLoadAllErrors(t *testing.T) {
	tree := good()
	set(tree, "organization.name", nil)
	set(tree, "imap.pasword", "x")
	set(tree, "imap.poll_interval", "soon")
	set(tree, "sla.working_hours", "9-5")
	set(tree, "reward.min", "fifty")
	_, err := Load(writeConfig(t, tree), []string{"DISCLOSURED_IMAP_PASWORD=x", "HOME=/root"})
	want := strings.Join([]string{
		"DISCLOSURED_IMAP_PASWORD: unknown environment variable",
		`imap.poll_interval: want a duration like 90s, 10m or 365d, got "soon"`,
		"imap.pasword: unknown key",
		`reward.min: want an integer, got "fifty"`,
		"organization.name: required",
		`sla.working_hours: want HH:MM-HH:MM, got "9-5"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 6 {
		t.Fatalf("want 6 Errors, got %#v", err)
	}
	var ke *KeyError
	if !errors.As(errs[1], &ke) || ke.Key != "imap.poll_interval" {
		t.Errorf("errs[1] = %#v", errs[1])
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := writeFile(t, t.TempDir(), "config.yaml", "imap: [\n")
	if _, err := Load(bad, nil); err == nil || !strings.HasPrefix(err.Error(), "parse config ") {
		t.Errorf("bad YAML: %v", err)
	}
}

func TestEnvOverride(t *testing.T) {
	tree := good()
	set(tree, "imap.password", nil)
	env := []string{
		"DISCLOSURED_IMAP_PASSWORD=from-env",
		"DISCLOSURED_STAFF_NOTIFY=a@example.org, b@example.org,",
		"DISCLOSURED_ORGANIZATION_CASE_PREFIX=VULN",
		"DISCLOSURED_IMAP_POLL_INTERVAL=30s",
		"DISCLOSURED_IMAP_INSECURE_SKIP_VERIFY=true",
		"DISCLOSURED_REWARD_MAX=2000",
		"DISCLOSURED_SLA_REMIND_AT=0.25,0.75",
		"DISCLOSURED_STORE_RETENTION=365d",
		"DISCLOSURED_HTTP_LISTEN=",
		"DISCLOSURED_LOG_LEVEL=warn",
		"DISCLOSURED_LOG_LEVEL=debug", // the last one wins, as with os.Getenv
		"PATH=/usr/bin",
	}
	c, err := Load(writeConfig(t, tree), env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"imap.password", c.IMAP.Password, "from-env"},
		{"staff.notify", c.Staff.Notify, []string{"a@example.org", "b@example.org"}},
		{"organization.case_prefix", c.Organization.CasePrefix, "VULN"},
		{"imap.poll_interval", c.IMAP.PollInterval, 30 * time.Second},
		{"imap.insecure_skip_verify", c.IMAP.InsecureSkipVerify, true},
		{"reward.max", c.Reward.Max, 2000},
		{"sla.remind_at", c.SLA.RemindAt, []float64{0.25, 0.75}},
		{"store.retention", c.Store.Retention, 365 * 24 * time.Hour},
		{"http.listen", c.HTTP.Listen, ""},
		{"log.level", c.Log.Level, "debug"},
	}
	for _, ch := range checks {
		if !equal(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case []float64:
		return slices.Equal(a, b.([]float64))
	}
	return a == b
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"imap.password":            "DISCLOSURED_IMAP_PASSWORD",
		"organization.case_prefix": "DISCLOSURED_ORGANIZATION_CASE_PREFIX",
		"smtp.password_file":       "DISCLOSURED_SMTP_PASSWORD_FILE",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestPasswordFile(t *testing.T) {
	tree := good()
	set(tree, "imap.password", nil)
	set(tree, "smtp.password", nil)
	set(tree, "imap.password_file", "secrets/imap") // relative to the config file
	path := writeConfig(t, tree)
	dir := filepath.Dir(path)
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "secrets/imap", "imap from file\n")
	smtpFile := writeFile(t, t.TempDir(), "smtp", "smtp from file\r\n")
	c, err := Load(path, []string{"DISCLOSURED_SMTP_PASSWORD_FILE=" + smtpFile})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.IMAP.Password != "imap from file" || c.SMTP.Password != "smtp from file" {
		t.Errorf("passwords %q, %q", c.IMAP.Password, c.SMTP.Password)
	}
	if c.IMAP.PasswordFile != filepath.Join(dir, "secrets/imap") || c.SMTP.PasswordFile != smtpFile {
		t.Errorf("password files %q, %q", c.IMAP.PasswordFile, c.SMTP.PasswordFile)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Load: %v", err)
	}

	// Both set, one of them through the environment.
	_, err = Load(path, []string{"DISCLOSURED_IMAP_PASSWORD=also"})
	if want := "imap.password: set either password or password_file, not both"; err == nil || err.Error() != want {
		t.Errorf("both: %v, want %s", err, want)
	}
}

func TestRelativePaths(t *testing.T) {
	tree := good()
	set(tree, "store.path", "state/db")
	set(tree, "templates.dir", "tmpl")
	set(tree, "control.socket", "run/control.sock")
	set(tree, "imap.ca_file", "ca.pem")
	set(tree, "smtp.ca_file", "/etc/ssl/custom.pem") // absolute stays
	path := writeConfig(t, tree)
	dir := filepath.Dir(path)
	if err := os.Mkdir(filepath.Join(dir, "tmpl"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "ca.pem", selfSignedPEM(t))

	// Load from another working directory through a relative path, to show
	// resolution does not depend on it.
	t.Chdir(filepath.Dir(dir))
	c, err := Load(filepath.Join(filepath.Base(dir), "config.yaml"), []string{"DISCLOSURED_SMTP_CA_FILE="})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, p := range []struct{ got, want string }{
		{c.Dir, dir},
		{c.Store.Path, filepath.Join(dir, "state/db")},
		{c.Templates.Dir, filepath.Join(dir, "tmpl")},
		{c.Control.Socket, filepath.Join(dir, "run/control.sock")},
		{c.IMAP.CAFile, filepath.Join(dir, "ca.pem")},
		{c.SMTP.CAFile, ""},
	} {
		if p.got != p.want {
			t.Errorf("got %q, want %q", p.got, p.want)
		}
	}
}

func TestPrintMasksSecrets(t *testing.T) {
	tree := good()
	set(tree, "smtp.password", "")
	c, err := Load(writeConfig(t, tree), nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "imap-secret") {
		t.Errorf("password in output:\n%s", out)
	}
	if !strings.Contains(out, "password: '********'") || !strings.Contains(out, `password: ""`) {
		t.Errorf("want masked imap.password and empty smtp.password:\n%s", out)
	}
	if c.IMAP.Password != "imap-secret" {
		t.Errorf("Print changed the config: %q", c.IMAP.Password)
	}
	// The printed config is itself a valid config file (secrets aside).
	printed := writeFile(t, t.TempDir(), "config.yaml", out)
	if _, err := Load(printed, nil); err != nil {
		t.Errorf("printed config does not load: %v", err)
	}
}

func TestExample(t *testing.T) {
	c, err := Load("../config.example.yaml", nil)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	// The example documents every key with its env var and shows the
	// default value, so it should equal the defaults where it has them.
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keysOf(reflectValue(Default()), "") {
		if !bytes.Contains(data, []byte("env: "+EnvName(k.name))) {
			t.Errorf("config.example.yaml does not document %s (%s)", k.name, EnvName(k.name))
		}
	}
	if c.Organization.CasePrefix != "CS" || c.SMTP.HelloName != "example.org" {
		t.Errorf("unexpected values: %+v", c)
	}
}

func TestDurationDays(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"365d", 365 * 24 * time.Hour, false},
		{"8760h", 8760 * time.Hour, false},
		{"0", 0, false},
		{"", 0, false},
		{"1.5d", 0, true},
		{"99999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := durationHook(reflectTypeString, durationType, tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("%q: got %v, %v", tt.in, got, err)
		}
	}
}

func TestParseWeekdays(t *testing.T) {
	tests := []struct {
		in   string
		want []time.Weekday
		ok   bool
	}{
		{"mon..fri", []time.Weekday{1, 2, 3, 4, 5}, true},
		{"sun..thu", []time.Weekday{0, 1, 2, 3, 4}, true},
		{"fri..mon", []time.Weekday{0, 1, 5, 6}, true},
		{"mon, wed,fri", []time.Weekday{1, 3, 5}, true},
		{"Mon..Fri", []time.Weekday{1, 2, 3, 4, 5}, true},
		{"", nil, false},
		{"mon..", nil, false},
		{"mon;tue", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseWeekdays(tt.in)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %v, %v", tt.in, got, ok)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	got := DefaultPath()
	if _, err := os.Stat("/etc/disclosured/config.yaml"); err == nil {
		if got != "/etc/disclosured/config.yaml" {
			t.Errorf("DefaultPath = %q", got)
		}
	} else if got != "config.yaml" {
		t.Errorf("DefaultPath = %q", got)
	}
}

func reflectValue(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

var reflectTypeString = reflect.TypeFor[string]()

// selfSignedPEM returns a throwaway self-signed certificate; it is only
// parsed, never trusted.
func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test CA"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// digest.to and report.to follow the staff lists unless set; set empty
// (in the file or the environment) they turn the mail off.
func TestScheduledMailRecipients(t *testing.T) {
	tests := []struct {
		name           string
		edit           map[string]any
		env            []string
		digest, report []string
	}{
		{"defaults", nil, nil, []string{"team@example.org"}, []string{"team@example.org"}},
		{"report to escalation", map[string]any{"staff.escalate": []any{"boss@example.org"}}, nil,
			[]string{"team@example.org"}, []string{"boss@example.org"}},
		{"off in the file", map[string]any{"digest.to": "", "report.to": []any{}}, nil, []string{}, []string{}},
		{"off from the environment", nil, []string{"DISCLOSURED_DIGEST_TO="}, []string{}, []string{"team@example.org"}},
		{"own list", map[string]any{"digest.to": []any{"a@example.org", "b@example.org"}}, nil,
			[]string{"a@example.org", "b@example.org"}, []string{"team@example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := good()
			for k, v := range tt.edit {
				set(tree, k, v)
			}
			c, err := Load(writeConfig(t, tree), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(c.Digest.To) != fmt.Sprint(tt.digest) || fmt.Sprint(c.Report.To) != fmt.Sprint(tt.report) {
				t.Errorf("digest.to %v report.to %v, want %v %v", c.Digest.To, c.Report.To, tt.digest, tt.report)
			}
		})
	}
}
