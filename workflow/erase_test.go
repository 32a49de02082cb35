package workflow

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestEraseLeavesNothingInTheFile: after erase, the store file holds no
// string of the report, its headers or its Message-IDs: not in events, not
// in an outbox error quoting the address, not in a parse problem, not in an
// index; and show prints none of it.
func TestEraseLeavesNothingInTheFile(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	raw := "From: Zenobia Quartermaine <zenobia.q@quartermaine-lab.example>\r\n" +
		"Reply-To: Zenobia Q <zq.replies@quartermaine-lab.example>\r\nTo: security@example.test\r\n" +
		"Subject: Invoices exposed on the Quokkastore CDN\r\nMessage-ID: <zq-first@mx1.quartermaine-lab.example>\r\n" +
		"Date: Fri, 20 Nov 2026 15:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe Quokkastore CDN lists invoices. Regards, Zenobia\r\n" +
		"--b\r\nContent-Type: text/plain; charset=x-quartermaine-charset\r\n\r\nbody\r\n" +
		"--b\r\nContent-Type: application/pdf; name=\"zq-passport.pdf\"\r\nContent-Disposition: attachment; filename=\"zq-passport.pdf\"\r\n\r\n%PDF\r\n" +
		"--b--\r\n"
	id := f.ingest(t, []byte(raw)).CaseID
	if p := f.show(t, id).Messages[0].Problems; !strings.Contains(strings.Join(p, " "), "quartermaine") {
		t.Fatalf("fixture: no parse problem quoting the report: %q", p)
	}
	// The ack bounces with the address in the reply text.
	f.sink.setRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "<zenobia.q@quartermaine-lab.example>: Recipient address rejected: Zenobia unknown"})
	f.flush(t)
	f.sink.setRefuse(nil)
	f.ingest(t, staffMail(id, "#credit Zenobia Quartermaine", "", ""))
	f.ingest(t, []byte("From: Zenobia Quartermaine <zenobia.q@quartermaine-lab.example>\r\nTo: security@example.test\r\n"+
		"Subject: Re: ["+id+"] Received\r\nMessage-ID: <zq-second@mx2.quartermaine-lab.example>\r\n"+
		"In-Reply-To: <zq-first@mx1.quartermaine-lab.example>\r\n\r\n#credit Zenobia Q. of Quokkastore fame\r\n"))
	f.flush(t)
	v := f.show(t, id)
	hasErr := false
	for _, m := range v.Messages {
		hasErr = hasErr || strings.Contains(m.LastError, "zenobia.q@")
	}
	if !hasErr {
		t.Fatalf("fixture: no outbox error quoting the address: %+v", v.Messages)
	}

	if err := f.e.Erase(id, f.now); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"Zenobia", "Quartermaine", "zenobia.q", "zq.replies", "quartermaine-lab", "Quokkastore",
		"invoices", "zq-first", "zq-second", "mx1.", "mx2.", "x-quartermaine", "zq-passport", "Recipient address rejected"}
	file, err := os.ReadFile(f.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	lower := bytes.ToLower(file)
	for _, s := range secrets {
		if bytes.Contains(lower, []byte(strings.ToLower(s))) {
			t.Errorf("the store file still contains %q", s)
		}
	}
	out, err := json.Marshal(f.show(t, id))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(string(out)), strings.ToLower(s)) {
			t.Errorf("show of the erased case prints %q", s)
		}
	}
}
