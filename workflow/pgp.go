package workflow

// OpenPGP in the workflow (issue 16).
//
// Inbound: in the parse phase, before the write transaction, pgp.Open
// decrypts and verifies each message; the parser then reads the
// plaintext, so the case text, subject (a protected Subject wins),
// URLs and attachments are those of the plaintext. The stored raw message
// stays the ciphertext as it came, as evidence; store.Message.PGP records
// what was found. Signatures of staff mail are checked against
// pgp.staff_keys_file there; a reporter's signature against the key the
// same mail carried (trust on first use, marked "attached"), and again in
// the transaction against the case's accepted key when it has one.
//
// Reporter keys: a key (attached application/pgp-keys or Autocrypt:) for
// the sender's address is taken when the case has none for that address;
// a different one later waits until staff accept it with #key FPR.
//
// Outbound: every mail is signed (multipart/signed) when a key is
// configured. Mail to a reporter with an accepted, usable key is signed
// and encrypted to it; without one, mail about an encrypted case quotes
// nothing of it (its subject becomes "(encrypted report)"). Staff mail
// about an encrypted case is encrypted to the staff keys when there are
// any, else carries the plaintext only under pgp.staff_plaintext: allow.
// Encrypted mail keeps the case tag and the fixed prefix in its outer
// subject and "..." in place of the case's subject (protected headers).

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"disclosured/parser"
	"disclosured/pgp"
	"disclosured/store"
	"disclosured/templates"
)

// PGPOptions turn OpenPGP on; cmd builds them from pgp.*.
type PGPOptions struct {
	// Keys are the organisation's secret keys: the current one (which
	// signs) first, then the retired ones (decryption only).
	Keys []*pgp.SecretKey
	// StaffKeys encrypt staff mail about encrypted cases and verify
	// staff commands (staff.auth: pgp).
	StaffKeys []*pgp.PublicKey
	// StaffPlaintext allows plaintext staff notices of encrypted reports
	// when there is no staff key.
	StaffPlaintext bool
	// MaxPlaintext bounds the plaintext of one message (0: pgp's
	// default).
	MaxPlaintext int64
}

// redactedSubject stands for the subject of an encrypted case in mail
// that is not encrypted.
const redactedSubject = "(encrypted report)"

// pgpOn is the OpenPGP configuration, nil when off.
func (e *Engine) pgpOn() *PGPOptions {
	p := e.opts().PGP
	if p == nil || len(p.Keys) == 0 {
		return nil
	}
	return p
}

// openPGP decrypts and verifies raw (parse phase, no store). It returns
// nil when OpenPGP is off or the message holds none.
func (e *Engine) openPGP(raw []byte) *pgp.Result {
	p := e.opts().PGP
	if p == nil {
		return nil
	}
	sender := headerFrom(raw)
	var verify []*pgp.PublicKey
	if e.isStaff(sender) {
		verify = p.StaffKeys
	}
	res := pgp.Open(raw, pgp.Options{Keys: p.Keys, Verify: verify, Sender: sender,
		MaxPlaintext: p.MaxPlaintext, Now: e.opts().Now()})
	if !res.Found() {
		return nil
	}
	return res
}

// headerFrom is the first From address of raw's header, lower-cased, or
// "".
func headerFrom(raw []byte) string {
	hl := len(raw)
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := strings.Index(string(raw[:min(len(raw), 1<<20)]), sep); i >= 0 && i < hl {
			hl = i
		}
	}
	m, err := mail.ReadMessage(strings.NewReader(string(raw[:hl]) + "\r\n\r\n"))
	if err != nil {
		return ""
	}
	list, err := m.Header.AddressList("From")
	if err != nil || len(list) == 0 {
		return ""
	}
	return strings.ToLower(list[0].Address)
}

