package pgp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"regexp"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgpErrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/gopenpgp/v3/crypto"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
)

// Options says with which keys Open reads a message.
type Options struct {
	// Keys are the organisation's secret keys, the current one first, then
	// the retired ones still used for decryption.
	Keys []*SecretKey
	// Verify are the keys a signature is checked against (the reporter's
	// known key, or the staff keys). When empty, keys the message itself
	// carries for Sender are used, and Result.SignatureKey says so.
	Verify []*PublicKey
	// Sender is the address of the message's author; keys found in the
	// message are kept only when a user ID carries it.
	Sender string
	// MaxPlaintext bounds the plaintext of one message (default
	// DefaultMaxPlaintext).
	MaxPlaintext int64
	// Now is the time keys and signatures are judged at.
	Now time.Time
}

// Forms of OpenPGP in a message, as Result.Form names them.
const (
	FormPGPMIME    = "pgp-mime"    // multipart/encrypted, RFC 3156 §4
	FormExchange   = "exchange"    // the same, as Outlook/Exchange mangle it
	FormInline     = "inline"      // armor in text/plain
	FormHTML       = "html-inline" // armor in text/html
	FormAttachment = "attachment"  // an encrypted .gpg/.pgp/.asc file
	FormSigned     = "pgp-mime-signed"
	FormClearSign  = "inline-signed"
)

// Result is what Open found and did.
type Result struct {
	// Encrypted: some part of the message was an OpenPGP message.
	Encrypted bool `json:"encrypted"`
	// Decrypted: every encrypted part was opened.
	Decrypted bool `json:"decrypted"`
	// Form names the first OpenPGP form found (Form* constants).
	Form string `json:"form,omitempty"`
	// DecryptedWith is the fingerprint of our key that opened it.
	DecryptedWith string `json:"decrypted_with,omitempty"`
	// EncryptedTo lists the key IDs a message we could not open was
	// encrypted to.
	EncryptedTo []string `json:"encrypted_to,omitempty"`
	// Signed: a signature was found.
	Signed bool `json:"signed"`
	// SignedBy is the signer's fingerprint, or its key ID when the
	// signature names no fingerprint and the key is unknown.
	SignedBy string `json:"signed_by,omitempty"`
	// SignatureValid: the signature verified against a key in
	// Options.Verify (or, see SignatureKey, a key the message carried).
	SignatureValid bool `json:"signature_valid"`
	// SignatureKey says where the verifying key came from: "known" or
	// "attached".
	SignatureKey string `json:"signature_key,omitempty"`
	// SignatureError says why a signature did not verify.
	SignatureError string `json:"signature_error,omitempty"`
	// SignedAll: the whole text the parser will see was covered by the
	// valid signature (a signed PGP/MIME entity or an encrypted-and-signed
	// message), not just a block inside unsigned text.
	SignedAll bool `json:"signed_all"`
	// Subject is the protected (inner) subject, when the encrypted part
	// carried one.
	Subject string `json:"subject,omitempty"`
	// Err says what failed, empty when nothing did.
	Err string `json:"error,omitempty"`
	// Keys are the sender's usable keys the message carried
	// (application/pgp-keys parts, key attachments, Autocrypt:).
	Keys []*PublicKey `json:"-"`
	// Others are usable keys the message carried for other addresses
	// (staff attach a third-party owner's key this way).
	Others []*PublicKey `json:"-"`
	// KeyNotes say why other keys the message carried were not taken.
	KeyNotes []string `json:"key_notes,omitempty"`
	// Raw is the message with each ciphertext replaced by its plaintext
	// and each signed wrapper unwrapped; the input itself when nothing of
	// OpenPGP was found.
	Raw []byte `json:"-"`
}

// Found reports whether the message held anything of OpenPGP.
func (r *Result) Found() bool {
	return r.Encrypted || r.Signed || len(r.Keys) > 0 || len(r.KeyNotes) > 0
}

