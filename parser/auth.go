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
	"slices"
	"strings"

	"github.com/emersion/go-message"
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
// public suffix list; header.d must contain a dot), or dkim=pass with
// header.i=@D where D is the From domain or a subdomain of it (and within
// header.d, when that is given), as Google writes it. Comments (RFC 5322
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
			i := resultDomain(r.Identifier)
			switch {
			case r.Value != authres.ResultPass:
				why := "dkim=" + string(r.Value)
				if d != "" {
					why += " for " + d
				}
				dkimWhy = append(dkimWhy, why)
			case d != "" && dkimAligned(fromDomain, d):
				if dkimOK == "" {
					dkimOK = "dkim=pass for " + d
				}
			case i != "" && identityAligned(fromDomain, i) && (d == "" || i == d || strings.HasSuffix(i, "."+d)):
				// Google writes header.i=@domain and no header.d.
				if dkimOK == "" {
					dkimOK = "dkim=pass for header.i=@" + i
				}
			case d == "" && i == "":
				dkimWhy = append(dkimWhy, "dkim=pass without header.d")
			case d != "":
				dkimWhy = append(dkimWhy, fmt.Sprintf("dkim=pass for %s but From is %s", d, fromDomain))
			default:
				dkimWhy = append(dkimWhy, fmt.Sprintf("dkim=pass for header.i=@%s but From is %s", clip(i), fromDomain))
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

// identityAligned reports whether the domain i of a DKIM identity
// (header.i) is the From domain or a subdomain of it (SPEC §7a).
func identityAligned(fromDomain, i string) bool {
	return i == fromDomain || strings.HasSuffix(i, "."+fromDomain)
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

// ExchangeHeaders are the fields Exchange Online writes about where a
// message came from, each the raw values of every such field, top-down, at
// most maxExchangeValues of each.
type ExchangeHeaders struct {
	// AuthAs is X-MS-Exchange-Organization-AuthAs: "Internal" for mail
	// submitted by a user of the organisation, "Anonymous" for mail from
	// outside.
	AuthAs []string
	// AuthSource is X-MS-Exchange-Organization-AuthSource: the server that
	// authenticated the sender.
	AuthSource []string
	// CrossTenantID is X-MS-Exchange-CrossTenant-Id: the tenant (a GUID).
	CrossTenantID []string
}

const maxExchangeValues = 10

// exchangeHeaders reads the Exchange fields of a header.
func exchangeHeaders(h message.Header) ExchangeHeaders {
	get := func(key string) []string {
		var out []string
		fs := h.FieldsByKey(key)
		for fs.Next() && len(out) < maxExchangeValues {
			out = append(out, strings.TrimSpace(validUTF8(fs.Value())))
		}
		return out
	}
	return ExchangeHeaders{
		AuthAs:        get("X-MS-Exchange-Organization-AuthAs"),
		AuthSource:    get("X-MS-Exchange-Organization-AuthSource"),
		CrossTenantID: get("X-MS-Exchange-CrossTenant-Id"),
	}
}

// CheckMicrosoft365 decides whether a message is authenticated for the
// domain of from on Exchange Online (staff.auth: microsoft365, SPEC §7a).
// It is authenticated when either
//
//   - it was sent inside the organisation: every
//     X-MS-Exchange-Organization-AuthAs field says Internal and an
//     X-MS-Exchange-Organization-AuthSource field names a server. Exchange
//     Online removes X-MS-Exchange-Organization-* fields from mail that
//     enters from outside, so a sender cannot bring its own. When tenantID
//     is set, X-MS-Exchange-CrossTenant-Id must be present and every such
//     field equal to it, which refuses organisation fields written by
//     another tenant's Exchange; or
//   - the topmost Authentication-Results field, which Exchange writes
//     without an authserv-id, says dmarc=pass with header.from equal to the
//     From domain. A topmost field that has an authserv-id is not
//     Exchange's and does not count; fields below the topmost one are
//     never read, and ARC-Authentication-Results is not an
//     Authentication-Results field.
func CheckMicrosoft365(x ExchangeHeaders, authResults []string, from, tenantID string) AuthResult {
	fromDomain := addressDomain(from)
	if fromDomain == "" {
		return AuthResult{Reason: fmt.Sprintf("From address %q has no domain", from)}
	}
	org := orgVerdict(x, strings.TrimSpace(tenantID))
	if org == "" {
		return AuthResult{OK: true, Reason: "sent inside the Microsoft 365 organisation"}
	}
	dmarc := exchangeDMARC(authResults, fromDomain)
	if dmarc == "" {
		return AuthResult{OK: true, Reason: "dmarc=pass for " + fromDomain}
	}
	return AuthResult{Reason: org + "; " + dmarc}
}

// orgVerdict returns "" when the organisation fields show internal mail,
// else why not.
func orgVerdict(x ExchangeHeaders, tenantID string) string {
	if len(x.AuthAs) == 0 {
		return "no X-MS-Exchange-Organization-AuthAs (not sent inside the organisation)"
	}
	for _, v := range x.AuthAs {
		if !strings.EqualFold(v, "Internal") {
			return fmt.Sprintf("X-MS-Exchange-Organization-AuthAs is %q, not Internal", clip(v))
		}
	}
	if !slices.ContainsFunc(x.AuthSource, func(s string) bool { return s != "" }) {
		return "no X-MS-Exchange-Organization-AuthSource"
	}
	if tenantID == "" {
		return ""
	}
	if len(x.CrossTenantID) == 0 {
		return "no X-MS-Exchange-CrossTenant-Id to compare with staff.tenant_id"
	}
	for _, v := range x.CrossTenantID {
		if !strings.EqualFold(v, tenantID) {
			return fmt.Sprintf("X-MS-Exchange-CrossTenant-Id %q is not staff.tenant_id", clip(v))
		}
	}
	return ""
}

// exchangeDMARC returns "" when the topmost Authentication-Results field
// is Exchange's (no authserv-id) and says dmarc=pass for fromDomain, else
// why not.
func exchangeDMARC(authResults []string, fromDomain string) string {
	if len(authResults) == 0 {
		return "no Authentication-Results"
	}
	parts := strings.Split(neutraliseAuthResults(authResults[0]), ";")
	// Exchange's field starts with a result ("spf=pass …"); a field that
	// starts with an authserv-id ("mx.example.org") has no '=' there.
	if !strings.Contains(parts[0], "=") {
		return "topmost Authentication-Results has an authserv-id, so it is not Exchange Online's"
	}
	var why []string
	for _, p := range parts {
		_, rs, err := authres.Parse("x;" + p)
		if err != nil {
			continue
		}
		for _, r := range rs {
			d, ok := r.(*authres.DMARCResult)
			if !ok {
				continue
			}
			dom := resultDomain(d.From)
			switch {
			case d.Value != authres.ResultPass:
				why = append(why, "dmarc="+string(d.Value))
			case dom != fromDomain:
				why = append(why, fmt.Sprintf("dmarc=pass for %s but From is %s", clip(dom), fromDomain))
			default:
				return ""
			}
		}
	}
	if len(why) == 0 {
		return "no dmarc result in the topmost Authentication-Results"
	}
	return strings.Join(dedupe(why), ", ")
}

// clip shortens an attacker-supplied value for a Reason.
func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}
