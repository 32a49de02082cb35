package pgp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// needTool finds an external OpenPGP implementation; it skips only when
// the tool is missing and CI is unset (CI installs gnupg and sqop).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI must install it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// gnupg is a GnuPG 2.2 with a private home, run non-interactively.
type gnupg struct {
	t    *testing.T
	home string
}

func newGPG(t *testing.T) *gnupg {
	t.Helper()
	needTool(t, "gpg")
	// A short home: gpg-agent's socket path must fit in sun_path.
	home, err := os.MkdirTemp("/tmp", "gpgt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	g := &gnupg{t: t, home: home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	return g
}

// run runs gpg with args and stdin, failing the test on error.
func (g *gnupg) run(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, errOut, err := g.try(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// try runs gpg and returns stdout, stderr and the error.
func (g *gnupg) try(stdin []byte, args ...string) ([]byte, []byte, error) {
	all := append([]string{"--homedir", g.home, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback",
		"--passphrase", "", "--trust-model", "always"}, args...)
	cmd := exec.Command("gpg", all...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

var reFpr = regexp.MustCompile(`(?m)^fpr:::::::::([0-9A-F]{40}):`)

// genKey makes an Ed25519/Cv25519 key for uid and returns its
// fingerprint.
func (g *gnupg) genKey(uid string) string {
	g.t.Helper()
	g.run(nil, "--quick-gen-key", uid, "future-default", "default", "1y")
	m := reFpr.FindSubmatch(g.run(nil, "--with-colons", "--list-keys", uid))
	if m == nil {
		g.t.Fatal("gpg: no fingerprint after key generation")
	}
	return string(m[1])
}

// export returns the armored public key of id.
func (g *gnupg) export(id string) []byte { return g.run(nil, "--armor", "--export", id) }

// importKey imports an armored key (public or secret).
func (g *gnupg) importKey(k []byte) { g.run(k, "--import") }

// sqopKey makes a key with sqop and returns the secret key and the cert.
func sqopKey(t *testing.T, uid string) (key, cert []byte) {
	t.Helper()
	needTool(t, "sqop")
	key = runTool(t, nil, "sqop", "generate-key", uid)
	cert = runTool(t, key, "sqop", "extract-cert")
	return key, cert
}

// runTool runs an external command, failing the test on error.
func runTool(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes()
}

// writeFile writes b into a file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// orgKey makes an organisation key for tests.
func orgKey(t *testing.T, addr string) (*SecretKey, *Generated) {
	t.Helper()
	g, err := Generate("Example Security", addr, 365*24*time.Hour, []byte("pw"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadSecretKey([]byte(g.Armored), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return k, g
}