// Open finds, decrypts and verifies the OpenPGP in the RFC 5322 message
// raw. It never fails: what it cannot read stays as it was, and Result.Err
// says why.
func Open(raw []byte, o Options) *Result {
	if o.MaxPlaintext <= 0 {
		o.MaxPlaintext = DefaultMaxPlaintext
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	res := open(raw, o)
	if len(o.Verify) == 0 && res.Signed && !res.SignatureValid && len(res.Keys) > 0 {
		// First contact: check the signature against the key the sender
		// sent along (trust on first use; SignatureKey tells staff).
		o.Verify = res.Keys
		again := open(raw, o)
		if again.SignatureValid {
			again.SignatureKey = "attached"
			return again
		}
	}
	if res.SignatureValid {
		res.SignatureKey = "known"
	}
	return res
}

// opener holds the state of one Open.
type opener struct {
	o      Options
	res    *Result
	dec    *crypto.KeyRing
	ver    *crypto.KeyRing
	budget int64 // plaintext bytes left
	count  int   // decryptions done
	cache  map[[32]byte]*plaintext
	// top is the root entity; signedRoot marks that the root's content is
	// covered by a valid signature.
	top *node
}

func open(raw []byte, o Options) *Result {
	res := &Result{Raw: raw}
	op := &opener{o: o, res: res, budget: o.MaxPlaintext, cache: map[[32]byte]*plaintext{}}
	var secrets []*crypto.Key
	for _, k := range o.Keys {
		secrets = append(secrets, k.key)
	}
	op.dec, _ = keyRing(secrets)
	op.ver, _ = publicRing(o.Verify)
	defer func() {
		if p := recover(); p != nil {
			// go-crypto on hostile packets: never let it take the daemon.
			res.Raw = raw
			res.fail(fmt.Errorf("%w: %v", ErrMalformed, p))
		}
	}()
	var count int
	root := parseNode(raw, 0, &count)
	if root.badHeader {
		return res
	}
	op.top = root
	root = op.walk(root, 0)
	op.autocrypt(root)
	op.collectKeys(root, 0)
	if root.changed {
		stripOwnFields(&root.header)
		res.Raw = root.bytes()
	}
	if res.Encrypted && res.Err == "" {
		res.Decrypted = true
	}
	return res
}

// fail records the first error.
func (r *Result) fail(err error) {
	if r.Err == "" && err != nil {
		r.Err = err.Error()
	}
}

func (r *Result) form(f string) {
	if r.Form == "" {
		r.Form = f
	}
}

// walk transforms n and returns what stands in its place.
func (op *opener) walk(n *node, depth int) *node {
	if n.badHeader || depth > MaxDepth {
		return n
	}
	switch {
	case n.mediaType == "multipart/encrypted":
		if p := op.pgpMIME(n, FormPGPMIME, depth); p != nil {
			return p
		}
		return n
	case n.mediaType == "multipart/mixed" && isExchange(n):
		if p := op.pgpMIME(n, FormExchange, depth); p != nil {
			return p
		}
		return n
	case n.mediaType == "multipart/signed":
		return op.signedMIME(n, depth)
	case n.parts != nil:
		changed := false
		for i, p := range n.parts {
			q := op.walk(p, depth+1)
			if q != p {
				n.parts[i] = q
				changed = true
			}
		}
		if changed {
			op.rewrite(n)
		}
		return n
	case n.mediaType == "text/plain" && !isAttachment(n):
		return op.inlineText(n, false)
	case n.mediaType == "text/html" && !isAttachment(n):
		return op.inlineText(n, true)
	default:
		return op.attachment(n)
	}
}

// rewrite marks multipart n as changed under a fresh boundary, so that no
// plaintext put inside can collide with the old one.
func (op *opener) rewrite(n *node) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	n.params["boundary"] = "pgp-" + hex.EncodeToString(b[:])
	n.header.Set("Content-Type", mime.FormatMediaType(n.mediaType, n.params))
	n.header.Del("Content-Transfer-Encoding")
	n.changed = true
}

// isAttachment: Content-Disposition attachment, or a named file.
func isAttachment(n *node) bool {
	cd := strings.ToLower(n.header.Get("Content-Disposition"))
	return strings.HasPrefix(strings.TrimSpace(cd), "attachment")
}

