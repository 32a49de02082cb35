package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// PGP configures OpenPGP: the organisation key, retired keys still used
// for decryption, and the staff keys.
type PGP struct {
	// KeyFile is the organisation's armored secret key; "" disables
	// OpenPGP.
	KeyFile string `mapstructure:"key_file" yaml:"key_file"`
	// PassphraseFile holds the key's passphrase (systemd LoadCredential);
	// "" for an unprotected key.
	PassphraseFile string `mapstructure:"passphrase_file" yaml:"passphrase_file"`
	// OldKeyFiles are retired secret keys, used only to decrypt. They are
	// unlocked with the same passphrase file.
	OldKeyFiles []string `mapstructure:"old_key_files" yaml:"old_key_files"`
	// StaffKeysFile holds the staff's armored public keys.
	StaffKeysFile string `mapstructure:"staff_keys_file" yaml:"staff_keys_file"`
	// StaffPlaintext says whether staff notices of an encrypted report may
	// carry its plaintext when no staff key is configured: allow | deny.
	StaffPlaintext string `mapstructure:"staff_plaintext" yaml:"staff_plaintext"`
}

// SecurityTxt configures the RFC 9116 file `disclosured securitytxt`
// prints.
type SecurityTxt struct {
	// Expires is the date the file expires (RFC 3339 or YYYY-MM-DD); ""
	// means 180 days after it is printed.
	Expires string `mapstructure:"expires" yaml:"expires"`
	// EncryptionURL is where the public key is published; "" writes
	// openpgp4fpr:FINGERPRINT.
	EncryptionURL   string `mapstructure:"encryption_url" yaml:"encryption_url"`
	Policy          string `mapstructure:"policy" yaml:"policy"`
	Canonical       string `mapstructure:"canonical" yaml:"canonical"`
	Acknowledgments string `mapstructure:"acknowledgments" yaml:"acknowledgments"`
}

// DefaultSecurityTxtLifetime is how far ahead Expires lies when
// securitytxt.expires is empty.
const DefaultSecurityTxtLifetime = 180 * 24 * time.Hour

// SecurityTxtExpires is the Expires time for a file printed at now.
func (c *Config) SecurityTxtExpires(now time.Time) time.Time {
	t, ok := parseExpires(c.SecurityTxt.Expires, c.Location())
	if !ok || c.SecurityTxt.Expires == "" {
		return now.Add(DefaultSecurityTxtLifetime).Truncate(time.Second)
	}
	return t
}

// parseExpires reads RFC 3339 or a date (the end of that day is meant,
// so 23:59:59 in loc).
func parseExpires(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return d.Add(24*time.Hour - time.Second), true
	}
	return time.Time{}, false
}

// PGPPassphrase reads pgp.passphrase_file (nil when unset), dropping one
// trailing newline.
func (c *Config) PGPPassphrase() ([]byte, error) {
	if c.PGP.PassphraseFile == "" {
		return nil, nil
	}
	s, err := readSecret(c.PGP.PassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("read pgp.passphrase_file: %w", err)
	}
	return []byte(s), nil
}

func (c *Config) resolvePGPPaths() {
	abs := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(c.Dir, p)
		}
		return p
	}
	c.PGP.KeyFile = abs(c.PGP.KeyFile)
	c.PGP.PassphraseFile = abs(c.PGP.PassphraseFile)
	c.PGP.StaffKeysFile = abs(c.PGP.StaffKeysFile)
	for i, p := range c.PGP.OldKeyFiles {
		c.PGP.OldKeyFiles[i] = abs(p)
	}
}

// validatePGP checks the pgp.* and securitytxt.* keys. Whether a key file
// holds a key that the passphrase unlocks is checked by cmd, which owns
// the OpenPGP code (config imports no project package).
func (c *Config) validatePGP(ch *checker) {
	p := c.PGP
	if p.KeyFile != "" {
		ch.readable("pgp.key_file", p.KeyFile)
	}
	if p.PassphraseFile != "" {
		if p.KeyFile == "" {
			ch.add("pgp.passphrase_file", "set without pgp.key_file")
		}
		ch.readable("pgp.passphrase_file", p.PassphraseFile)
	}
	for i, f := range p.OldKeyFiles {
		if p.KeyFile == "" {
			ch.add("pgp.old_key_files", "set without pgp.key_file")
			break
		}
		ch.readable(fmt.Sprintf("pgp.old_key_files[%d]", i), f)
	}
	if p.StaffKeysFile != "" {
		ch.readable("pgp.staff_keys_file", p.StaffKeysFile)
	}
	ch.oneOf("pgp.staff_plaintext", p.StaffPlaintext, "allow", "deny")

	st := c.SecurityTxt
	if _, ok := parseExpires(st.Expires, c.Location()); !ok {
		ch.add("securitytxt.expires", "want RFC 3339 or YYYY-MM-DD, got %q", st.Expires)
	}
	for _, f := range []struct{ key, v string }{
		{"securitytxt.encryption_url", st.EncryptionURL}, {"securitytxt.policy", st.Policy},
		{"securitytxt.canonical", st.Canonical}, {"securitytxt.acknowledgments", st.Acknowledgments},
	} {
		// RFC 9116 §2.5: web URIs in these fields must use https.
		if f.v != "" && !strings.HasPrefix(f.v, "https://") &&
			!(f.key == "securitytxt.encryption_url" && (strings.HasPrefix(f.v, "openpgp4fpr:") || strings.HasPrefix(f.v, "dns:"))) {
			ch.add(f.key, "want an https:// URL, got %q", f.v)
		}
	}
}
