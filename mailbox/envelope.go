package mailbox

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadEnvelope marks an address that cannot be an SMTP envelope path.
var ErrBadEnvelope = errors.New("unusable envelope address")

// CheckEnvelopeAddress reports whether addr may be given to SMTP as the
// path of MAIL FROM or RCPT TO. go-smtp writes the address between angle
// brackets as it is, so anything but a plain mailbox could end the path
// early and add parameters: `victim@target.example> NOTIFY=NEVER` (issue
// 11 attack 6). Accepted is RFC 5321 §4.1.2's Mailbox with a Dot-string
// local part, UTF-8 allowed in both parts (RFC 6531 §3.3), within the
// §4.5.3.1 lengths. Quoted local parts are refused: they are what such an
// injection needs, and no reporter relies on one.
func CheckEnvelopeAddress(addr string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrBadEnvelope, clip(addr), why) }
	if addr == "" {
		return bad("empty")
	}
	if len(addr) > 254 {
		return bad("longer than 254 bytes")
	}
	if !utf8.ValidString(addr) {
		return bad("not UTF-8")
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return bad("no @")
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" || len(local) > 64 {
		return bad("local part empty or longer than 64 bytes")
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return bad("empty atom in the local part")
		}
		for _, r := range atom {
			if !isAtext(r) {
				return bad(fmt.Sprintf("%q is not allowed in a local part", r))
			}
		}
	}
	if domain == "" || len(domain) > 255 {
		return bad("domain empty or longer than 255 bytes")
	}
	if strings.HasPrefix(domain, "[") {
		// An address literal (§4.1.3): only the characters of one.
		if !strings.HasSuffix(domain, "]") || strings.Trim(domain[1:len(domain)-1], "0123456789abcdefABCDEF.:IPv6") != "" {
			return bad("malformed address literal")
		}
		return nil
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad("malformed domain label")
		}
		for _, r := range label {
			if !(r == '-' || r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') ||
				r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))) {
				return bad(fmt.Sprintf("%q is not allowed in a domain", r))
			}
		}
	}
	return nil
}

// isAtext is RFC 5322 §3.2.3 atext, with RFC 6531's UTF8-non-ascii
// restricted to visible characters.
func isAtext(r rune) bool {
	if r >= utf8.RuneSelf {
		return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) ||
			unicode.IsPunct(r) || unicode.IsSymbol(r))
	}
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	n := 80
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