// isExchange recognises PGP/MIME as Outlook and Exchange rewrite it:
// multipart/mixed holding application/pgp-encrypted, then a part with the
// armored message (encrypted.asc), and otherwise only empty text.
func isExchange(n *node) bool {
	ctl := -1
	for i, p := range n.parts {
		switch {
		case p.mediaType == "application/pgp-encrypted":
			if ctl >= 0 {
				return false
			}
			ctl = i
		case ctl >= 0 && i == ctl+1:
			// the ciphertext
		case strings.HasPrefix(p.mediaType, "text/"):
			b, err := p.decoded(1 << 10)
			if err != nil || len(bytes.TrimSpace(b)) > 0 {
				return false
			}
		default:
			return false
		}
	}
	return ctl >= 0 && ctl+1 < len(n.parts)
}

// pgpMIME opens an RFC 3156 §4 entity: the control part, then the
// ciphertext. It returns the decrypted entity, or nil when the ciphertext
// could not be opened (the entity then stays, as evidence).
func (op *opener) pgpMIME(n *node, form string, depth int) *node {
	op.res.Encrypted = true
	op.res.form(form)
	var ct *node
	for i, p := range n.parts {
		if p.mediaType == "application/pgp-encrypted" && i+1 < len(n.parts) {
			ct = n.parts[i+1]
			break
		}
	}
	if ct == nil {
		op.res.fail(fmt.Errorf("%w: multipart/encrypted without its two parts", ErrMalformed))
		return nil
	}
	data, err := ct.decoded(op.budget)
	if err != nil {
		op.res.fail(err)
		return nil
	}
	dr, err := op.decrypt(data)
	if err != nil {
		op.res.fail(err)
		return nil
	}
	var count int
	inner := parseNode(crlf(dr.data), depth, &count)
	if inner.badHeader {
		op.res.fail(fmt.Errorf("%w: the decrypted entity has no MIME header", ErrMalformed))
		return nil
	}
	if op.signature(dr.VerifyResult) && n == op.top {
		op.res.SignedAll = true
	}
	// RFC 3156 §6.1: signed, then encrypted.
	if inner.mediaType == "multipart/signed" {
		inner = op.signedMIME(inner, depth+1)
	} else {
		inner = op.walk(inner, depth+1)
	}
	return op.replace(n, inner)
}

// replace puts inner in the place of n. At the root the outer fields
// other than Content-* stay, and protected headers (an inner Subject)
// win.
func (op *opener) replace(n, inner *node) *node {
	if n != op.top {
		return inner
	}
	var h textproto.Header
	copyNonContent(&h, n.header)
	if s := inner.header.Get("Subject"); s != "" {
		if d, err := (&mime.WordDecoder{CharsetReader: charset.Reader}).DecodeHeader(s); err == nil {
			op.res.Subject = d
		} else {
			op.res.Subject = s
		}
		h.Set("Subject", s)
	}
	fs := inner.header.Fields()
	for fs.Next() {
		if strings.HasPrefix(strings.ToLower(fs.Key()), "content-") {
			h.Add(fs.Key(), fs.Value())
		}
	}
	h.Set("MIME-Version", "1.0")
	out := &node{header: h, body: inner.body, mediaType: inner.mediaType, params: inner.params,
		parts: inner.parts, changed: true}
	if !inner.changed && inner.parts == nil {
		out.body = inner.body
	}
	if out.parts != nil && !inner.changed {
		// the parts are written raw, under their own boundary: keep it
		out.params = inner.params
	}
	op.top = out
	return out
}

// signedMIME verifies RFC 3156 §5 multipart/signed and returns its first
// part, which is what was signed.
func (op *opener) signedMIME(n *node, depth int) *node {
	if len(n.parts) != 2 || n.parts[1].mediaType != "application/pgp-signature" {
		return n
	}
	op.res.form(FormSigned)
	sig, err := n.parts[1].decoded(1 << 20)
	if err != nil {
		op.res.Signed = true
		op.res.fail(err)
		return n
	}
	content := n.parts[0]
	wasTop := n == op.top
	if op.verifyDetached(crlf(content.raw), sig) && wasTop {
		op.res.SignedAll = true
	}
	content = op.walk(content, depth+1)
	return op.replace(n, content)
}

