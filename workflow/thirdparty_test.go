package workflow

import (
	"bytes"
	"html"
	"io"
	"mime"
	"net/url"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
)

// The richly identified reporter of the third-party tests. No string here
// is made of hex digits only, so a random Message-ID cannot contain one.
const (
	zqName   = "Zenobia Quartermaine"
	zqAddr   = "zenobia.q@quartermaine-lab.example"
	zqDomain = "quartermaine-lab.example"
)

// zqSecrets are the strings that identify the reporter; none may reach the
// owner, in any header or decoded part.
var zqSecrets = []string{"Zenobia", "Quartermaine", "zenobia.q", zqDomain, "quartermaine-lab",
	"zqhax", "zenobia-q-77", "1234 5678", "12345678", "+31 6", "Quartz Research", "hidden-zq-secret",
	"passport-scan", "BEGIN:VCARD", "Zenobia-Contact", "zq-signal-9"}

// zqTechnical must survive redaction of the plain-text report.
var zqTechnical = []string{"https://cdn.partner.example.net/backups/", "index.json?fields=metadata", "tp-ref-4471",
	"https://github.com/partner/webapp/blob/main/login.go"}

const zqHead = "From: " + zqName + " <" + zqAddr + ">\r\nTo: security@example.test\r\n" +
	"Date: Fri, 20 Nov 2026 15:00:00 +0100\r\nMIME-Version: 1.0\r\n"

// zqText is a plain-text report carrying the identity in every usual way.
const zqText = zqHead + "Subject: Open bucket, found by Zenobia\r\nMessage-ID: <zq1@mail.quartermaine-lab.example>\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
	"Hi, I am Zenobia Quartermaine (zenobia.q@quartermaine-lab.example, also zenobia.q%40quartermaine-lab.example).\r\n" +
	"https://cdn.partner.example.net/backups/ lists invoices: curl 'https://cdn.partner.example.net/backups/index.json?fields=metadata'\r\n" +
	"Code: https://github.com/partner/webapp/blob/main/login.go\r\n" +
	"Write-up: https://blog.quartermaine-lab.example/cdn and https://r.example.com/?u=https%3A%2F%2Fquartermaine-lab%2Eexample%2Fx\r\n" +
	"I'm @zqhax on https://twitter.com/zqhax and https://www.linkedin.com/in/zenobia-q-77/.\r\n" +
	"Signal: zq-signal-9\r\nCall +31 6 1234 5678 or 06-12345678. Reference tp-ref-4471.\r\n\r\n" +
	"Best,\r\nZenobia\r\nQuartz Research BV\r\n"

// zqHTML is an HTML-only report with hidden text and a footer.
const zqHTML = zqHead + "Subject: Bucket\r\nMessage-ID: <zq2@mail.quartermaine-lab.example>\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n\r\n" +
	"<html><body><p>The bucket https://cdn.partner.example.net/backups/ is open.</p>" +
	"<span style=\"display:none\">hidden-zq-secret Zenobia</span>" +
	"<div style='font-size:0'>zenobia.q@quartermaine-lab.example</div>" +
	"<footer>Zenobia Quartermaine &middot; Quartz Research &middot; <a href=\"tel:+31612345678\">call</a></footer></body></html>\r\n"

// zqAttach carries an attachment whose name identifies the reporter and a
// vCard.
const zqAttach = zqHead + "Subject: PoC attached\r\nMessage-ID: <zq3@mail.quartermaine-lab.example>\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the PoC. Reference tp-ref-4471.\r\n" +
	"--b\r\nContent-Type: image/png; name=\"passport-scan-zenobia.png\"\r\nContent-Disposition: attachment; filename=\"passport-scan-zenobia.png\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n" +
	"--b\r\nContent-Type: text/vcard; name=\"Zenobia-Contact.vcf\"\r\nContent-Disposition: attachment; filename=\"Zenobia-Contact.vcf\"\r\n\r\n" +
	"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zenobia Quartermaine\r\nTEL:+31612345678\r\nEND:VCARD\r\n" +
	"--b--\r\n"

// TestThirdPartyOwnerMailCarriesNoIdentity: for a plain-text, an HTML-only
// and an attachment report, every header and every decoded part of the
// owner's mail is free of every identifying string, the technical content
// of the text report survives, and staff are told what was withheld.
func TestThirdPartyOwnerMailCarriesNoIdentity(t *testing.T) {
	for _, tt := range []struct {
		name, raw string
		keep      []string
		withheld  string
	}{
		{"text", zqText, zqTechnical, "phone number"},
		{"html only", zqHTML, nil, "HTML-only"},
		{"attachments", zqAttach, []string{"tp-ref-4471", "attachment 1 (image/png"}, "vCard"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth = "none"
			id := f.ingest(t, []byte(tt.raw)).CaseID
			_, mark := f.sentSince(t, 0)
			f.ingest(t, staffMail(id, "#thirdparty security@partner.example.net", "Your system; the finder is Zenobia (+31 6 1234 5678, @zqhax).", ""))
			got, _ := f.sentSince(t, mark)
			var owner, done *sunk
			for i := range got {
				switch {
				case got[i].to[0] == "security@partner.example.net":
					owner = &got[i]
				case got[i].to[0] == staffAddr && strings.Contains(got[i].raw, "Done:"):
					done = &got[i]
				}
			}
			if owner == nil || done == nil {
				t.Fatalf("owner mail %v, staff Done mail %v: %q", owner != nil, done != nil, subjects(got))
			}
			texts := decodedTexts(t, []byte(owner.raw))
			all := strings.ToLower(strings.Join(texts, "\n"))
			for _, s := range zqSecrets {
				if strings.Contains(all, strings.ToLower(s)) {
					t.Errorf("owner mail contains %q:\n%s", s, strings.Join(texts, "\n---\n"))
				}
			}
			for _, s := range tt.keep {
				if !strings.Contains(strings.Join(texts, "\n"), s) {
					t.Errorf("owner mail lost %q:\n%s", s, strings.Join(texts, "\n---\n"))
				}
			}
			if body := strings.Join(decodedTexts(t, []byte(done.raw)), "\n"); !strings.Contains(body, "withheld from the owner") || !strings.Contains(body, tt.withheld) {
				t.Errorf("staff not told what was withheld (want %q):\n%s", tt.withheld, body)
			}
		})
	}
}

// decodedTexts returns every header field of raw (RFC 2047 decoded) and
// every part's decoded body, each also percent- and entity-decoded, so a
// search cannot miss an encoded copy.
func decodedTexts(t *testing.T, raw []byte) []string {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("read owner mail: %v", err)
	}
	var out []string
	add := func(s string) {
		out = append(out, s, html.UnescapeString(s))
		if u, err := url.PathUnescape(s); err == nil {
			out = append(out, u)
		}
		if u, err := url.QueryUnescape(s); err == nil {
			out = append(out, u)
		}
	}
	dec := &mime.WordDecoder{}
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		fs := e.Header.Fields()
		for fs.Next() {
			v, err := dec.DecodeHeader(fs.Value())
			if err != nil {
				v = fs.Value()
			}
			add(fs.Key() + ": " + v)
		}
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("owner mail part: %v", err)
				}
				walk(p)
			}
			return
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("owner mail body: %v", err)
		}
		add(string(b))
	}
	walk(e)
	return out
}
