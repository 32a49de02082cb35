package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/gopenpgp/v3/crypto"
)

const (
	orgAddr = "security@example.com"
	repAddr = "reporter@example.org"
	secret  = "SQL injection in /login: id=1' OR '1'='1"
)

// mail wraps a body under a reporter's header.
func mail(contentType, body string, extra ...string) []byte {
	h := "From: Reporter <" + repAddr + ">\r\nTo: " + orgAddr + "\r\nSubject: ...\r\nMessage-ID: <m1@example.org>\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	if contentType != "" {
		h += "MIME-Version: 1.0\r\nContent-Type: " + contentType + "\r\n"
	}
	return []byte(h + "\r\n" + strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
}

// pgpMIME wraps armored ciphertext as RFC 3156 multipart/encrypted.
func pgpMIME(armored []byte) []byte {
	return mail(`multipart/encrypted; protocol="application/pgp-encrypted"; boundary="BB"`,
		"--BB\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--BB\n"+
			"Content-Type: application/octet-stream; name=\"encrypted.asc\"\n\n"+string(armored)+"\n--BB--\n")
}

// reporterGPG sets up a gpg reporter who knows our key.
func reporterGPG(t *testing.T, org *Generated) (*gnupg, string, *PublicKey) {
	g := newGPG(t)
	fpr := g.genKey("Reporter <" + repAddr + ">")
	g.importKey([]byte(org.Public))
	keys, err := ParsePublicKeys(g.export(fpr))
	if err != nil {
		t.Fatal(err)
	}
	return g, fpr, keys[0]
}