// verifyDetached checks a detached signature over data and records it.
func (op *opener) verifyDetached(data, sig []byte) bool {
	op.res.Signed = true
	if op.ver == nil {
		op.noVerifier(sig)
		return false
	}
	v, err := handle.Verify().VerificationKeys(op.ver).VerifyTime(op.o.Now.Unix()).New()
	if err != nil {
		op.res.fail(fmt.Errorf("verify: %w", err))
		return false
	}
	vr, err := v.VerifyDetached(data, sig, crypto.Auto)
	if err != nil {
		op.res.SignatureError = err.Error()
		op.noVerifier(sig)
		return false
	}
	return op.signature(vr)
}

// noVerifier records the signer named by an unchecked signature.
func (op *opener) noVerifier(sig []byte) {
	if op.res.SignedBy != "" {
		return
	}
	if isArmored(sig) {
		blk, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return
		}
		if sig, err = io.ReadAll(io.LimitReader(blk.Body, 1<<20)); err != nil {
			return
		}
	}
	p, err := packet.Read(bytes.NewReader(sig))
	if err != nil {
		return
	}
	if s, ok := p.(*packet.Signature); ok {
		op.res.SignedBy = issuer(s)
	}
	if op.res.SignatureError == "" {
		op.res.SignatureError = "no key to verify the signature with"
	}
}

// issuer names the signer of s: its fingerprint, else its key ID.
func issuer(s *packet.Signature) string {
	if len(s.IssuerFingerprint) > 0 {
		return strings.ToUpper(hex.EncodeToString(s.IssuerFingerprint))
	}
	if s.IssuerKeyId != nil {
		return fmt.Sprintf("%016X", *s.IssuerKeyId)
	}
	return ""
}

// signature records a verification result; it reports a valid signature.
func (op *opener) signature(vr *crypto.VerifyResult) bool {
	if vr == nil || len(vr.Signatures) == 0 {
		return false
	}
	op.res.Signed = true
	if err := vr.SignatureError(); err != nil {
		if op.res.SignedBy == "" {
			op.res.SignedBy = issuer(vr.Signatures[0].Signature)
		}
		if op.res.SignatureError == "" {
			op.res.SignatureError = sigError(err)
		}
		return false
	}
	fpr := strings.ToUpper(hex.EncodeToString(vr.SignedByFingerprint()))
	if k := vr.SignedByKey(); k != nil {
		fpr = strings.ToUpper(k.GetFingerprint()) // the primary key, not the subkey
	}
	op.res.SignedBy = fpr
	op.res.SignatureValid = true
	op.res.SignatureError = ""
	return true
}

// sigError turns a gopenpgp signature error into words for staff.
func sigError(err error) string {
	var se crypto.SignatureVerificationError
	if errors.As(err, &se) && se.Message != "" {
		if se.Cause != nil {
			return se.Message + ": " + se.Cause.Error()
		}
		return se.Message
	}
	return err.Error()
}

// plaintext is one opened ciphertext.
type plaintext struct {
	*crypto.VerifyResult
	data     []byte
	filename string
}

// decrypt opens one OpenPGP message (armored or binary) within the
// bounds, checking the signature inside against the verification keys.
func (op *opener) decrypt(data []byte) (*plaintext, error) {
	bin := data
	if isArmored(data) {
		blk, err := armor.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
		}
		if blk.Type != "PGP MESSAGE" {
			return nil, fmt.Errorf("%w: armor of type %q, not a message", ErrMalformed, blk.Type)
		}
		if bin, err = io.ReadAll(blk.Body); err != nil {
			return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
		}
	}
	sum := sha256.Sum256(bin)
	if dr, ok := op.cache[sum]; ok {
		return dr, nil
	}
	if op.count >= MaxDecryptions {
		return nil, fmt.Errorf("pgp: more than %d encrypted parts", MaxDecryptions)
	}
	op.count++
	if err := checkMessage(bin); err != nil {
		return nil, err
	}
	if op.dec == nil {
		return nil, op.noKey(bin, "no decryption key is configured")
	}
	// go-crypto's own limit counts the literal packet's header too, and its
	// error comes back as an opaque "parsing error" (an anti-oracle rule
	// for SEIPDv1); set it a little above ours so the LimitReader below
	// stops first and the error says what happened.
	b := handle.Decryption().DecryptionKeys(op.dec).MaxDecompressedMessageSize(op.budget + 4096).
		VerifyTime(op.o.Now.Unix())
	if op.ver != nil {
		b = b.VerificationKeys(op.ver)
	}
	d, err := b.New()
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	r, err := d.DecryptingReader(bytes.NewReader(bin), crypto.Bytes)
	if err != nil {
		return nil, op.decryptError(bin, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, op.budget+1))
	if err != nil {
		return nil, op.decryptError(bin, err)
	}
	if int64(len(plain)) > op.budget {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, op.budget)
	}
	vr, err := r.VerifySignature()
	if err != nil {
		return nil, op.decryptError(bin, err)
	}
	op.budget -= int64(len(plain))
	dr := &plaintext{VerifyResult: vr, data: plain}
	if md := r.GetMetadata(); md != nil {
		dr.filename = md.Filename()
	}
	op.cache[sum] = dr
	for _, k := range op.o.Keys {
		if op.res.DecryptedWith == "" && keyHolds(k, bin) {
			op.res.DecryptedWith = k.Fingerprint()
		}
	}
	if op.res.DecryptedWith == "" && len(op.o.Keys) > 0 {
		op.res.DecryptedWith = op.o.Keys[0].Fingerprint() // hidden recipient
	}
	return dr, nil
}

