package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"disclosured/config"
	"disclosured/pgp"
	"disclosured/workflow"
)

// expiryWarning is how long before its expiry check-config warns about
// the organisation key.
const expiryWarning = 30 * 24 * time.Hour

// pgpKeys are the OpenPGP keys the config names.
type pgpKeys struct {
	current *pgp.SecretKey   // nil: OpenPGP is off
	old     []*pgp.SecretKey // retired, decryption only
	staff   []*pgp.PublicKey
}

// all is the current key, then the retired ones: the order Open tries.
func (k *pgpKeys) all() []*pgp.SecretKey {
	if k.current == nil {
		return nil
	}
	return append([]*pgp.SecretKey{k.current}, k.old...)
}

// loadPGP reads and unlocks the keys of cfg.PGP. A key that does not load
// is a config error.
func loadPGP(cfg *config.Config) (*pgpKeys, error) {
	k := &pgpKeys{}
	if cfg.PGP.KeyFile == "" {
		if cfg.PGP.StaffKeysFile != "" {
			staff, err := readStaffKeys(cfg.PGP.StaffKeysFile)
			if err != nil {
				return nil, configError{err}
			}
			k.staff = staff
		}
		return k, nil
	}
	pass, err := cfg.PGPPassphrase()
	if err != nil {
		return nil, configError{err}
	}
	defer clear(pass)
	load := func(key, path string) (*pgp.SecretKey, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, configError{fmt.Errorf("%s: %w", key, err)}
		}
		defer clear(b)
		s, err := pgp.LoadSecretKey(b, pass)
		if err != nil {
			return nil, configError{fmt.Errorf("%s: %s: %w", key, path, err)}
		}
		return s, nil
	}
	if k.current, err = load("pgp.key_file", cfg.PGP.KeyFile); err != nil {
		return nil, err
	}
	for i, p := range cfg.PGP.OldKeyFiles {
		s, err := load(fmt.Sprintf("pgp.old_key_files[%d]", i), p)
		if err != nil {
			return nil, err
		}
		k.old = append(k.old, s)
	}
	if cfg.PGP.StaffKeysFile != "" {
		if k.staff, err = readStaffKeys(cfg.PGP.StaffKeysFile); err != nil {
			return nil, configError{err}
		}
	}
	return k, nil
}

func readStaffKeys(path string) ([]*pgp.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pgp.staff_keys_file: %w", err)
	}
	keys, err := pgp.ParsePublicKeys(b)
	if err != nil {
		return nil, fmt.Errorf("pgp.staff_keys_file: %s: %w", path, err)
	}
	return keys, nil
}

// reportPGP writes what check-config says of the keys: fingerprints and
// expiry, a warning 30 days before it. An expired current key is an
// error: nobody could verify what it signs.
func reportPGP(k *pgpKeys, w io.Writer, now time.Time) error {
	if k.current == nil {
		fmt.Fprintln(w, "pgp: off (no pgp.key_file)")
		return nil
	}
	line := func(what string, p *pgp.PublicKey) error {
		exp := p.Expires()
		switch {
		case exp.IsZero():
			fmt.Fprintf(w, "pgp: %s %s, never expires\n", what, p.Fingerprint())
		case !exp.After(now):
			fmt.Fprintf(w, "pgp: %s %s expired %s\n", what, p.Fingerprint(), exp.UTC().Format(time.RFC3339))
			if what == "key" {
				return configError{fmt.Errorf("pgp.key_file: the key %s expired on %s", p.Fingerprint(), exp.UTC().Format(time.RFC3339))}
			}
		case exp.Sub(now) < expiryWarning:
			fmt.Fprintf(w, "pgp: %s %s expires %s\nwarning: pgp.key_file: the key expires in %d days; extend it or rotate it\n",
				what, p.Fingerprint(), exp.UTC().Format(time.RFC3339), int(exp.Sub(now).Hours()/24))
		default:
			fmt.Fprintf(w, "pgp: %s %s expires %s\n", what, p.Fingerprint(), exp.UTC().Format(time.RFC3339))
		}
		return nil
	}
	if err := line("key", k.current.Public()); err != nil {
		return err
	}
	for _, o := range k.old {
		_ = line("retired key", o.Public())
	}
	for _, s := range k.staff {
		fmt.Fprintf(w, "pgp: staff key %s %s\n", s.Fingerprint(), strings.Join(s.Addresses(), ", "))
	}
	return nil
}