// pgpRecord is the stored summary of r.
func pgpRecord(r *pgp.Result) *store.PGP {
	if r == nil {
		return nil
	}
	return &store.PGP{Encrypted: r.Encrypted, Decrypted: r.Decrypted, Form: r.Form,
		DecryptedWith: r.DecryptedWith, EncryptedTo: r.EncryptedTo, Signed: r.Signed, SignedBy: r.SignedBy,
		SignatureValid: r.SignatureValid, SignatureKey: r.SignatureKey, SignedAll: r.SignedAll,
		ProtectedSubject: r.Subject != "", Error: r.Err, KeyNotes: r.KeyNotes}
}

// pgpCase applies the OpenPGP findings of the message being ingested
// (e.inPGP) to its case c, before any mail about it is queued: the case
// becomes encrypted, the signature is checked against the case's key,
// and the sender's keys are taken or held for staff.
func (e *Engine) pgpCase(c *store.Case, rec *store.Message, raw []byte) {
	r := e.inPGP
	if r == nil || rec.PGP == nil {
		return
	}
	from := rec.From
	reporter := strings.EqualFold(from, c.Reporter.Addr)
	if reporter && r.Encrypted {
		c.Encrypted = true
	}
	if !reporter {
		return
	}
	now := e.opts().Now()
	if r.Signed {
		if known := e.caseKeys(c, from, now); len(known) > 0 {
			p := e.opts().PGP
			again := pgp.Open(raw, pgp.Options{Keys: p.Keys, Verify: known, Sender: from,
				MaxPlaintext: p.MaxPlaintext, Now: now})
			rec.PGP.SignedBy, rec.PGP.SignatureValid, rec.PGP.SignedAll = again.SignedBy, again.SignatureValid, again.SignedAll
			rec.PGP.SignatureKey = again.SignatureKey
			if again.SignatureKey == "attached" {
				// A key in the mail is not the case's key.
				rec.PGP.SignatureValid, rec.PGP.SignatureKey = false, ""
			}
		}
	}
	for _, k := range r.Keys {
		rec.PGP.KeyNotes = append(rec.PGP.KeyNotes, e.takeKey(c, from, k, now, "reporter's mail"))
	}
}

// takeKey adds k for addr to c: accepted when c has no accepted key for
// addr, else held for #key. It returns a note for staff.
func (e *Engine) takeKey(c *store.Case, addr string, k *pgp.PublicKey, now time.Time, source string) string {
	fpr := k.Fingerprint()
	accepted := false
	for _, have := range c.Keys {
		if strings.EqualFold(have.Addr, addr) {
			if have.Fingerprint == fpr {
				return "key " + fpr + " is already on the case"
			}
			accepted = accepted || have.Accepted
		}
	}
	arm, err := k.Armored()
	if err != nil || len(c.Keys) >= 16 {
		return "key " + fpr + " not stored"
	}
	c.Keys = append(c.Keys, store.ReporterKey{Addr: strings.ToLower(addr), Fingerprint: fpr, Armored: arm,
		Source: source, AddedAt: now, Accepted: !accepted})
	if accepted {
		return fmt.Sprintf("a different key %s came for %s; it is not used until staff send #key %s", fpr, addr, fpr)
	}
	return fmt.Sprintf("key %s for %s taken; mail to %s is encrypted to it", fpr, addr, addr)
}

// caseKeys are the accepted, usable keys of c for addr.
func (e *Engine) caseKeys(c *store.Case, addr string, now time.Time) []*pgp.PublicKey {
	var out []*pgp.PublicKey
	for _, rk := range c.Keys {
		if !rk.Accepted || !strings.EqualFold(rk.Addr, addr) {
			continue
		}
		keys, err := pgp.ParsePublicKeys([]byte(rk.Armored))
		if err != nil {
			continue
		}
		for _, k := range keys {
			if k.Usable(now) == nil && k.HasAddress(addr, now) {
				out = append(out, k)
			}
		}
	}
	return out
}