// decryptError classifies a failed decryption.
func (op *opener) decryptError(bin []byte, err error) error {
	if errors.Is(err, pgpErrors.ErrMessageTooLarge) {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, op.budget)
	}
	if ids, _ := crypto.NewPGPMessage(bin).EncryptionKeyIDs(); len(ids) > 0 && !op.anyKeyHolds(bin) {
		return op.noKey(bin, "")
	}
	return fmt.Errorf("%w: decrypt: %v", ErrMalformed, err)
}

// noKey records the key IDs the message names and returns ErrNoKey.
func (op *opener) noKey(bin []byte, why string) error {
	ids, _ := crypto.NewPGPMessage(bin).EncryptionKeyIDs()
	var hexIDs []string
	for _, id := range ids {
		hexIDs = append(hexIDs, fmt.Sprintf("%016X", id))
	}
	op.res.EncryptedTo = hexIDs
	if why != "" {
		return fmt.Errorf("%w (%s); encrypted to %s", ErrNoKey, why, strings.Join(hexIDs, ", "))
	}
	return fmt.Errorf("%w; encrypted to %s", ErrNoKey, strings.Join(hexIDs, ", "))
}

func (op *opener) anyKeyHolds(bin []byte) bool {
	for _, k := range op.o.Keys {
		if keyHolds(k, bin) {
			return true
		}
	}
	return false
}

// keyHolds reports whether the message names a (sub)key of k, or a
// hidden recipient.
func keyHolds(k *SecretKey, bin []byte) bool {
	ids, _ := crypto.NewPGPMessage(bin).EncryptionKeyIDs()
	e := k.key.GetEntity()
	for _, id := range ids {
		if id == 0 || id == e.PrimaryKey.KeyId {
			return true
		}
		for _, s := range e.Subkeys {
			if s.PublicKey.KeyId == id {
				return true
			}
		}
	}
	return false
}

var (
	reMessage = regexp.MustCompile(`(?s)-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----`)
	reSigned  = regexp.MustCompile(`(?s)-----BEGIN PGP SIGNED MESSAGE-----\r?\n.*?-----END PGP SIGNATURE-----`)
	reTag     = regexp.MustCompile(`(?s)<[^>]*>`)
	reBreak   = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>|</pre>|</tr>|</li>`)
	reScript  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)>`)
)