func TestGenerateAndLoad(t *testing.T) {
	now := time.Now()
	gen, err := Generate("Example Security", orgAddr, 400*24*time.Hour, []byte("correct horse"), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecretKey([]byte(gen.Armored), []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := LoadSecretKey([]byte(gen.Armored), nil); err == nil {
		t.Fatal("a protected key loaded without passphrase")
	}
	k, err := LoadSecretKey([]byte(gen.Armored), []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Fingerprint() != gen.Fingerprint || len(gen.Fingerprint) != 40 {
		t.Fatalf("fingerprint %q vs %q", k.Fingerprint(), gen.Fingerprint)
	}
	if v := k.key.GetVersion(); v != 4 {
		t.Fatalf("key version %d, want 4 (gpg 2.2 reads no v6)", v)
	}
	if d := gen.Expires.Sub(now.Add(400 * 24 * time.Hour)); d > time.Second || d < -time.Second {
		t.Fatalf("expires %v", gen.Expires)
	}
	if e := k.key.GetEntity(); e.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		t.Fatalf("primary algorithm %v", e.PrimaryKey.PubKeyAlgo)
	}
	if !k.Public().HasAddress("SECURITY@example.com", now) || k.Public().HasAddress("x@example.com", now) {
		t.Fatal("HasAddress")
	}
	// GnuPG 2.2 reads the secret key with its passphrase.
	g := newGPG(t)
	out, errOut, err := g.try([]byte(gen.Armored), "--passphrase", "correct horse", "--import")
	if err != nil {
		t.Fatalf("gpg import: %v %s %s", err, out, errOut)
	}
	list := g.run(nil, "--with-colons", "--list-secret-keys")
	if !bytes.Contains(list, []byte(gen.Fingerprint)) || !bytes.Contains(list, []byte(":cv25519:")) && !bytes.Contains(list, []byte("cv25519")) {
		t.Fatalf("gpg secret keys:\n%s", list)
	}
}

func TestOpenPGPMIMEFromGPG(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	g, repFpr, repKey := reporterGPG(t, gen)
	inner := "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\nSubject: Login bypass\r\n\r\n" + secret + "\r\n"
	ct := g.run([]byte(inner), "--armor", "--encrypt", "--sign", "-r", gen.Fingerprint, "-u", repFpr)
	res := Open(pgpMIME(ct), Options{Keys: []*SecretKey{org}, Verify: []*PublicKey{repKey}, Sender: repAddr})
	if res.Err != "" || !res.Encrypted || !res.Decrypted || res.Form != FormPGPMIME {
		t.Fatalf("result %+v", res)
	}
	if res.DecryptedWith != org.Fingerprint() || res.SignedBy != repFpr || !res.SignatureValid || !res.SignedAll || res.SignatureKey != "known" {
		t.Fatalf("result %+v", res)
	}
	if res.Subject != "Login bypass" || !bytes.Contains(res.Raw, []byte("Subject: Login bypass")) || bytes.Contains(res.Raw, []byte("Subject: ...")) {
		t.Fatalf("protected subject %q in\n%s", res.Subject, res.Raw)
	}
	if !bytes.Contains(res.Raw, []byte("SQL injection in /login")) || bytes.Contains(res.Raw, []byte("BEGIN PGP MESSAGE")) {
		t.Fatalf("raw:\n%s", res.Raw)
	}
	// Without the reporter's key the signature is named but not valid.
	res = Open(pgpMIME(ct), Options{Keys: []*SecretKey{org}, Sender: repAddr})
	if !res.Decrypted || !res.Signed || res.SignatureValid || res.SignatureError == "" {
		t.Fatalf("unknown signer: %+v", res)
	}
}

func TestOpenExchangeForm(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	g, _, repKey := reporterGPG(t, gen)
	ct := g.run([]byte("Content-Type: text/plain\r\n\r\n"+secret+"\r\n"), "--armor", "--encrypt", "--sign", "-r", gen.Fingerprint)
	raw := mail(`multipart/mixed; boundary="XX"`,
		"--XX\nContent-Type: text/plain; charset=us-ascii\n\n\n--XX\nContent-Type: application/pgp-encrypted; name=\"PGPMIME Versions Identification\"\n"+
			"Content-Disposition: attachment; filename=\"PGPMIME Versions Identification\"\n\nVersion: 1\n\n--XX\n"+
			"Content-Type: application/octet-stream; name=\"encrypted.asc\"\nContent-Disposition: attachment; filename=\"encrypted.asc\"\n"+
			"Content-Transfer-Encoding: base64\n\n"+string(b64(ct))+"\n--XX--\n")
	res := Open(raw, Options{Keys: []*SecretKey{org}, Verify: []*PublicKey{repKey}, Sender: repAddr})
	if res.Form != FormExchange || !res.Decrypted || !res.SignatureValid || !bytes.Contains(res.Raw, []byte("SQL injection")) {
		t.Fatalf("result %+v\n%s", res, res.Raw)
	}
}

func TestOpenInlineTextAndHTML(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	g, repFpr, repKey := reporterGPG(t, gen)
	ct := g.run([]byte(secret+"\n"), "--armor", "--encrypt", "--sign", "-r", gen.Fingerprint)
	res := Open(mail("text/plain; charset=us-ascii", "Hello,\n\n"+string(ct)+"\nBye\n"),
		Options{Keys: []*SecretKey{org}, Verify: []*PublicKey{repKey}, Sender: repAddr})
	if res.Form != FormInline || !res.Decrypted || res.SignedBy != repFpr || !res.SignatureValid || res.SignedAll {
		t.Fatalf("inline: %+v", res)
	}
	if !bytes.Contains(res.Raw, []byte("SQL injection")) || !bytes.Contains(res.Raw, []byte("Bye")) {
		t.Fatalf("inline raw:\n%s", res.Raw)
	}
	// The same armor as an HTML mail client writes it.
	htmlBody := "<html><body><p>Hello,</p><pre>" + strings.ReplaceAll(string(ct), "\n", "<br>\n") + "</pre></body></html>"
	raw := mail(`multipart/alternative; boundary="AA"`, "--AA\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"+
		string(qp([]byte(htmlBody)))+"\n--AA--\n")
	res = Open(raw, Options{Keys: []*SecretKey{org}, Verify: []*PublicKey{repKey}, Sender: repAddr})
	if res.Form != FormHTML || !res.Decrypted || !res.SignatureValid || !bytes.Contains(res.Raw, []byte("SQL injection")) {
		t.Fatalf("html: %+v\n%s", res, res.Raw)
	}
}

func TestOpenAttachment(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	g, _, _ := reporterGPG(t, gen)
	dir := t.TempDir()
	in := writeFile(t, dir, "poc.py", []byte("print('"+secret+"')\n"))
	g.run(nil, "--encrypt", "-r", gen.Fingerprint, "-o", filepath.Join(dir, "poc.py.gpg"), in)
	bin, err := os.ReadFile(filepath.Join(dir, "poc.py.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	raw := mail(`multipart/mixed; boundary="MM"`, "--MM\nContent-Type: text/plain\n\nSee the attachment.\n--MM\n"+
		"Content-Type: application/octet-stream; name=\"poc.py.gpg\"\nContent-Disposition: attachment; filename=\"poc.py.gpg\"\n"+
		"Content-Transfer-Encoding: base64\n\n"+string(b64(bin))+"--MM--\n")
	res := Open(raw, Options{Keys: []*SecretKey{org}, Sender: repAddr})
	if res.Form != FormAttachment || !res.Decrypted || res.Err != "" {
		t.Fatalf("%+v", res)
	}
	if !bytes.Contains(res.Raw, []byte(`filename=poc.py`)) || !bytes.Contains(res.Raw, b64([]byte("print('" + secret + "')\n"))[:40]) ||
		!bytes.Contains(res.Raw, []byte("See the attachment.")) {
		t.Fatalf("raw:\n%s", res.Raw)
	}
}

func TestOpenSignedMIMEAndClearSigned(t *testing.T) {
	_, gen := orgKey(t, orgAddr)
	g, repFpr, repKey := reporterGPG(t, gen)
	part := "Content-Type: text/plain; charset=us-ascii\r\n\r\n#assess high 2027-01-15\r\n"
	sig := g.run([]byte(part), "--armor", "--detach-sign", "-u", repFpr)
	signed := func(p string) []byte {
		return mail(`multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="SS"`,
			"--SS\n"+p+"\n--SS\nContent-Type: application/pgp-signature\n\n"+string(sig)+"\n--SS--\n")
	}
	res := Open(signed(part), Options{Verify: []*PublicKey{repKey}, Sender: repAddr})
	if !res.Signed || !res.SignatureValid || !res.SignedAll || res.SignedBy != repFpr || res.Encrypted {
		t.Fatalf("signed: %+v", res)
	}
	if !bytes.Contains(res.Raw, []byte("#assess high")) || bytes.Contains(res.Raw, []byte("multipart/signed")) {
		t.Fatalf("raw:\n%s", res.Raw)
	}
	forged := Open(signed(strings.Replace(part, "high", "none", 1)), Options{Verify: []*PublicKey{repKey}, Sender: repAddr})
	if !forged.Signed || forged.SignatureValid || forged.SignedAll {
		t.Fatalf("forged: %+v", forged)
	}
	// Inline clear-signed text.
	cs := g.run([]byte("I found a bug.\n"), "--clearsign", "-u", repFpr)
	res = Open(mail("text/plain", string(cs)), Options{Verify: []*PublicKey{repKey}, Sender: repAddr})
	if res.Form != FormClearSign || !res.SignatureValid || !res.SignedAll || !bytes.Contains(res.Raw, []byte("I found a bug.")) ||
		bytes.Contains(res.Raw, []byte("BEGIN PGP")) {
		t.Fatalf("clearsign: %+v\n%s", res, res.Raw)
	}
	bad := bytes.Replace(cs, []byte("a bug"), []byte("no bug"), 1)
	if res := Open(mail("text/plain", string(bad)), Options{Verify: []*PublicKey{repKey}, Sender: repAddr}); res.SignatureValid {
		t.Fatalf("tampered clearsign verified: %+v", res)
	}
}

func TestOpenUndecryptableAndRetiredKey(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	old, oldGen := orgKey(t, orgAddr)
	g, _, _ := reporterGPG(t, gen)
	other := g.genKey("Someone Else <else@example.net>")
	ct := g.run([]byte(secret), "--armor", "--encrypt", "-r", other)
	in := pgpMIME(ct)
	res := Open(in, Options{Keys: []*SecretKey{org}, Sender: repAddr})
	if !res.Encrypted || res.Decrypted || !strings.Contains(res.Err, "not encrypted to any of our keys") || len(res.EncryptedTo) != 1 {
		t.Fatalf("%+v", res)
	}
	if !bytes.Equal(res.Raw, in) {
		t.Fatal("an undecryptable message must stay as it came")
	}
	// A retired key still decrypts.
	g.importKey([]byte(oldGen.Public))
	ct = g.run([]byte("Content-Type: text/plain\r\n\r\n"+secret), "--armor", "--encrypt", "-r", oldGen.Fingerprint)
	res = Open(pgpMIME(ct), Options{Keys: []*SecretKey{org, old}, Sender: repAddr})
	if !res.Decrypted || res.DecryptedWith != old.Fingerprint() {
		t.Fatalf("retired key: %+v", res)
	}
}

func TestOpenHostileInput(t *testing.T) {
	org, gen := orgKey(t, orgAddr)
	pub, _ := ParsePublicKeys([]byte(gen.Public))
	enc := func(plain []byte, compress bool) []byte {
		kr, _ := publicRing(pub)
		b := handle.Encryption().Recipients(kr)
		if compress {
			b = b.Compress()
		}
		h, err := b.New()
		if err != nil {
			t.Fatal(err)
		}
		m, err := h.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := m.ArmorBytes()
		return a
	}
	good := enc([]byte("Content-Type: text/plain\r\n\r\nhello"), false)
	// Cut in the middle of the packets, then re-armored so only the
	// packets are broken.
	m, _ := crypto.NewPGPMessageFromArmored(string(good))
	truncated, _ := crypto.NewPGPMessage(m.Bytes()[:len(m.Bytes())/2]).ArmorBytes()
	// 16 MiB of zeros compress to about 16 KiB: 16 times the 1 MiB limit.
	bomb := enc(make([]byte, 16<<20), true)
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"broken armor", pgpMIME([]byte("-----BEGIN PGP MESSAGE-----\n\n!!!!not base64!!!!\n-----END PGP MESSAGE-----\n")), ErrMalformed},
		{"truncated packets", pgpMIME(truncated), ErrMalformed},
		{"compression bomb", pgpMIME(bomb), ErrTooLarge},
		{"garbage in place of the ciphertext", pgpMIME([]byte{0x00, 0xff, 0xfe}), ErrMalformed},
		{"missing parts", mail(`multipart/encrypted; boundary="B"`, "--B\nContent-Type: text/plain\n\nx\n--B--\n"), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res := Open(c.raw, Options{Keys: []*SecretKey{org}, MaxPlaintext: 1 << 20, Sender: repAddr})
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
			if !res.Encrypted || res.Decrypted || res.Err == "" || !bytes.Equal(res.Raw, c.raw) {
				t.Fatalf("%+v", res)
			}
			if !strings.Contains(res.Err, strings.TrimPrefix(c.want.Error(), "pgp: ")) {
				t.Fatalf("error %q, want %v", res.Err, c.want)
			}
		})
	}
	// Too many recipients: the key packets are counted before any is
	// tried.
	var many bytes.Buffer
	for i := 0; i < MaxRecipients+1; i++ {
		many.Write([]byte{0xc1, 0x0c, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0})
	}
	if err := checkMessage(many.Bytes()); !errors.Is(err, ErrTooManyRecipients) {
		t.Fatalf("recipients: %v", err)
	}
}

