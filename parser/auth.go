package parser

// Staff authentication from Authentication-Results (RFC 8601, SPEC §5).
//
// The daemon does not verify DKIM or DMARC itself: it trusts the verdict of
// the receiving MTA, which records it in an Authentication-Results field
// it prepends to the message. Anybody can write such a field into a mail
// they send, so the verdict is only as good as the rule that picks the
// field; see CheckAuth.

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// AuthResult is the outcome of CheckAuth.
type AuthResult struct {
	// OK is true when the message is authenticated for its From domain.
	OK bool
	// Reason says, for the staff notice and the log, why the message is
	// not authenticated, or how it was when OK.
	Reason string
}

// CheckAuth decides whether a message is authenticated for the domain of
// its From address (from, either a bare address or a name-addr), using the
// raw values of its Authentication-Results fields in top-down header order
// (Message.AuthResults) and the authserv-id of our own receiving MTA.
//
// Rule: only the topmost Authentication-Results field is considered, and
// only if its authserv-id equals authservID (case-insensitive). Every MTA
// on the way prepends its field, so the field our MTA added is the
// topmost one when the mail reaches the mailbox, and anything a sender or
// an intermediate host wrote, including a forged field carrying our id,
// sits below it. RFC 8601 §5 requires the receiving MTA to remove incoming
// fields carrying its own id; looking only at the topmost field keeps a
// forgery out even where that is not configured. The flip side: an MTA
// that splits its verdict over several fields (such as separate OpenDKIM
// and OpenDMARC milters) must put the deciding result in the topmost one.
//
// The field passes when it has dmarc=pass with header.from equal to the
// From domain, or dkim=pass with header.d equal to the From domain or to
// a parent domain of it (relaxed alignment, approximated without the
// public suffix list; header.d must contain a dot). Comments (RFC 5322
// §3.2.2, nested, as OpenDKIM writes "(2048-bit key; unprotected)") are
// removed before parsing and quoted strings are neutralised, since
// go-msgauth splits on every ';'; a result that cannot be parsed is
// skipped and the others still count. CheckAuth never panics on a
// malformed value; it fails instead.
func CheckAuth(authResults []string, from string, authservID string) AuthResult {
	authservID = strings.TrimSpace(authservID)
	if authservID == "" {
		return AuthResult{Reason: "no authserv-id configured"}
	}
	if len(authResults) == 0 {
		return AuthResult{Reason: "no Authentication-Results from " + authservID}
	}

	id, results := parseAuthResults(authResults[0])
	if !strings.EqualFold(id, authservID) {
		top := id
		if top == "" {
			top = "an unreadable field"
		}
		for _, v := range authResults[1:] {
			if other, _ := parseAuthResults(v); strings.EqualFold(other, authservID) {
				return AuthResult{Reason: fmt.Sprintf("topmost Authentication-Results is from %s, not %s", top, authservID)}
			}
		}
		return AuthResult{Reason: fmt.Sprintf("no Authentication-Results from %s (topmost is from %s)", authservID, top)}
	}

	fromDomain := addressDomain(from)
	if fromDomain == "" {
		return AuthResult{Reason: fmt.Sprintf("From address %q has no domain", from)}
	}

	// DMARC first: when it passes it is the stronger statement, and the
	// Reason then names it whatever the order of results in the field.
	var dmarcWhy, dkimWhy []string
	var dkimOK string
	for _, r := range results {
		switch r := r.(type) {
		case *authres.DMARCResult:
			d := resultDomain(r.From)
			switch {
			case r.Value != authres.ResultPass:
				dmarcWhy = append(dmarcWhy, "dmarc="+string(r.Value))
			case d == "":
				dmarcWhy = append(dmarcWhy, "dmarc=pass without header.from")
			case d != fromDomain:
				dmarcWhy = append(dmarcWhy, fmt.Sprintf("dmarc=pass for %s but From is %s", d, fromDomain))
			default:
				return AuthResult{OK: true, Reason: "dmarc=pass for " + d}
			}
		case *authres.DKIMResult:
			d := resultDomain(r.Domain)
			switch {
			case r.Value != authres.ResultPass:
				why := "dkim=" + string(r.Value)
				if d != "" {
					why += " for " + d
				}
				dkimWhy = append(dkimWhy, why)
			case d == "":
				dkimWhy = append(dkimWhy, "dkim=pass without header.d")
			case !dkimAligned(fromDomain, d):
				dkimWhy = append(dkimWhy, fmt.Sprintf("dkim=pass for %s but From is %s", d, fromDomain))
			case dkimOK == "":
				dkimOK = "dkim=pass for " + d
			}
		}
	}
	if dkimOK != "" {
		return AuthResult{OK: true, Reason: dkimOK}
	}
	why := append(dmarcWhy, dkimWhy...)
	if len(why) == 0 {
		return AuthResult{Reason: "no dmarc or dkim result in Authentication-Results from " + authservID}
	}
	return AuthResult{Reason: strings.Join(dedupe(why), ", ")}
}