// inlineText opens armor inside a text part (RFC 4880 §6.2 in a mail
// body) and verifies clear-signed text (RFC 9580 §7).
func (op *opener) inlineText(n *node, isHTML bool) *node {
	if !bytes.Contains(n.body, []byte("-----BEGIN PGP ")) && !bytes.Contains(n.body, []byte("BEGIN PGP ")) {
		return n // neither armor, nor armor that a transfer encoding hides
	}
	b, err := n.decoded(op.budget + int64(len(n.body)))
	if err != nil {
		return n
	}
	if cs := n.params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		if r, err := charset.Reader(cs, bytes.NewReader(b)); err == nil {
			if u, err := io.ReadAll(r); err == nil {
				b = u
			}
		}
	}
	text := string(b)
	if isHTML {
		text = htmlText(text)
	}
	form := FormInline
	if isHTML {
		form = FormHTML
	}
	hasMsg := reMessage.MatchString(text)
	hasSig := reSigned.MatchString(text)
	if !hasMsg && !hasSig {
		return n
	}
	whole := strings.TrimSpace(text)
	if hasMsg {
		op.res.Encrypted = true
		op.res.form(form)
		text = reMessage.ReplaceAllStringFunc(text, func(block string) string {
			dr, err := op.decrypt([]byte(block))
			if err != nil {
				op.res.fail(err)
				return block
			}
			if op.signature(dr.VerifyResult) && strings.TrimSpace(block) == whole && n == op.top {
				op.res.SignedAll = true
			}
			plain := string(dr.data)
			if reSigned.MatchString(plain) {
				plain = reSigned.ReplaceAllStringFunc(plain, func(s string) string { return op.clearSigned(s, false) })
			}
			return strings.ToValidUTF8(plain, "\uFFFD")
		})
	}
	if hasSig {
		op.res.form(FormClearSign)
		text = reSigned.ReplaceAllStringFunc(text, func(s string) string {
			return op.clearSigned(s, strings.TrimSpace(s) == whole && n == op.top)
		})
	}
	out := textNode(text, n.header)
	if n == op.top {
		var h textproto.Header
		copyNonContent(&h, n.header)
		h.Set("MIME-Version", "1.0")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		out.header = h
		op.top = out
	}
	return out
}

// clearSigned verifies one clear-signed block and returns its text.
func (op *opener) clearSigned(block string, whole bool) string {
	op.res.Signed = true
	var vr *crypto.VerifyCleartextResult
	var err error
	if op.ver != nil {
		var v crypto.PGPVerify
		v, err = handle.Verify().VerificationKeys(op.ver).VerifyTime(op.o.Now.Unix()).New()
		if err == nil {
			vr, err = v.VerifyCleartext([]byte(block))
		}
	} else {
		// No key: read the text and the signer anyway.
		var v crypto.PGPVerify
		v, err = handle.Verify().VerificationKeys(emptyRing()).New()
		if err == nil {
			vr, err = v.VerifyCleartext([]byte(block))
		}
		if op.res.SignatureError == "" {
			op.res.SignatureError = "no key to verify the signature with"
		}
	}
	if err != nil || vr == nil {
		op.res.fail(fmt.Errorf("%w: clear-signed text: %v", ErrMalformed, err))
		return block
	}
	if op.ver != nil && op.signature(&vr.VerifyResult) && whole {
		op.res.SignedAll = true
	} else if op.ver == nil && len(vr.Signatures) > 0 && op.res.SignedBy == "" {
		op.res.SignedBy = issuer(vr.Signatures[0].Signature)
	}
	return strings.ToValidUTF8(string(vr.Cleartext()), "\uFFFD")
}

func emptyRing() *crypto.KeyRing {
	kr, _ := crypto.NewKeyRing(nil)
	return kr
}

