package workflow

import (
	"strings"
	"testing"
)

// TestOwnThreadingHeadersAreASCII: a report whose Message-ID and
// References carry raw UTF-8 gets an acknowledgment whose In-Reply-To and
// References hold only ASCII (the bad IDs left out), and a good
// Message-ID is still answered.
func TestOwnThreadingHeadersAreASCII(t *testing.T) {
	f := newFixture(t)
	raw := "From: Ada <ada@example.org>\r\nTo: security@example.test\r\nSubject: XSS\r\n" +
		"Message-ID: <r\u00e9port-1@h\u00f4te.example>\r\nReferences: <good-1@example.org> <\u00fcber@x>\r\n\r\nbody\r\n"
	f.ingest(t, []byte(raw))
	got, _ := f.sentSince(t, 0)
	if len(got) == 0 {
		t.Fatal("no mail sent")
	}
	for _, m := range got {
		head, _, _ := strings.Cut(m.raw, "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n") {
			if !strings.HasPrefix(line, "In-Reply-To:") && !strings.HasPrefix(line, "References:") {
				continue
			}
			for i := 0; i < len(line); i++ {
				if line[i] >= 0x80 {
					t.Errorf("%s mail: non-ASCII in %q", m.to[0], line)
					break
				}
			}
		}
	}
	good := "From: Ada <ada@example.org>\r\nTo: security@example.test\r\nSubject: CSRF\r\nMessage-ID: <good-2@example.org>\r\n\r\nbody\r\n"
	_, mark := f.sentSince(t, 0)
	f.ingest(t, []byte(good))
	got, _ = f.sentSince(t, mark)
	found := false
	for _, m := range got {
		found = found || strings.Contains(m.raw, "In-Reply-To: <good-2@example.org>")
	}
	if !found {
		t.Errorf("the good Message-ID is not answered")
	}
}

// TestLookalikeStaffAddressIsNotStaff: ſtaff@example.test (U+017F, which
// Unicode case folding turns into "s") cannot command a case.
func TestLookalikeStaffAddressIsNotStaff(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	before := f.show(t, id)
	raw := strings.Replace(string(staffMail(id, "#reward 500 #close", "", "")), "<"+staffAddr+">", "<\u017Ftaff@example.test>", 1)
	if !strings.Contains(raw, "\u017Ftaff@") {
		t.Fatal("fixture: sender not replaced")
	}
	f.ingest(t, []byte(raw))
	after := f.show(t, id)
	if after.State != before.State || after.Reward != nil {
		t.Errorf("the look-alike address commanded the case: state %s -> %s, reward %v", before.State, after.State, after.Reward)
	}
}