// cmdPGP runs `disclosured pgp generate`.
func cmdPGP(args []string, e env) error {
	if len(args) == 0 || args[0] != "generate" {
		return usageError{"usage: disclosured pgp generate --name NAME --email ADDRESS --out FILE [--passphrase-file FILE] [--lifetime 730d]"}
	}
	fs, _ := newFlags("pgp generate", e)
	name := fs.String("name", "", "the key's user ID name (the organisation)")
	email := fs.String("email", "", "the key's user ID address (the security mailbox)")
	out := fs.String("out", "", "write the armored secret key here (the public key goes to FILE.pub)")
	passFile := fs.String("passphrase-file", "", "lock the key with the passphrase in this file")
	lifetime := fs.String("lifetime", "730d", "validity, e.g. 365d or 8760h; 0 for none")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *name == "" || *email == "" || *out == "" {
		return usageError{"pgp generate needs --name, --email and --out"}
	}
	life, err := parseLifetime(*lifetime)
	if err != nil {
		return usageError{err.Error()}
	}
	var pass []byte
	if *passFile != "" {
		b, err := os.ReadFile(*passFile)
		if err != nil {
			return fmt.Errorf("read passphrase: %w", err)
		}
		pass = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
		clear(b)
		defer clear(pass)
	}
	g, err := pgp.Generate(*name, *email, life, pass, time.Now())
	if err != nil {
		return err
	}
	// O_EXCL: never overwrite a key.
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write secret key: %w", err)
	}
	if _, err := io.WriteString(f, g.Armored); err != nil {
		f.Close()
		return fmt.Errorf("write secret key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write secret key: %w", err)
	}
	if err := os.WriteFile(*out+".pub", []byte(g.Public), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	fmt.Fprintln(e.stdout, g.Fingerprint)
	if g.Expires.IsZero() {
		fmt.Fprintf(e.stderr, "wrote %s and %s.pub; the key never expires\n", *out, *out)
	} else {
		fmt.Fprintf(e.stderr, "wrote %s and %s.pub; the key expires %s\n", *out, *out, g.Expires.UTC().Format(time.RFC3339))
	}
	if len(pass) == 0 {
		fmt.Fprintln(e.stderr, "warning: the key has no passphrase")
	}
	return nil
}

// parseLifetime reads "730d", a Go duration, or "0".
func parseLifetime(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscan(n, &days); err == nil && days > 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("--lifetime: want e.g. 730d or 8760h")
	}
	return d, nil
}

// cmdSecurityTxt prints the RFC 9116 security.txt, clear-signed with the
// organisation key when there is one.
func cmdSecurityTxt(args []string, e env) error {
	fs, cfgPath := newFlags("securitytxt", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, e)
	if err != nil {
		return err
	}
	keys, err := loadPGP(cfg)
	if err != nil {
		return err
	}
	now := time.Now()
	st := securityTxt(cfg, keys, now)
	var signer *pgp.Signer
	if keys.current != nil {
		signer = pgp.NewSigner(keys.current)
	}
	b, err := st.Render(signer, now)
	if err != nil {
		return configError{fmt.Errorf("securitytxt: %w", err)}
	}
	_, err = e.stdout.Write(b)
	return err
}

// securityTxt fills the security.txt fields from cfg.
func securityTxt(cfg *config.Config, keys *pgpKeys, now time.Time) pgp.SecurityTxt {
	st := pgp.SecurityTxt{
		Contact:   cfg.Organization.Address,
		Expires:   cfg.SecurityTxtExpires(now),
		Languages: cfg.Organization.Languages,
		Policy:    cfg.SecurityTxt.Policy, Canonical: cfg.SecurityTxt.Canonical,
		Acknowledgments: cfg.SecurityTxt.Acknowledgments,
		Encryption:      cfg.SecurityTxt.EncryptionURL,
	}
	if st.Encryption == "" && keys.current != nil {
		st.Encryption = pgp.FingerprintURI(keys.current.Fingerprint())
	}
	return st
}

// workflow is the engine's view of the keys; nil when OpenPGP is off.
func (k *pgpKeys) workflow(cfg *config.Config) *workflow.PGPOptions {
	if k.current == nil {
		if len(k.staff) == 0 {
			return nil
		}
		// Staff keys alone: staff.auth: pgp verifies, nothing is signed.
		return &workflow.PGPOptions{StaffKeys: k.staff, StaffPlaintext: cfg.PGP.StaffPlaintext == "allow"}
	}
	return &workflow.PGPOptions{Keys: k.all(), StaffKeys: k.staff, StaffPlaintext: cfg.PGP.StaffPlaintext == "allow",
		MaxPlaintext: cfg.Limits.MaxMessageBytes}
}
