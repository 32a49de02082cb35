package e2e

import (
	"bytes"
	"html"
	"io"
	"mime"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
)

// TestThirdPartyOwnerMailCarriesNoIdentityEndToEnd: three richly
// identified reports (plain text, HTML only with hidden text, attachments
// with a vCard) go through Postfix; after #thirdparty for each, no header
// and no decoded part of the mails the owner finds in their Dovecot
// INBOX holds any identifying string, while the technical content of the
// text report arrives. Staff's Done mails say what was withheld.
func TestThirdPartyOwnerMailCarriesNoIdentityEndToEnd(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	rep, staff, catch := env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"], env["MAILSTACK_CATCHALL_USER"]
	repDomain := rep[strings.LastIndexByte(rep, '@')+1:]
	cfg := writeConfig(t, env, nil)
	startDaemon(t, cfg)

	mark := marker(t)
	head := func(subject, msgID, ctype string) string {
		return "From: Zenobia Quartermaine <" + rep + ">\r\nTo: " + env["MAILSTACK_SECURITY_USER"] + "\r\n" +
			"Subject: " + subject + " " + mark + "\r\nMessage-ID: " + msgID + "\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\n\r\n"
	}
	text := "Hi, I am Zenobia Quartermaine (" + rep + ", also " + strings.Replace(rep, "@", "%40", 1) + ").\r\n" +
		"https://cdn.partner.example.net/backups/ lists invoices: curl 'https://cdn.partner.example.net/backups/index.json?fields=metadata'\r\n" +
		"Write-up: https://blog.quartermaine-lab.example/cdn, mirror https://r.example.com/?u=https%3A%2F%2F" + strings.ReplaceAll(repDomain, ".", "%2E") + "%2Fx\r\n" +
		"I'm @zqhax on https://twitter.com/zqhax and https://www.linkedin.com/in/zenobia-q-77/.\r\n" +
		"Call +31 6 1234 5678 or 06-12345678. Reference tp-ref-" + mark + ".\r\n\r\n" +
		"Best,\r\nZenobia\r\nQuartz Research BV\r\nhttps://quartermaine-lab.example\r\n"
	htmlOnly := "<html><body><p>The bucket https://cdn.partner.example.net/backups/ is open.</p>" +
		"<span style=\"display:none\">hidden-zq-secret Zenobia</span>" +
		"<footer>Zenobia Quartermaine &middot; Quartz Research &middot; <a href=\"tel:+31612345678\">call</a></footer></body></html>\r\n"
	attach := "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the PoC. Reference tp-ref-" + mark + ".\r\n" +
		"--b\r\nContent-Type: image/png; name=\"passport-scan-zenobia.png\"\r\nContent-Disposition: attachment; filename=\"passport-scan-zenobia.png\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n" +
		"--b\r\nContent-Type: text/vcard; name=\"Zenobia-Contact.vcf\"\r\nContent-Disposition: attachment; filename=\"Zenobia-Contact.vcf\"\r\n\r\n" +
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zenobia Quartermaine\r\nTEL:+31612345678\r\nEND:VCARD\r\n--b--\r\n"
	reports := []struct {
		name, raw, msgID string
		keep             []string
		withheld         string
	}{
		{"text", "", "<zq-text-" + mark + "@mail.quartermaine-lab.example>",
			[]string{"https://cdn.partner.example.net/backups/", "index.json?fields=metadata", "tp-ref-" + mark}, "phone number"},
		{"html", "", "<zq-html-" + mark + "@mail.quartermaine-lab.example>", nil, "HTML-only"},
		{"attach", "", "<zq-att-" + mark + "@mail.quartermaine-lab.example>", []string{"tp-ref-" + mark, "attachment 1 (image/png"}, "vCard"},
	}
	reports[0].raw = head("Open bucket", reports[0].msgID, "text/plain; charset=utf-8") + text
	reports[1].raw = head("Bucket", reports[1].msgID, "text/html; charset=utf-8") + htmlOnly
	reports[2].raw = head("PoC attached", reports[2].msgID, "multipart/mixed; boundary=b") + attach

	secrets := []string{"Zenobia", "Quartermaine", rep, repDomain, "quartermaine-lab", "zqhax", "zenobia-q-77",
		"1234 5678", "12345678", "+31 6", "Quartz Research", "hidden-zq-secret", "passport-scan", "BEGIN:VCARD",
		"Zenobia-Contact", "zq-text-", "zq-html-", "zq-att-"}
	owner := "owner@partner.example.net"
	for _, r := range reports {
		t.Run(r.name, func(t *testing.T) {
			sendMail(t, env, rep, []string{env["MAILSTACK_SECURITY_USER"]}, []byte(r.raw))
			ack := waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
				return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == r.msgID
			}, reactTimeout)
			id := ackSubject.FindStringSubmatch(subjectOf(ack))[1]
			waitForMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] New report:"), reactTimeout)
			staffCommand(t, env, id, "x", "#thirdparty "+owner, "Your system.", "qt-"+mark)

			got := waitForMail(t, env, catch, pw, "INBOX", subjectPrefix("["+id+"]"), reactTimeout)
			texts := decodedTexts(t, got)
			all := strings.ToLower(strings.Join(texts, "\n"))
			for _, s := range secrets {
				if strings.Contains(all, strings.ToLower(s)) {
					t.Errorf("owner mail contains %q:\n%s", s, got)
				}
			}
			for _, s := range r.keep {
				if !strings.Contains(strings.Join(texts, "\n"), s) {
					t.Errorf("owner mail lost %q:\n%s", s, got)
				}
			}
			done := waitForMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] Done:"), reactTimeout)
			if body := strings.Join(decodedTexts(t, done), "\n"); !strings.Contains(body, "withheld from the owner") || !strings.Contains(body, r.withheld) {
				t.Errorf("staff not told what was withheld (want %q):\n%s", r.withheld, body)
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
		t.Fatalf("read mail: %v", err)
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
					t.Fatalf("mail part: %v", err)
				}
				walk(p)
			}
			return
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("mail body: %v", err)
		}
		add(string(b))
	}
	walk(e)
	return out
}