// pgpNotes are what staff are told of a message's OpenPGP.
func (e *Engine) pgpNotes(m *store.Message) []string {
	p := m.PGP
	if p == nil {
		return nil
	}
	var out []string
	switch {
	case p.Encrypted && p.Decrypted:
		out = append(out, fmt.Sprintf("OpenPGP: encrypted (%s), decrypted with our key %s; the ciphertext is stored as it came", p.Form, p.DecryptedWith))
	case p.Encrypted:
		out = append(out, fmt.Sprintf("OpenPGP: encrypted (%s) and NOT decrypted: %s", p.Form, p.Error))
	}
	switch {
	case p.SignatureValid && p.SignatureKey == "attached":
		out = append(out, "OpenPGP: signed by "+p.SignedBy+", valid against the key the same mail carried (trust on first use)")
	case p.SignatureValid:
		out = append(out, "OpenPGP: signed by "+p.SignedBy+", valid")
	case p.Signed:
		out = append(out, "OpenPGP: signed by "+orUnknown(p.SignedBy)+", NOT verified")
	}
	for _, n := range p.KeyNotes {
		out = append(out, "OpenPGP: "+n)
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown key"
	}
	return s
}

// pgpData fills what templates say of OpenPGP for message m.
func (e *Engine) pgpData(d *templates.Data, m *store.Message) {
	p := e.pgpOn()
	if p == nil {
		return
	}
	d.Fingerprint = p.Keys[0].Fingerprint()
	d.Undecryptable = m.PGP != nil && m.PGP.Encrypted && !m.PGP.Decrypted
	d.Notes = append(d.Notes, e.pgpNotes(m)...)
}

// pgpOutgoing decides, before o is rendered, whom it is encrypted to and
// what of an encrypted case it may show.
func (e *Engine) pgpOutgoing(c *store.Case, o *outgoing) {
	p := e.pgpOn()
	if p == nil {
		return
	}
	now := e.opts().Now()
	staff := staffKinds[o.kind] || e.allStaff(o.to)
	switch {
	case staff:
		if !c.Encrypted {
			return
		}
		if len(p.StaffKeys) > 0 {
			o.encryptTo = p.StaffKeys
			return
		}
		if p.StaffPlaintext {
			return
		}
		withholdContent(&o.data)
		o.data.Notes = append(o.data.Notes, "An encrypted report waits. No staff key is set (pgp.staff_keys_file) and "+
			"pgp.staff_plaintext is deny, so this mail shows nothing of it: read it with `disclosured show "+c.ID+"`.")
	case len(o.to) == 1 && strings.EqualFold(o.to[0], c.Reporter.Addr):
		if keys := e.caseKeys(c, c.Reporter.Addr, now); len(keys) > 0 {
			o.encryptTo = keys
			return
		}
		if c.Encrypted {
			withholdContent(&o.data)
		}
	case len(o.to) == 1:
		// A third-party owner, or anyone else: encrypted when the case
		// holds a key for them.
		if keys := e.caseKeys(c, o.to[0], now); len(keys) > 0 {
			o.encryptTo = keys
		}
	}
}

// withholdContent removes the case's content from template data.
func withholdContent(d *templates.Data) {
	d.Subject, d.Text = redactedSubject, ""
	d.URLs, d.IPs, d.Hosts, d.Attachments = nil, nil, nil, nil
}

func (e *Engine) allStaff(to []string) bool {
	for _, a := range to {
		if !e.isStaff(a) && !containsFold(e.opts().StaffNotify, a) && !containsFold(e.opts().StaffEscalate, a) {
			return false
		}
	}
	return len(to) > 0
}

