package workflow

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"disclosured/parser"
	"disclosured/pgp"
)

// bodyText is the text of a mail, transfer encoding undone.
func bodyText(raw []byte) string {
	return parser.Parse(raw, parser.Limits{}).Text
}

// pgpParty is someone with an OpenPGP key: the organisation, a reporter,
// a staff member.
type pgpParty struct {
	addr string
	sec  *pgp.SecretKey
	pub  *pgp.PublicKey
	arm  string // armored public key
}

func newParty(t *testing.T, name, addr string) *pgpParty {
	t.Helper()
	g, err := pgp.Generate(name, addr, 365*24*time.Hour, nil, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgp.LoadSecretKey([]byte(g.Armored), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pgpParty{addr: addr, sec: s, pub: s.Public(), arm: g.Public}
}

// withPGP turns OpenPGP on in f's engine.
//
// Signatures are made on the real clock, so f's clock moves to an hour
// from now: a signature is never from the engine's future.
func (f *fixture) withPGP(org *pgpParty, mod func(o *Options)) {
	f.now = time.Now().Add(time.Hour)
	o := *f.e.opts()
	o.PGP = &PGPOptions{Keys: []*pgp.SecretKey{org.sec}}
	if mod != nil {
		mod(&o)
	}
	f.e.Reload(o, f.e.tmpl.Load())
}

const secretText = "The admin panel at https://admin.example.com/ takes the password 'hunter2'."

// encryptedReport is a report from p, PGP/MIME signed and encrypted to
// org, carrying p's key in an Autocrypt: header.
func encryptedReport(t *testing.T, p, org *pgpParty, subject, msgID string) []byte {
	t.Helper()
	bin, err := p.pub.Binary()
	if err != nil {
		t.Fatal(err)
	}
	kd := ""
	for s := fmt.Sprintf("%s", b64(bin)); len(s) > 0; {
		n := min(len(s), 70)
		kd += "\r\n " + s[:n]
		s = s[n:]
	}
	raw := fmt.Sprintf("From: Ada <%s>\r\nTo: security@example.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"+
		"Autocrypt: addr=%s; keydata=%s\r\nDate: Fri, 20 Nov 2026 15:00:00 +0100\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", p.addr, subject, msgID, p.addr, kd, secretText)
	enc, err := pgp.NewSigner(p.sec).SignEncrypt([]byte(raw), []*pgp.PublicKey{org.pub}, "...")
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func b64(b []byte) string {
	const tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var sb strings.Builder
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < n {
				v |= uint32(b[i+j])
			}
		}
		for j := 0; j < 4; j++ {
			if j <= n {
				sb.WriteByte(tbl[(v>>(18-6*j))&63])
			} else {
				sb.WriteByte('=')
			}
		}
	}
	return sb.String()
}

// open decrypts and verifies a mail we sent, as its recipient would.
func openAs(t *testing.T, raw string, who, org *pgpParty) *pgp.Result {
	t.Helper()
	var keys []*pgp.SecretKey
	if who != nil {
		keys = []*pgp.SecretKey{who.sec}
	}
	return pgp.Open([]byte(raw), pgp.Options{Keys: keys, Verify: []*pgp.PublicKey{org.pub}, Sender: "security@example.test"})
}

func TestEncryptedReport(t *testing.T) {
	for _, tt := range []struct {
		name      string
		plaintext bool // pgp.staff_plaintext: allow
		staffKey  bool
	}{{"deny", false, false}, {"allow", true, false}, {"staff key", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			org := newParty(t, "CloudSphere", "security@example.test")
			rep := newParty(t, "Ada", "ada@example.org")
			staff := newParty(t, "Sam", staffAddr)
			f.withPGP(org, func(o *Options) {
				o.PGP.StaffPlaintext = tt.plaintext
				if tt.staffKey {
					o.PGP.StaffKeys = []*pgp.PublicKey{staff.pub}
				}
			})
			out := f.ingest(t, encryptedReport(t, rep, org, "Admin password leak", "r1@example.org"))
			v := f.show(t, out.CaseID)
			in := v.Messages[0]
			if v.Subject != "Admin password leak" || !strings.Contains(in.Text, "hunter2") || !v.Encrypted {
				t.Fatalf("case subject %q, text %q, encrypted %v", v.Subject, in.Text, v.Encrypted)
			}
			if p := in.PGP; p == nil || !p.Decrypted || p.DecryptedWith != org.sec.Fingerprint() || !p.SignatureValid ||
				p.SignedBy != rep.pub.Fingerprint() || p.SignatureKey != "attached" || !p.ProtectedSubject {
				t.Fatalf("pgp record %+v", in.PGP)
			}
			if len(v.Keys) != 1 || !v.Keys[0].Accepted || v.Keys[0].Fingerprint != rep.pub.Fingerprint() {
				t.Fatalf("keys %+v", v.Keys)
			}
			f.flush(t)
			got := f.sink.messages()
			if len(got) != 2 {
				t.Fatalf("%d mails", len(got))
			}
			ack, notice := got[0].raw, got[1].raw
			// The ack is encrypted to the reporter's key and signed by ours;
			// its outer subject shows nothing of the report.
			if !strings.Contains(ack, "multipart/encrypted") || strings.Contains(ack, "Admin password") ||
				!strings.Contains(ack, "Subject: [CS-2026-0001] Received: ...") {
				t.Fatalf("ack:\n%s", ack)
			}
			r := openAs(t, ack, rep, org)
			if !r.Decrypted || !r.SignatureValid || !strings.Contains(bodyText(r.Raw), "registered it as case CS-2026-0001") ||
				r.Subject != "[CS-2026-0001] Received: Admin password leak" {
				t.Fatalf("ack as the reporter reads it: %+v\n%s", r, r.Raw)
			}
			switch {
			case tt.staffKey:
				r := openAs(t, notice, staff, org)
				if !strings.Contains(notice, "multipart/encrypted") || strings.Contains(notice, "hunter2") ||
					!r.Decrypted || !r.SignatureValid || !strings.Contains(bodyText(r.Raw), "hunter2") {
					t.Fatalf("notice for the staff key: %+v\n%s", r, notice)
				}
			case tt.plaintext:
				r := openAs(t, notice, nil, org)
				if !strings.Contains(notice, "multipart/signed") || !r.SignatureValid || !strings.Contains(bodyText(r.Raw), "hunter2") ||
					!strings.Contains(bodyText(r.Raw), "decrypted with our key "+org.sec.Fingerprint()) {
					t.Fatalf("plaintext notice: %+v\n%s", r, r.Raw)
				}
			default:
				r := openAs(t, notice, nil, org)
				if strings.Contains(notice, "hunter2") || strings.Contains(notice, "admin.example.com") || strings.Contains(notice, "Admin password") ||
					!strings.Contains(bodyText(r.Raw), "An encrypted report waits") || !r.SignatureValid ||
					!strings.Contains(notice, "Subject: [CS-2026-0001] New report: (encrypted report)") {
					t.Fatalf("denied notice:\n%s\n%s", notice, r.Raw)
				}
			}
		})
	}
}

