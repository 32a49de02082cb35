package parser

import (
	"strings"

	"golang.org/x/net/idna"
)

// SameAddress reports whether a and b name the same mailbox for the
// purposes of authority (staff, reporter, owner): the local parts are
// compared with ASCII case folding only, the domains exactly after ASCII
// lowercasing and conversion to their IDNA A-label form.
//
// Unicode case folding is wrong here: strings.EqualFold("ſtaff", "staff")
// is true (U+017F LATIN SMALL LETTER LONG S folds to "s"), and "K" (U+212A
// KELVIN SIGN) folds to "k", so an outsider could write an address that
// folds to a staff address yet is delivered elsewhere. RFC 5321 §2.4
// leaves the local part's case to the receiving server; treating ASCII
// case as equal is the common practice, anything beyond it is not.
func SameAddress(a, b string) bool {
	la, da, okA := splitAddress(a)
	lb, db, okB := splitAddress(b)
	if !okA || !okB {
		return false
	}
	return asciiFold(la) == asciiFold(lb) && canonicalDomain(da) == canonicalDomain(db)
}

func splitAddress(s string) (local, domain string, ok bool) {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", "", false
	}
	return s[:at], s[at+1:], true
}

// canonicalDomain lowercases ASCII and converts a Unicode domain to its
// A-label (xn--) form without the UTS #46 mapping, which would also turn
// "ſ" into "s". A domain the conversion refuses is compared as written.
func canonicalDomain(d string) string {
	d = asciiFold(strings.TrimSuffix(d, "."))
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if a, err := idna.Punycode.ToASCII(d); err == nil {
				return asciiFold(a)
			}
			return d
		}
	}
	return d
}

// asciiFold lowercases A-Z only.
func asciiFold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
