package pgp

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"

	"github.com/ProtonMail/gopenpgp/v3/crypto"
	"github.com/emersion/go-message/textproto"
)

// Signer signs and encrypts outgoing mail with the organisation key.
type Signer struct {
	key *SecretKey
}

// NewSigner returns a Signer for key.
func NewSigner(key *SecretKey) *Signer { return &Signer{key: key} }

// Fingerprint is the signing key's fingerprint.
func (s *Signer) Fingerprint() string { return s.key.Fingerprint() }

// split parses an RFC 5322 message into its header and its body.
func split(msg []byte) (textproto.Header, []byte, error) {
	hl := splitHeader(msg)
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg[:hl])))
	if err != nil {
		return h, nil, fmt.Errorf("read message header: %w", err)
	}
	return h, msg[hl:], nil
}

// content builds the MIME entity that is signed or encrypted: the
// message's Content-* fields, its Subject as a protected header, and its
// body, made 7-bit clean (RFC 3156 §3: a signed entity must survive
// transport unchanged).
func content(h textproto.Header, body []byte) []byte {
	var ch textproto.Header
	fs := h.Fields()
	for fs.Next() {
		if strings.HasPrefix(strings.ToLower(fs.Key()), "content-") {
			ch.Add(fs.Key(), fs.Value())
		}
	}
	if ch.Get("Content-Type") == "" {
		ch.Set("Content-Type", "text/plain; charset=us-ascii")
	}
	if subj := h.Get("Subject"); subj != "" {
		// Protected headers (draft-ietf-lamps-header-protection, the
		// "v1" form Thunderbird and Enigmail write): the Subject inside
		// the signed or encrypted entity.
		if mt, params, err := mime.ParseMediaType(ch.Get("Content-Type")); err == nil {
			params["protected-headers"] = "v1"
			ch.Set("Content-Type", mime.FormatMediaType(mt, params))
		}
		ch.Set("Subject", subj)
	}
	cte := strings.ToLower(strings.TrimSpace(ch.Get("Content-Transfer-Encoding")))
	if (cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary") && !sevenBit(body) {
		mt, _, _ := mime.ParseMediaType(ch.Get("Content-Type"))
		if !strings.HasPrefix(strings.ToLower(mt), "multipart/") {
			body = qp(body)
			ch.Set("Content-Transfer-Encoding", "quoted-printable")
		}
	}
	var b bytes.Buffer
	_ = textproto.WriteHeader(&b, ch)
	b.Write(crlf(body))
	return b.Bytes()
}

// sevenBit: ASCII, no NUL, lines short enough for SMTP, no trailing
// blanks (which transport may strip).
func sevenBit(b []byte) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 998 || bytes.HasSuffix(line, []byte(" ")) || bytes.HasSuffix(line, []byte("\t")) ||
			bytes.HasPrefix(line, []byte("From ")) {
			return false
		}
		for _, c := range line {
			if c == 0 || c >= 0x80 || c == '\r' {
				return false
			}
		}
	}
	return true
}

func boundary() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "sig-" + hex.EncodeToString(b[:])
}

// outer writes the message's non-Content fields with a new Content-Type.
func outer(w *bytes.Buffer, h textproto.Header, contentType string) {
	var oh textproto.Header
	copyNonContent(&oh, h)
	oh.Set("MIME-Version", "1.0")
	oh.Set("Content-Type", contentType)
	_ = textproto.WriteHeader(w, oh)
}

// Sign wraps the message in RFC 3156 §5 multipart/signed with a detached
// signature by the organisation key.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	h, body, err := split(msg)
	if err != nil {
		return nil, err
	}
	signed := content(h, body)
	sh, err := handle.Sign().SigningKey(s.key.key).Detached().New()
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	sig, err := sh.Sign(signed, crypto.Armor)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	b := boundary()
	var w bytes.Buffer
	outer(&w, h, mime.FormatMediaType("multipart/signed", map[string]string{
		"micalg": micalg, "protocol": "application/pgp-signature", "boundary": b}))
	w.WriteString("This is an OpenPGP/MIME signed message (RFC 3156).\r\n")
	w.WriteString("--" + b + "\r\n")
	w.Write(signed)
	w.WriteString("\r\n--" + b + "\r\n")
	w.WriteString("Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n")
	w.WriteString("Content-Description: OpenPGP digital signature\r\n")
	w.WriteString("Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n")
	w.Write(crlf(sig))
	w.WriteString("\r\n--" + b + "--\r\n")
	return w.Bytes(), nil
}

// SignEncrypt signs the message with the organisation key and encrypts
// it to recipients and to the organisation key itself (so that the sent
// mail stays readable), as RFC 3156 §4 multipart/encrypted. The inner
// entity carries the Subject as a protected header; the outer Subject
// becomes outerSubject when that is not empty (it should keep the case
// tag that threading needs, and nothing of the content).
func (s *Signer) SignEncrypt(msg []byte, recipients []*PublicKey, outerSubject string) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("encrypt: no recipient key")
	}
	h, body, err := split(msg)
	if err != nil {
		return nil, err
	}
	inner := content(h, body)
	ring, err := publicRing(append(append([]*PublicKey(nil), recipients...), s.key.pub))
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	eh, err := handle.Encryption().Recipients(ring).SigningKey(s.key.key).New()
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	m, err := eh.Encrypt(inner)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	arm, err := m.ArmorBytes()
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if outerSubject != "" {
		h.Set("Subject", mime.QEncoding.Encode("utf-8", outerSubject))
	}
	b := boundary()
	var w bytes.Buffer
	outer(&w, h, mime.FormatMediaType("multipart/encrypted", map[string]string{
		"protocol": "application/pgp-encrypted", "boundary": b}))
	w.WriteString("This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n")
	w.WriteString("--" + b + "\r\n")
	w.WriteString("Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n")
	w.WriteString("\r\n--" + b + "\r\n")
	w.WriteString("Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n")
	w.WriteString("Content-Description: OpenPGP encrypted message\r\n")
	w.WriteString("Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n")
	w.Write(crlf(arm))
	w.WriteString("\r\n--" + b + "--\r\n")
	return w.Bytes(), nil
}

// ClearSign returns text clear-signed by the organisation key (RFC 9580
// §7), as security.txt wants it (RFC 9116 §2.3).
func (s *Signer) ClearSign(text []byte) ([]byte, error) {
	sh, err := handle.Sign().SigningKey(s.key.key).New()
	if err != nil {
		return nil, fmt.Errorf("clear-sign: %w", err)
	}
	out, err := sh.SignCleartext(text)
	if err != nil {
		return nil, fmt.Errorf("clear-sign: %w", err)
	}
	return out, nil
}
