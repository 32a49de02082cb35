package mailbox

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckEnvelopeAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"ada@example.org", true},
		{"first.last+tag@sub.example.co.uk", true},
		{"o'neil@example.org", true},
		{"用户@例子.广告", true},
		{"a@[192.0.2.1]", true},
		{"", false},
		{"no-at.example.org", false},
		{"victim@target.example> NOTIFY=NEVER ORCPT=rfc822;x@evil.example", false},
		{"x #reward 1000 #credit Pwned@evil.example", false},
		{"a<b@example.org", false},
		{"a@example.org>", false},
		{"a b@example.org", false},
		{"a\r\nRCPT TO:<b@example.org>@x", false},
		{".a@example.org", false},
		{"a..b@example.org", false},
		{"a@-example.org", false},
		{"a@example..org", false},
		{"a@exa mple.org", false},
		{strings.Repeat("a", 65) + "@example.org", false},
		{"a@" + strings.Repeat("b", 250) + ".org", false},
		{"\"quoted\"@example.org", false},
		{"a@[1.2.3.4] x", false},
	} {
		err := CheckEnvelopeAddress(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("CheckEnvelopeAddress(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadEnvelope) {
			t.Errorf("%q: error %v does not wrap ErrBadEnvelope", tc.addr, err)
		}
	}
}

// FuzzCheckEnvelopeAddress: an accepted address can never end the SMTP
// path early or add a parameter.
func FuzzCheckEnvelopeAddress(f *testing.F) {
	f.Add("ada@example.org")
	f.Add("victim@target.example> NOTIFY=NEVER ORCPT=rfc822;x@evil.example")
	f.Add("a@[IPv6:2001:db8::1]")
	f.Fuzz(func(t *testing.T, addr string) {
		if CheckEnvelopeAddress(addr) != nil {
			return
		}
		if strings.ContainsAny(addr, "<> \t\r\n\"\\,;()") || strings.Count(addr, "@") != 1 || len(addr) > 254 {
			t.Fatalf("accepted %q", addr)
		}
		for _, r := range addr {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("accepted %q with control %U", addr, r)
			}
		}
	})
}