func TestUndecryptableReport(t *testing.T) {
	f := newFixture(t)
	org := newParty(t, "CloudSphere", "security@example.test")
	other := newParty(t, "Old", "security@example.test")
	rep := newParty(t, "Ada", "ada@example.org")
	f.withPGP(org, nil)
	out := f.ingest(t, encryptedReport(t, rep, other, "x", "r1@example.org"))
	v := f.show(t, out.CaseID)
	if !out.New || v.Messages[0].PGP == nil || v.Messages[0].PGP.Decrypted || !strings.Contains(v.Messages[0].PGP.Error, "not encrypted to any of our keys") {
		t.Fatalf("%+v %+v", out, v.Messages[0].PGP)
	}
	f.flush(t)
	got := f.sink.messages()
	if len(got) != 2 {
		t.Fatalf("%d mails", len(got))
	}
	// The Autocrypt: key stood outside the ciphertext: the ack is
	// encrypted to it.
	ack := openAs(t, got[0].raw, rep, org)
	if !ack.SignatureValid || !strings.Contains(bodyText(ack.Raw), "We could not decrypt your message") ||
		!strings.Contains(bodyText(ack.Raw), org.sec.Fingerprint()) {
		t.Fatalf("ack:\n%s", ack.Raw)
	}
	notice := openAs(t, got[1].raw, nil, org)
	if !strings.Contains(bodyText(notice.Raw), "NOT decrypted") {
		t.Fatalf("notice:\n%s", notice.Raw)
	}
	// A retired key still decrypts.
	o := *f.e.opts()
	o.PGP = &PGPOptions{Keys: []*pgp.SecretKey{org.sec, other.sec}}
	f.e.Reload(o, f.e.tmpl.Load())
	out = f.ingest(t, encryptedReport(t, rep, other, "again", "r2@example.org"))
	if p := f.show(t, out.CaseID).Messages[0].PGP; !p.Decrypted || p.DecryptedWith != other.sec.Fingerprint() {
		t.Fatalf("retired key: %+v", p)
	}
}

