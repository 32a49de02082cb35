package pgp

import (
	"bytes"
	"mime"
	"regexp"
	"strings"
	"testing"
	"time"
)

// composed is a mail as workflow builds it: 8-bit UTF-8, no transfer
// encoding.
func composed() []byte {
	return []byte("Date: Wed, 02 Dec 2026 08:00:00 +0000\r\nFrom: Example Security <" + orgAddr + ">\r\nTo: " + repAddr + "\r\n" +
		"Subject: [CS-2026-0001] Received: your report\r\nMessage-ID: <x1@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nDank je wel — we read it.\r\nFrom now on: case CS-2026-0001 \r\n")
}

// parts splits a two-part multipart message into its parts' raw bytes.
func parts(t *testing.T, msg []byte) (string, [][]byte) {
	t.Helper()
	h, body, err := split(msg)
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	ps := splitMultipart(body, params["boundary"])
	if len(ps) != 2 {
		t.Fatalf("%s with %d parts", mt, len(ps))
	}
	return mt, ps
}

var reValidSig = regexp.MustCompile(`\[GNUPG:\] VALIDSIG ([0-9A-F]{40})`)

func TestSignVerifiedByGPGAndOurselves(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	signed, err := NewSigner(org).Sign(composed())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(signed, []byte("\r\n")) {
		for _, c := range line {
			if c >= 0x80 {
				t.Fatalf("signed mail is not 7-bit: %q", line)
			}
		}
	}
	mt, ps := parts(t, signed)
	if mt != "multipart/signed" || !bytes.Contains(signed, []byte("micalg=pgp-sha256")) ||
		!bytes.Contains(signed, []byte("Subject: [CS-2026-0001] Received:")) {
		t.Fatalf("signed:\n%s", signed)
	}
	g := newGPG(t)
	g.importKey([]byte(gen.Public))
	dir := t.TempDir()
	data := writeFile(t, dir, "data", ps[0])
	_, sigBody, _ := split(ps[1])
	sig := writeFile(t, dir, "sig.asc", sigBody)
	out, errOut, err := g.try(nil, "--status-fd", "1", "--verify", sig, data)
	if err != nil {
		t.Fatalf("gpg verify: %v\n%s%s", err, out, errOut)
	}
	if m := reValidSig.FindSubmatch(out); m == nil || string(m[1]) != org.Fingerprint() {
		t.Fatalf("gpg status:\n%s", out)
	}
	// sqop verifies the same signature.
	needTool(t, "sqop")
	cert := writeFile(t, dir, "org.pub", []byte(gen.Public))
	runTool(t, ps[0], "sqop", "verify", sig, cert)
	// And we do, with the text intact after quoted-printable.
	res := Open(signed, Options{Verify: []*PublicKey{org.Public()}, Sender: orgAddr})
	if !res.SignatureValid || !res.SignedAll || res.SignedBy != org.Fingerprint() || res.Subject != "[CS-2026-0001] Received: your report" {
		t.Fatalf("%+v", res)
	}
}

func TestSignEncryptReadByGPG(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	g, repFpr, repKey := reporterGPG(t, gen)
	enc, err := NewSigner(org).SignEncrypt(composed(), []*PublicKey{repKey}, "[CS-2026-0001] Received: ...")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("read it")) || bytes.Contains(enc, []byte("your report")) ||
		!bytes.Contains(enc, []byte("Subject: [CS-2026-0001] Received: ...")) {
		t.Fatalf("plaintext in the encrypted mail:\n%s", enc)
	}
	mt, ps := parts(t, enc)
	if mt != "multipart/encrypted" || !bytes.Contains(ps[0], []byte("Version: 1")) {
		t.Fatalf("encrypted:\n%s", enc)
	}
	_, ct, _ := split(ps[1])
	out, errOut, err := g.try(ct, "--status-fd", "2", "--decrypt")
	if err != nil {
		t.Fatalf("gpg decrypt: %v\n%s", err, errOut)
	}
	if m := reValidSig.FindSubmatch(errOut); m == nil || string(m[1]) != org.Fingerprint() {
		t.Fatalf("gpg status:\n%s", errOut)
	}
	if !bytes.Contains(errOut, []byte("DECRYPTION_OKAY")) || !bytes.Contains(out, []byte("Subject: [CS-2026-0001] Received: your report")) ||
		!bytes.Contains(out, []byte("protected-headers")) {
		t.Fatalf("gpg plaintext:\n%s\n%s", out, errOut)
	}
	_ = repFpr
	// We can read our own sent mail too (it is encrypted to our key).
	res := Open(enc, Options{Keys: []*SecretKey{org}, Verify: []*PublicKey{org.Public()}, Sender: orgAddr})
	if !res.Decrypted || !res.SignatureValid || !strings.Contains(string(res.Raw), "we read it") {
		t.Fatalf("%+v\n%s", res, res.Raw)
	}
}