// htmlText reduces HTML to its text, with line breaks where the markup
// had them, enough to find armor a mail client wrapped in HTML.
func htmlText(s string) string {
	s = reScript.ReplaceAllString(s, "")
	s = strings.NewReplacer("\r\n", " ", "\n", " ").Replace(s)
	s = reBreak.ReplaceAllString(s, "\n")
	s = reTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// attachment opens an encrypted file (.gpg, .pgp, .asc, or
// application/pgp-encrypted outside multipart/encrypted); keys are left
// for collectKeys.
func (op *opener) attachment(n *node) *node {
	name := n.filename()
	lname := strings.ToLower(name)
	ext := lname[strings.LastIndexByte(lname, '.')+1:]
	if ext != "gpg" && ext != "pgp" && ext != "asc" && n.mediaType != "application/pgp-encrypted" &&
		n.mediaType != "application/octet-stream" {
		return n
	}
	data, err := n.decoded(op.budget + int64(len(n.body)))
	if err != nil {
		return n
	}
	if !isMessage(data) {
		return n
	}
	op.res.Encrypted = true
	op.res.form(FormAttachment)
	dr, err := op.decrypt(data)
	if err != nil {
		op.res.fail(err)
		return n
	}
	op.signature(dr.VerifyResult)
	out := name
	if i := strings.LastIndexByte(out, '.'); i > 0 && (ext == "gpg" || ext == "pgp" || ext == "asc") {
		out = out[:i]
	}
	if f := dr.filename; f != "" && !strings.ContainsAny(f, "/\\") && !strings.HasPrefix(f, "_CONSOLE") {
		out = f
	}
	if out == "" {
		out = "decrypted"
	}
	return fileNode(out, dr.data)
}

// isMessage: armored PGP MESSAGE, or binary data starting with a session
// key packet (tag 1 or 3, either header format).
func isMessage(b []byte) bool {
	if isArmored(b) {
		return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN PGP MESSAGE-----"))
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		return false
	}
	tag := int(b[0]&0x3f) & 0xff
	if b[0]&0x40 == 0 {
		tag = int(b[0]>>2) & 0x0f
	}
	return tag == tagPKESK || tag == 3
}

// collectKeys takes keys from application/pgp-keys parts and key
// attachments.
func (op *opener) collectKeys(n *node, depth int) {
	if depth > MaxDepth || n.badHeader {
		return
	}
	for _, p := range n.parts {
		op.collectKeys(p, depth+1)
	}
	if n.parts != nil {
		return
	}
	lname := strings.ToLower(n.filename())
	if n.mediaType != "application/pgp-keys" && !strings.HasSuffix(lname, ".asc") &&
		!strings.HasSuffix(lname, ".key") && !strings.HasSuffix(lname, ".pub") {
		return
	}
	data, err := n.decoded(MaxKeyBytes * 2)
	if err != nil {
		return
	}
	if n.mediaType != "application/pgp-keys" &&
		!bytes.Contains(data[:min(len(data), 4096)], []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		return
	}
	op.takeKeys(data, "attached key")
}

// autocrypt takes the key of an Autocrypt: header (Autocrypt Level 1
// §2.1) whose addr is the sender.
func (op *opener) autocrypt(root *node) {
	if root.badHeader {
		return
	}
	fs := root.header.FieldsByKey("Autocrypt")
	for fs.Next() {
		v := fs.Value()
		attrs := map[string]string{}
		for _, a := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(a), "=")
			if ok {
				attrs[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
			}
		}
		if !strings.EqualFold(attrs["addr"], op.o.Sender) {
			op.res.KeyNotes = append(op.res.KeyNotes, "Autocrypt: header for another address ignored")
			continue
		}
		kd := strings.Join(strings.Fields(attrs["keydata"]), "")
		bin, err := base64.StdEncoding.DecodeString(kd)
		if err != nil {
			op.res.KeyNotes = append(op.res.KeyNotes, "Autocrypt: keydata is not base64")
			continue
		}
		op.takeKeys(bin, "Autocrypt: key")
	}
}

// takeKeys parses data and keeps the usable keys for the sender.
func (op *opener) takeKeys(data []byte, what string) {
	keys, err := ParsePublicKeys(data)
	if err != nil {
		op.res.KeyNotes = append(op.res.KeyNotes, what+": "+err.Error())
		return
	}
	for _, k := range keys {
		switch {
		case !k.HasAddress(op.o.Sender, op.o.Now):
			op.res.KeyNotes = append(op.res.KeyNotes, fmt.Sprintf("%s %s has no user ID for the sender", what, k.Fingerprint()))
			if k.Usable(op.o.Now) == nil && len(op.res.Others) < MaxKeySubkeys {
				op.res.Others = append(op.res.Others, k)
			}
		case k.Usable(op.o.Now) != nil:
			op.res.KeyNotes = append(op.res.KeyNotes, fmt.Sprintf("%s %s: %v", what, k.Fingerprint(), k.Usable(op.o.Now)))
		case findKey(op.res.Keys, k.Fingerprint()) == nil:
			op.res.Keys = append(op.res.Keys, k)
		}
	}
}

// stripOwnFields removes fields a sender wrote that look like ours
// (X-Disclosured-*): a decrypted or unwrapped message must not pass for
// one of our own.
func stripOwnFields(h *textproto.Header) {
	fs := h.Fields()
	for fs.Next() {
		if strings.HasPrefix(strings.ToLower(fs.Key()), "x-disclosured-") {
			fs.Del()
		}
	}
}