func TestReporterKeyChangeNeedsStaff(t *testing.T) {
	f := newFixture(t)
	org := newParty(t, "CloudSphere", "security@example.test")
	rep := newParty(t, "Ada", "ada@example.org")
	f.withPGP(org, func(o *Options) { o.StaffAuth = "none" })
	out := f.ingest(t, encryptedReport(t, rep, org, "first", "r1@example.org"))
	f.flush(t)
	// The same reporter later sends a different key.
	rep2 := newParty(t, "Ada", "ada@example.org")
	f.ingest(t, encryptedReport(t, rep2, org, "Re: [CS-2026-0001] Received: ...", "r2@example.org"))
	v := f.show(t, out.CaseID)
	if len(v.Keys) != 2 || !v.Keys[0].Accepted || v.Keys[1].Accepted {
		t.Fatalf("keys %+v", v.Keys)
	}
	if p := v.Messages[len(v.Messages)-1].PGP; p == nil || p.SignatureValid {
		// the follow-up is signed by the new key, which is not the case's
		for _, m := range v.Messages {
			if m.Direction == "in" && m.MessageID == "r2@example.org" && m.PGP.SignatureValid {
				t.Fatalf("a signature by an unaccepted key counted as valid: %+v", m.PGP)
			}
		}
	}
	mark := len(f.sink.messages())
	f.flush(t)
	got := f.sink.messages()[mark:]
	if len(got) != 1 {
		t.Fatalf("%d mails", len(got))
	}
	if r := openAs(t, got[0].raw, nil, org); !strings.Contains(bodyText(r.Raw), "#key "+rep2.pub.Fingerprint()) {
		t.Fatalf("staff were not told of the new key:\n%s", r.Raw)
	}
	// Staff accept it; the next mail to the reporter is encrypted to it.
	f.ingest(t, staffMail(out.CaseID, "#key "+rep2.pub.Fingerprint()+" #reply", "Thanks, we use your new key.", ""))
	v = f.show(t, out.CaseID)
	if v.Keys[0].Accepted || !v.Keys[1].Accepted {
		t.Fatalf("keys after #key: %+v", v.Keys)
	}
	f.flush(t)
	all := f.sink.messages()
	var reply string
	for _, m := range all {
		if m.to[0] == "ada@example.org" && strings.Contains(m.raw, "multipart/encrypted") {
			reply = m.raw
		}
	}
	if r := openAs(t, reply, rep2, org); !r.Decrypted || !strings.Contains(bodyText(r.Raw), "we use your new key") {
		t.Fatalf("reply not readable with the new key: %+v", r)
	}
	if r := openAs(t, reply, rep, org); r.Decrypted {
		t.Fatal("the reply is still encrypted to the old key")
	}
}

func TestStaffAuthPGP(t *testing.T) {
	f := newFixture(t)
	org := newParty(t, "CloudSphere", "security@example.test")
	staff := newParty(t, "Sam", staffAddr)
	intruder := newParty(t, "Sam", staffAddr) // a key with the right user ID, not in the staff keys
	f.withPGP(org, func(o *Options) {
		o.StaffAuth = "pgp"
		o.PGP.StaffKeys = []*pgp.PublicKey{staff.pub}
	})
	out := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
	sign := func(p *pgpParty, subject string) []byte {
		b, err := pgp.NewSigner(p.sec).Sign(staffMail(out.CaseID, subject, "ok", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f.ingest(t, sign(intruder, "#reward 300"))
	f.ingest(t, staffMail(out.CaseID, "#reward 400", "unsigned", ""))
	if v := f.show(t, out.CaseID); v.Reward != nil {
		t.Fatalf("an unauthenticated command was applied: %+v", v.Reward)
	}
	f.ingest(t, sign(staff, "#reward 250"))
	if v := f.show(t, out.CaseID); v.Reward == nil || v.Reward.Amount != 250 {
		t.Fatalf("the signed command was not applied: %+v", v.Reward)
	}
	var reasons []string
	for _, ev := range f.show(t, out.CaseID).Events {
		if ev.Type == string(EventUnauthenticated) {
			reasons = append(reasons, ev.Detail)
		}
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "does not verify") || !strings.Contains(reasons[1], "not OpenPGP-signed") {
		t.Fatalf("reasons %q", reasons)
	}
}
