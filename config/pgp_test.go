package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPGPErrors(t *testing.T) {
	tests := []struct {
		name string
		key  string
		val  any
		want string // {dir} is the config directory
	}{
		{"key file missing", "pgp.key_file", "org.asc", "pgp.key_file: open {dir}/org.asc: no such file or directory"},
		{"passphrase without key", "pgp.passphrase_file", "pw", "pgp.passphrase_file: set without pgp.key_file\npgp.passphrase_file: open {dir}/pw: no such file or directory"},
		{"old keys without key", "pgp.old_key_files", []any{"old.asc"}, "pgp.old_key_files: set without pgp.key_file"},
		{"staff keys missing", "pgp.staff_keys_file", "/nonexistent/staff.asc", "pgp.staff_keys_file: open /nonexistent/staff.asc: no such file or directory"},
		{"staff plaintext", "pgp.staff_plaintext", "maybe", `pgp.staff_plaintext: want allow or deny, got "maybe"`},
		{"expires", "securitytxt.expires", "next year", `securitytxt.expires: want RFC 3339 or YYYY-MM-DD, got "next year"`},
		{"policy not https", "securitytxt.policy", "http://example.org/policy", `securitytxt.policy: want an https:// URL, got "http://example.org/policy"`},
		{"encryption not https", "securitytxt.encryption_url", "ftp://example.org/key", `securitytxt.encryption_url: want an https:// URL, got "ftp://example.org/key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := good()
			set(tree, tt.key, tt.val)
			path := writeConfig(t, tree)
			_, err := Load(path, nil)
			want := strings.ReplaceAll(tt.want, "{dir}", filepath.Dir(path))
			if err == nil || err.Error() != want {
				t.Errorf("error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestPGPGood(t *testing.T) {
	tree := good()
	set(tree, "pgp.key_file", "org.asc")
	set(tree, "pgp.passphrase_file", "pw")
	set(tree, "pgp.old_key_files", []any{"old.asc"})
	set(tree, "securitytxt.expires", "2027-03-01")
	set(tree, "securitytxt.encryption_url", "openpgp4fpr:abcd")
	path := writeConfig(t, tree)
	// Relative paths resolve against the config's directory.
	for _, f := range []string{"org.asc", "old.asc", "pw"} {
		writeFile(t, filepath.Dir(path), f, "x\n")
	}
	c, err := Load(path, []string{"DISCLOSURED_PGP_STAFF_PLAINTEXT=allow"})
	if err != nil {
		t.Fatal(err)
	}
	if c.PGP.KeyFile != filepath.Join(filepath.Dir(path), "org.asc") || c.PGP.OldKeyFiles[0] != filepath.Join(filepath.Dir(path), "old.asc") {
		t.Errorf("paths %+v", c.PGP)
	}
	if c.PGP.StaffPlaintext != "allow" {
		t.Errorf("env override: %q", c.PGP.StaffPlaintext)
	}
	if pw, err := c.PGPPassphrase(); err != nil || string(pw) != "x" {
		t.Errorf("passphrase %q %v", pw, err)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	if e := c.SecurityTxtExpires(now); e.Format(time.RFC3339) != "2027-03-01T23:59:59+01:00" {
		t.Errorf("expires %v", e)
	}
	if Default().PGP.StaffPlaintext != "deny" {
		t.Error("staff_plaintext must default to deny")
	}
	c.SecurityTxt.Expires = ""
	if e := c.SecurityTxtExpires(now); !e.Equal(now.Add(180 * 24 * time.Hour)) {
		t.Errorf("default expires %v", e)
	}
}

func TestStaffAuthPGPNeedsKeys(t *testing.T) {
	tree := good()
	set(tree, "staff.auth", "pgp")
	_, err := Load(writeConfig(t, tree), nil)
	if err == nil || err.Error() != "staff.auth: pgp needs pgp.staff_keys_file" {
		t.Errorf("error: %v", err)
	}
}