// keyBomb appends n user ID (or subkey) packets to a real public key.
func keyBomb(t *testing.T, gen *Generated, n int, subkeys bool) []byte {
	t.Helper()
	keys, _ := ParsePublicKeys([]byte(gen.Public))
	bin, _ := keys[0].Binary()
	var b bytes.Buffer
	b.Write(bin)
	e := keys[0].key.GetEntity()
	for i := 0; i < n; i++ {
		if subkeys {
			if err := e.Subkeys[0].PublicKey.Serialize(&b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		uid := packet.NewUserId(fmt.Sprintf("bomb %d", i), "", fmt.Sprintf("b%d@example.org", i))
		if err := uid.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestKeyBombs(t *testing.T) {
	_, gen := orgKey(t, repAddr)
	for _, c := range []struct {
		name    string
		subkeys bool
	}{{"user IDs", false}, {"subkeys", true}} {
		t.Run(c.name, func(t *testing.T) {
			bomb := keyBomb(t, gen, 5000, c.subkeys)
			start := time.Now()
			_, err := ParsePublicKeys(bomb)
			if !errors.Is(err, ErrKeyTooComplex) {
				t.Fatalf("err %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %v", d)
			}
			// Attached to a mail, the bomb is a note, not a key.
			raw := mail(`multipart/mixed; boundary="K"`, "--K\nContent-Type: text/plain\n\nmy key\n--K\n"+
				"Content-Type: application/pgp-keys\nContent-Transfer-Encoding: base64\n\n"+string(b64(bomb))+"--K--\n")
			res := Open(raw, Options{Sender: repAddr})
			if len(res.Keys) != 0 || len(res.KeyNotes) != 1 || !strings.Contains(res.KeyNotes[0], "exceeds the limits") {
				t.Fatalf("%+v", res)
			}
		})
	}
	// Well under the bounds the same key parses.
	if _, err := ParsePublicKeys(keyBomb(t, gen, 10, false)); err != nil {
		t.Fatal(err)
	}
}

func TestReporterKeys(t *testing.T) {
	now := time.Now().Add(5 * time.Minute) // after the keys below are made
	_, mine := orgKey(t, repAddr)
	_, theirs := orgKey(t, "someone@example.net")
	expired, err := Generate("Old", repAddr, time.Hour, nil, now.Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	attach := func(k string) string {
		return "--K\nContent-Type: application/pgp-keys; name=\"key.asc\"\n\n" + k + "\n"
	}
	raw := mail(`multipart/mixed; boundary="K"`, "--K\nContent-Type: text/plain\n\nreport\n"+
		attach(mine.Public)+attach(theirs.Public)+attach(expired.Public)+"--K--\n")
	res := Open(raw, Options{Sender: repAddr, Now: now})
	if len(res.Keys) != 1 || res.Keys[0].Fingerprint() != mine.Fingerprint || len(res.KeyNotes) != 2 {
		t.Fatalf("keys %v notes %q", res.Keys, res.KeyNotes)
	}
	if len(res.Others) != 1 || res.Others[0].Fingerprint() != theirs.Fingerprint {
		t.Fatalf("others %v", res.Others)
	}
	if !strings.Contains(strings.Join(res.KeyNotes, "\n"), "expired") {
		t.Fatalf("notes %q", res.KeyNotes)
	}
	// Autocrypt: header (Autocrypt Level 1), for the sender only.
	keys, _ := ParsePublicKeys([]byte(mine.Public))
	bin, _ := keys[0].Binary()
	kd := strings.TrimSpace(strings.ReplaceAll(string(b64(bin)), "\r\n", "\r\n "))
	raw = mail("text/plain", "hello\n", "Autocrypt: addr="+repAddr+"; prefer-encrypt=mutual; keydata="+kd)
	res = Open(raw, Options{Sender: repAddr, Now: now})
	if len(res.Keys) != 1 || res.Keys[0].Fingerprint() != mine.Fingerprint {
		t.Fatalf("autocrypt: %+v", res)
	}
	if !bytes.Equal(res.Raw, raw) {
		t.Fatal("a message with only a key must stay as it came")
	}
	res = Open(raw, Options{Sender: "other@example.org", Now: now})
	if len(res.Keys) != 0 {
		t.Fatalf("autocrypt for another sender taken: %+v", res)
	}
}

func TestPlainMailUnchanged(t *testing.T) {
	org, _ := orgKey(t, orgAddr)
	entries, _ := filepath.Glob("../../shared/corpus/*/*.eml")
	if len(entries) < 100 && os.Getenv("CI") != "" {
		t.Fatalf("corpus not found: %d files", len(entries))
	}
	raws := [][]byte{mail("text/plain", "hello\n"), mail(`multipart/mixed; boundary="x"`, "--x\n\nhi\n--x--\n"), []byte("garbage")}
	for _, p := range entries {
		if b, err := os.ReadFile(p); err == nil {
			raws = append(raws, b)
		}
	}
	for i, raw := range raws {
		res := Open(raw, Options{Keys: []*SecretKey{org}, Sender: repAddr})
		if res.Encrypted {
			continue // the corpus may hold real OpenPGP mail
		}
		if !bytes.Equal(res.Raw, raw) && !res.Signed {
			t.Fatalf("message %d changed without OpenPGP in it", i)
		}
	}
}
