package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"disclosured/pgp"
)

var reFingerprint = regexp.MustCompile(`^[0-9A-F]{40}\n$`)

// genKey runs `pgp generate` and returns the key file and fingerprint.
func genKey(t *testing.T, dir, lifetime, pass string) (string, string) {
	t.Helper()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "org.asc")
	out, errOut, code := cli(t, "pgp", "generate", "--name", "Example Security", "--email", "security@example.test",
		"--out", key, "--passphrase-file", pw, "--lifetime", lifetime)
	if code != 0 || !reFingerprint.MatchString(out) {
		t.Fatalf("pgp generate: exit %d\n%s%s", code, out, errOut)
	}
	return key, strings.TrimSpace(out)
}

func TestPGPGenerateCheckConfigAndSecurityTxt(t *testing.T) {
	ms := mailSystem(t)
	dir := t.TempDir()
	key, fpr := genKey(t, dir, "365d", "s3cret")
	if _, _, code := cli(t, "pgp", "generate", "--name", "X", "--email", "x@example.test", "--out", key); code == 0 {
		t.Fatal("pgp generate overwrote a key")
	}
	pw := filepath.Join(dir, "pw")
	cfg := writeConfig(t, ms, "pgp:\n  key_file: "+key+"\n  passphrase_file: "+pw+"\n"+
		"securitytxt:\n  policy: https://example.test/policy\n")
	out, errOut, code := cli(t, "check-config", "-c", cfg)
	if code != 0 || !strings.Contains(errOut, "pgp: key "+fpr+" expires "+time.Now().AddDate(0, 0, 365).UTC().Format("2006-01-02")) ||
		strings.Contains(errOut, "warning") {
		t.Fatalf("check-config: exit %d\n%s", code, errOut)
	}
	if strings.Contains(out+errOut, "s3cret") || strings.Contains(out+errOut, "PRIVATE KEY") {
		t.Fatal("check-config printed key material")
	}

	// security.txt: RFC 9116 fields, clear-signed by the key.
	st, errOut, code := cli(t, "securitytxt", "-c", cfg)
	if code != 0 {
		t.Fatalf("securitytxt: exit %d %s", code, errOut)
	}
	for _, want := range []string{"-----BEGIN PGP SIGNED MESSAGE-----", "Contact: mailto:security@example.test\n",
		"Encryption: openpgp4fpr:" + strings.ToLower(fpr) + "\n", "Preferred-Languages: en, nl\n",
		"Policy: https://example.test/policy\n", "Expires: " + time.Now().Add(180*24*time.Hour).UTC().Format("2006-01-02")} {
		if !strings.Contains(st, want) {
			t.Errorf("security.txt lacks %q:\n%s", want, st)
		}
	}
	pubBytes, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := pgp.ParsePublicKeys(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	res := pgp.Open([]byte("From: security@example.test\r\nContent-Type: text/plain\r\n\r\n"+st),
		pgp.Options{Verify: pub, Sender: "security@example.test"})
	if !res.SignatureValid || res.SignedBy != fpr {
		t.Fatalf("security.txt signature: %+v", res)
	}

	// A wrong passphrase is a config error; the passphrase is not shown.
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = cli(t, "check-config", "-c", cfg)
	if code != 2 || !strings.Contains(errOut, "pgp.key_file") || !strings.Contains(errOut, "wrong passphrase") || strings.Contains(errOut, "wrong\n") {
		t.Fatalf("wrong passphrase: exit %d %s", code, errOut)
	}

	// 30 days before expiry check-config warns.
	dir2 := t.TempDir()
	key2, fpr2 := genKey(t, dir2, "20d", "pw2")
	cfg2 := writeConfig(t, ms, "pgp:\n  key_file: "+key2+"\n  passphrase_file: "+filepath.Join(dir2, "pw")+"\n")
	_, errOut, code = cli(t, "check-config", "-c", cfg2)
	if code != 0 || !strings.Contains(errOut, "warning: pgp.key_file: the key expires in 19 days") || !strings.Contains(errOut, fpr2) {
		t.Fatalf("expiry warning: exit %d\n%s", code, errOut)
	}
}