// pgpSeal signs raw, or signs and encrypts it to o.encryptTo, once it is
// built. subject is the rendered subject; caseSubject is the case's subject
// inside it, which the outer header of an encrypted mail replaces by
// "...".
func (e *Engine) pgpSeal(o outgoing, subject, caseSubject string, raw []byte) ([]byte, error) {
	p := e.pgpOn()
	if p == nil {
		return raw, nil
	}
	s := pgp.NewSigner(p.Keys[0])
	if len(o.encryptTo) == 0 {
		return s.Sign(raw)
	}
	outer := subject
	if caseSubject != "" && caseSubject != redactedSubject {
		outer = strings.Replace(subject, caseSubject, "...", 1)
	}
	return s.SignEncrypt(raw, o.encryptTo, outer)
}

// pgpStaffAuth decides staff.auth: pgp: the whole message, subject
// included (a protected Subject header), must be signed by a staff key
// with a user ID for the sender.
func (e *Engine) pgpStaffAuth(rec *store.Message, from string) (bool, string) {
	p := e.opts().PGP
	if p == nil || len(p.StaffKeys) == 0 {
		return false, "staff.auth is pgp but no staff key is loaded"
	}
	g := rec.PGP
	switch {
	case g == nil || !g.Signed:
		return false, "the command is not OpenPGP-signed"
	case !g.SignatureValid || g.SignatureKey != "known":
		return false, "the OpenPGP signature does not verify against pgp.staff_keys_file"
	case !g.SignedAll:
		return false, "the signature covers only part of the message"
	case !g.ProtectedSubject:
		return false, "the subject is not covered by the signature (sign with protected headers)"
	}
	for _, k := range p.StaffKeys {
		if k.Fingerprint() == g.SignedBy {
			if k.HasAddress(from, e.opts().Now()) {
				return true, ""
			}
			return false, "the signing key " + g.SignedBy + " has no user ID for " + from
		}
	}
	return false, "the signing key " + g.SignedBy + " is not a staff key"
}

// acceptKey is #key FPR: the case's held key with that fingerprint
// replaces the accepted one for its address.
func acceptKey(c *store.Case, fpr string) (string, bool) {
	fpr = strings.ToUpper(strings.ReplaceAll(fpr, " ", ""))
	idx := -1
	for i, k := range c.Keys {
		if k.Fingerprint == fpr {
			idx = i
		}
	}
	if idx < 0 {
		return "", false
	}
	addr := c.Keys[idx].Addr
	for i := range c.Keys {
		if strings.EqualFold(c.Keys[i].Addr, addr) {
			c.Keys[i].Accepted = i == idx
		}
	}
	return addr, true
}

// parseOpen is parse after OpenPGP: the parser reads the plaintext.
func (e *Engine) parseOpen(raw []byte) (*parser.Message, *pgp.Result) {
	r := e.safeOpenPGP(raw)
	if r != nil {
		return e.parse(r.Raw), r
	}
	return e.parse(raw), nil
}

// safeOpenPGP is openPGP; a panic is logged, counted, and leaves the
// message as it came.
func (e *Engine) safeOpenPGP(raw []byte) (r *pgp.Result) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("pgp panicked", "panic", fmt.Sprint(v))
			e.panicked("pgp")
			r = nil
		}
	}()
	return e.openPGP(raw)
}

// ownerKey takes a third-party owner's key from the staff mail of
// #thirdparty: an attached key (application/pgp-keys) with a user ID for
// owner. The report of an encrypted case goes to the owner only
// encrypted, so without such a key #thirdparty is refused there.
func (k *kwCtx) ownerKey(owner string) bool {
	if k.e.pgpOn() == nil {
		return true
	}
	now := k.e.opts().Now()
	if r := k.e.inPGP; r != nil {
		for _, key := range r.Others {
			if key.HasAddress(owner, now) {
				k.changed(k.e.takeKey(k.c, owner, key, now, "staff mail (#thirdparty)"))
				break
			}
		}
	}
	if k.c.Encrypted && len(k.e.caseKeys(k.c, owner, now)) == 0 {
		k.fail("the report came encrypted: attach the owner's OpenPGP key (a key with a user ID for %s) to this mail", owner)
		return false
	}
	return true
}