// parseAuthResults returns the authserv-id and the results of one
// Authentication-Results value, tolerating results it cannot parse.
func parseAuthResults(v string) (string, []authres.Result) {
	parts := strings.Split(neutraliseAuthResults(v), ";")
	// authres.Parse fails (and returns no id) on a version other than 1.
	id, _, err := authres.Parse(parts[0])
	if err != nil {
		return "", nil
	}
	var results []authres.Result
	for _, p := range parts[1:] {
		// One result at a time, so that a malformed one does not hide
		// the results after it (go-msgauth stops at the first error).
		if _, rs, err := authres.Parse("x;" + p); err == nil {
			results = append(results, rs...)
		}
	}
	return id, results
}

// neutraliseAuthResults removes RFC 5322 comments (nested, with quoted
// pairs) and rewrites quoted strings so that go-msgauth, which splits on
// ';' and on white space without knowing either, sees the structure the
// MTA wrote: a comment becomes a space, and in a quoted string the
// characters that are structure to go-msgauth (white space, ';', '=',
// '(', ')', '\') become '_'. A value an attacker influenced, such as a
// quoted reason, thus cannot smuggle in a result of its own. An
// unterminated comment or quoted string runs to the end of the value.
func neutraliseAuthResults(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	depth := 0      // comment nesting
	quoted := false // inside a quoted string
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case depth > 0:
			switch c {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
		case quoted:
			switch c {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(neutralQuoted(v[i]))
				}
			case '"':
				quoted = false
			default:
				b.WriteByte(neutralQuoted(c))
			}
		case c == '(':
			depth = 1
			b.WriteByte(' ')
		case c == '"':
			quoted = true
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func neutralQuoted(c byte) byte {
	switch c {
	case ' ', '\t', '\r', '\n', ';', '=', '(', ')', '\\', '"':
		return '_'
	}
	return c
}

// addressDomain returns the lower-cased domain of a bare address or a
// name-addr, or "" when there is none.
func addressDomain(s string) string {
	s = strings.TrimSpace(s)
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	return normaliseDomain(strings.TrimRight(s[at+1:], "> \t"))
}

// resultDomain normalises a header.d or header.from value; some MTAs
// write a whole address or an "@domain" there instead of a domain.
func resultDomain(s string) string {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[at+1:]
	}
	return normaliseDomain(s)
}

func normaliseDomain(s string) string {
	return canonicalDomain(strings.TrimSpace(s))
}

// dkimAligned reports whether a DKIM signing domain d is aligned with the
// From domain in the relaxed sense of RFC 7489 §3.1.1, approximated as
// "equal, or a parent domain". A single-label d (a top-level domain) is
// never aligned.
func dkimAligned(fromDomain, d string) bool {
	if fromDomain == d {
		return true
	}
	return strings.Contains(d, ".") && strings.HasSuffix(fromDomain, "."+d)
}

func dedupe(l []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