func TestSQOPInterop(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	key, cert := sqopKey(t, "Reporter <"+repAddr+">")
	dir := t.TempDir()
	keyF, certF := writeFile(t, dir, "rep.key", key), writeFile(t, dir, "rep.cert", cert)
	orgF := writeFile(t, dir, "org.pub", []byte(gen.Public))
	repKeys, err := ParsePublicKeys(cert)
	if err != nil {
		t.Fatal(err)
	}
	// sqop encrypts and signs to us; we decrypt and verify.
	inner := "Content-Type: text/plain; charset=utf-8\r\n\r\n" + secret + "\r\n"
	ct := runTool(t, []byte(inner), "sqop", "encrypt", "--sign-with", keyF, orgF)
	res := Open(pgpMIME(ct), Options{Keys: []*SecretKey{org}, Verify: repKeys, Sender: repAddr})
	if !res.Decrypted || !res.SignatureValid || res.SignedBy != repKeys[0].Fingerprint() || !bytes.Contains(res.Raw, []byte("SQL injection")) {
		t.Fatalf("%+v", res)
	}
	// We sign and encrypt to sqop's key; sqop decrypts and verifies.
	enc, err := NewSigner(org).SignEncrypt(composed(), repKeys, "")
	if err != nil {
		t.Fatal(err)
	}
	_, ps := parts(t, enc)
	_, armored, _ := split(ps[1])
	vf := dir + "/verifications"
	plain := runTool(t, armored, "sqop", "decrypt", "--verify-with", orgF, "--verifications-out", vf, keyF)
	if !bytes.Contains(plain, []byte("Subject: [CS-2026-0001]")) {
		t.Fatalf("sqop plaintext:\n%s", plain)
	}
	v := runTool(t, nil, "cat", vf)
	if !bytes.Contains(bytes.ToUpper(v), []byte(org.Fingerprint())) {
		t.Fatalf("sqop verifications: %q", v)
	}
	_ = certF
}

func TestSecurityTxt(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	st := SecurityTxt{Contact: orgAddr, Expires: now.AddDate(0, 0, 180), Encryption: FingerprintURI(org.Fingerprint()),
		Languages: []string{"en", "nl"}, Policy: "https://example.com/disclosure", Canonical: "https://example.com/.well-known/security.txt"}
	if _, err := (SecurityTxt{Contact: orgAddr, Expires: now.AddDate(1, 0, 1)}).Render(nil, now); err == nil {
		t.Fatal("Expires over a year ahead accepted")
	}
	plain, err := st.Render(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	checkSecurityTxt(t, plain, now)
	signed, err := st.Render(NewSigner(org), now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(signed, []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")) {
		t.Fatalf("signed:\n%s", signed)
	}
	g := newGPG(t)
	g.importKey([]byte(gen.Public))
	out, errOut, err := g.try(signed, "--status-fd", "1", "--decrypt")
	if err != nil {
		t.Fatalf("gpg verify: %v\n%s", err, errOut)
	}
	if m := reValidSig.FindSubmatch(out); m == nil || string(m[1]) != org.Fingerprint() {
		t.Fatalf("gpg:\n%s", out)
	}
	if !bytes.Contains(out, plain) {
		t.Fatalf("gpg cleartext:\n%s", out)
	}
}

// checkSecurityTxt applies RFC 9116's rules: known field names, each
// line a field, exactly one Expires in the future in ISO 8601 (RFC 3339)
// form less than a year ahead, at least one Contact with a URI scheme.
func checkSecurityTxt(t *testing.T, b []byte, now time.Time) {
	t.Helper()
	known := map[string]bool{"acknowledgments": true, "canonical": true, "contact": true, "encryption": true,
		"expires": true, "hiring": true, "policy": true, "preferred-languages": true}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || !known[strings.ToLower(k)] || v == "" {
			t.Fatalf("bad line %q", line)
		}
		counts[strings.ToLower(k)]++
		switch strings.ToLower(k) {
		case "expires":
			e, err := time.Parse(time.RFC3339, v)
			if err != nil || !e.After(now) || e.After(now.AddDate(1, 0, 0)) {
				t.Fatalf("Expires %q: %v", v, err)
			}
		case "contact", "encryption", "policy", "canonical":
			if !strings.Contains(v, ":") {
				t.Fatalf("%s is not a URI: %q", k, v)
			}
		}
	}
	if counts["expires"] != 1 || counts["contact"] < 1 || counts["preferred-languages"] > 1 {
		t.Fatalf("field counts %v", counts)
	}
}
