// Package redact removes a reporter's identity from text before it goes to
// a third party (SPEC §5, #thirdparty). It is a leaf: text and what is
// known about the reporter in, redacted text and a list of what was
// removed out. No I/O.
//
// The rule is "when in doubt, redact": a phone-number-like run of digits
// in a report is worth less than the reporter's privacy, so the patterns
// here are deliberately wide, and every removal is counted so staff can be
// told what the owner did not get. What it removes, in this order:
//
//   - vCard blocks (BEGIN:VCARD … END:VCARD) pasted into the text;
//   - the signature: everything after a "-- " line (RFC 3676 §4.3), and
//     everything from a sign-off line ("Best,", "Regards,", "Groeten,",
//     …) to the end when at most a signature's worth of lines follows;
//     names, domains and handles found there are then redacted in the rest
//     of the text too;
//   - social-network profile URLs and the handles they name;
//   - e-mail addresses, also with "@" written as %40, &#64; or " at ";
//   - @handles (also @user@instance);
//   - the reporter's domains (of their addresses, of URLs in their
//     signature), plain, as a subdomain, and percent-encoded;
//   - phone numbers in international (+31 6 1234 5678) and national
//     (06-12345678, (020) 123 4567) forms, and whatever follows "Tel:",
//     "Phone:" and similar labels on a line;
//   - the reporter's name, the words of it, and their address's local
//     part, as whole words.
//
// Hidden HTML is not this package's business: callers must pass only text
// a reader would see.
package redact

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Identity is what is known about the reporter.
type Identity struct {
	// Name is the display name of the reporter's address.
	Name string
	// Addrs are the reporter's addresses (From, Reply-To).
	Addrs []string
	// Terms are further strings that identify the reporter (a credit
	// line, a handle); each is removed as a whole word.
	Terms []string
	// Exact are strings removed wherever they occur, as written but in
	// any case: what Text found and removed from the report (its
	// Result.Found), to be removed from other text about it.
	Exact []string
}

// Result is redacted text and what was removed from it.
type Result struct {
	Text string
	// Removed counts removals by kind ("phone number", "e-mail address",
	// "signature block", ...).
	Removed map[string]int
	// Found lists the contact details removed (addresses, numbers,
	// handles, profile URLs), for Identity.Exact.
	Found []string
}

// Summary lists the removals for people, e.g. "2 phone numbers, 1
// signature block", sorted by kind; "" when nothing was removed.
func (r Result) Summary() string { return summary(r.Removed) }

func summary(m map[string]int) string {
	kinds := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		n := m[k]
		if n == 1 {
			parts[i] = "1 " + k
		} else {
			parts[i] = fmt.Sprintf("%d %s", n, plural(k))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(k string) string {
	switch {
	case strings.HasSuffix(k, "ss"):
		return k + "es"
	case strings.HasSuffix(k, "s"):
		return k
	}
	return k + "s"
}

// Placeholders put in place of what was removed.
const (
	PhPhone     = "[phone number]"
	PhEmail     = "[e-mail address]"
	PhHandle    = "[handle]"
	PhProfile   = "[social profile]"
	PhDomain    = "[reporter's domain]"
	PhReporter  = "[reporter]"
	PhSignature = "[signature removed]"
	PhVCard     = "[contact card removed]"
	PhContact   = "[contact details]"
)

// maxTerms and maxTerm bound the identifying strings, so the patterns
// built from them stay small.
const (
	maxTerms = 64
	maxTerm  = 254
)

// MaxInput bounds the text Text works on; the rest is cut (and counted),
// so hostile input cannot make redaction slow: every pattern here runs in
// linear time (RE2), at roughly 1 MB/s for all of them together
// (BenchmarkText), and redaction runs inside the store transaction of the
// #thirdparty command.
const MaxInput = 512 << 10

// Text redacts text for a third party who must not learn who id is.
func Text(text string, id Identity) Result {
	r := &redactor{removed: map[string]int{}}
	text = clean(text)
	if len(text) > MaxInput {
		text = truncate(text, MaxInput) + "\n[rest of the text removed]"
		r.removed["oversized tail"]++
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	r.identity(id)
	text = r.exact(text, id.Exact)
	text = r.vcards(text)
	text = r.signature(text)
	text = r.profiles(text)
	text = r.handles(text)
	text = r.emails(text)
	text = r.domains(text)
	text = r.labelled(text)
	text = r.phones(text)
	text = r.words(text)
	return Result{Text: strings.TrimSpace(expand(text)), Removed: r.removed, Found: r.found}
}

// While redacting, each placeholder stands in the text as a sentinel of
// private-use runes, so a later pass cannot match inside it (a reporter
// whose name is "Phone", or whose local part is "reporter"); expand
// writes the placeholders at the end. clean makes sure the input holds no
// such runes of its own.
var placeholders = []string{PhPhone, PhEmail, PhHandle, PhProfile, PhDomain, PhReporter, PhSignature, PhVCard, PhContact}

const sentinelBase = '\uE000'

func sentinel(p string) string {
	for i, x := range placeholders {
		if x == p {
			return string([]rune{sentinelBase, sentinelBase + 1 + rune(i), sentinelBase})
		}
	}
	panic("redact: unknown placeholder " + p)
}

func expand(s string) string {
	if !strings.ContainsRune(s, sentinelBase) {
		return s
	}
	pairs := make([]string, 0, 2*len(placeholders))
	for _, p := range placeholders {
		pairs = append(pairs, sentinel(p), p)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(c rune) rune {
		if c >= sentinelBase && c <= sentinelBase+0xff {
			return '\uFFFD'
		}
		return c
	}, s)
}

type redactor struct {
	removed map[string]int
	// names are names and handles, redacted as whole words; addrs the
	// reporter's addresses; doms their domains (lowercase ASCII or
	// Unicode as written).
	names, addrs, doms []string
	// found are the contact details removed, in order.
	found []string
	// nameWords are the lowercased words of the names given (display
	// name, terms, names found in the text), not of local parts.
	nameWords map[string]bool
}

func (r *redactor) identity(id Identity) {
	for _, a := range id.Addrs {
		a = strings.TrimSpace(clean(a))
		if len(a) > maxTerm {
			continue
		}
		at := strings.LastIndexByte(a, '@')
		if at <= 0 || at == len(a)-1 {
			continue
		}
		r.addrs = append(r.addrs, a)
		local := a[:at]
		if utf8.RuneCountInString(local) >= 3 {
			r.names = append(r.names, local)
			// "ada.lovelace" also as its parts.
			for _, p := range strings.FieldsFunc(local, func(c rune) bool { return c == '.' || c == '_' || c == '-' || c == '+' }) {
				if utf8.RuneCountInString(p) >= 3 {
					r.names = append(r.names, p)
				}
			}
		}
		r.addDomain(a[at+1:])
	}
	r.addName(id.Name)
	for _, t := range id.Terms {
		r.addName(t)
	}
}

// addName adds a name and its words of three letters or more.
func (r *redactor) addName(n string) {
	n = strings.TrimSpace(strings.Trim(clean(n), `"'`))
	if utf8.RuneCountInString(n) < 2 || len(r.names) >= maxTerms {
		return
	}
	n = truncate(n, maxTerm)
	r.names = append(r.names, n)
	if r.nameWords == nil {
		r.nameWords = map[string]bool{}
	}
	for _, w := range strings.FieldsFunc(n, func(c rune) bool {
		return unicode.IsSpace(c) || c == ',' || c == '.' || c == '"' || c == '\'' || c == '(' || c == ')' || c == '<' || c == '>'
	}) {
		if utf8.RuneCountInString(w) >= 3 {
			r.names = append(r.names, w)
			r.nameWords[strings.ToLower(w)] = true
		}
	}
}

func (r *redactor) addDomain(d string) {
	d = strings.ToLower(strings.Trim(strings.TrimSpace(clean(d)), ".[]"))
	if len(d) > maxTerm || len(r.doms) >= maxTerms {
		return
	}
	d = strings.TrimPrefix(d, "www.")
	if !strings.Contains(d, ".") || len(d) < 4 {
		return
	}
	for _, x := range r.doms {
		if x == d {
			return
		}
	}
	r.doms = append(r.doms, d)
}

var vcardRE = regexp.MustCompile(`(?is)BEGIN:VCARD.*?(END:VCARD|\z)`)

func (r *redactor) vcards(s string) string {
	return vcardRE.ReplaceAllStringFunc(s, func(string) string {
		r.removed["contact card"]++
		return sentinel(PhVCard)
	})
}

// signOffRE is a line that closes a mail: "Best,", "Kind regards", "Met
// vriendelijke groet,", "Thanks!", "-- Ada" is handled separately.
var signOffRE = regexp.MustCompile(`(?i)^\s*(` +
	`(best|kind|warm|warmest|many|with)?\s*(regards|greetings|wishes)|` +
	`best|all the best|cheers|thanks|thanks again|thank you|many thanks|thx|ta|` +
	`sincerely|yours( sincerely| truly| faithfully)?|respectfully|br|kr|` +
	`(met )?(vriendelijke|hartelijke|beste|lieve)?\s*groet(en|jes)?|groet(en|jes)?|gr|mvg|vg|bvd|bedankt|dank( je| u)?( wel)?|` +
	`(mit )?(freundlichen|besten|herzlichen|viele)?\s*gr(ü|ue)(ß|ss)(e|en)?|lg|mfg|` +
	`cordialement|bien (à vous|cordialement)|saludos|un saludo|atentamente|cordiali saluti|saluti|` +
	`regards|rgds|best,? regards` +
	`)\s*[,.!]*\s*$`)

// maxSignatureLines is how many non-empty lines may follow a sign-off for
// them to count as the signature rather than more report.
const maxSignatureLines = 10

func (r *redactor) signature(s string) string {
	lines := strings.Split(s, "\n")
	cut := -1
	for i, l := range lines {
		if t := strings.TrimRight(l, " \t"); t == "--" || l == "-- " {
			cut = i
			break
		}
	}
	// The first sign-off line that only a signature's worth of lines
	// follows.
	limit := len(lines)
	if cut >= 0 {
		limit = cut
	}
	for i := 0; i < limit; i++ {
		if !signOffRE.MatchString(lines[i]) {
			continue
		}
		rest := 0
		for _, l := range lines[i+1:] {
			if strings.TrimSpace(l) != "" {
				rest++
			}
		}
		if rest <= maxSignatureLines {
			cut = i
			break
		}
	}
	sigStart := cut + 1
	if cut < 0 {
		// No delimiter and no sign-off: a short line near the end that
		// starts with the reporter's name ("Ada Lovelace · Engine Works",
		// an HTML footer) begins the signature.
		cut = r.nameLine(lines)
		sigStart = cut
	}
	if cut < 0 {
		return s
	}
	// What the signature says about the reporter is redacted in the rest
	// too: the name line right after the sign-off, the domains of URLs
	// and addresses, the handles.
	sig := lines[sigStart:]
	named := false
	for _, l := range sig {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if !named && looksLikeName(t) {
			r.addName(t)
			named = true
		}
		for _, m := range hostRE.FindAllStringSubmatch(t, -1) {
			r.addDomain(m[1])
		}
		for _, m := range emailRE.FindAllStringSubmatch(t, -1) {
			r.addDomain(m[3])
		}
		for _, m := range handleRE.FindAllStringSubmatch(t, -1) {
			r.addName(m[2])
		}
		for _, m := range profileRE.FindAllStringSubmatch(t, -1) {
			if h := profileHandle(m[0]); h != "" {
				r.addName(h)
			}
		}
	}
	r.removed["signature block"]++
	return strings.Join(lines[:cut], "\n") + "\n" + sentinel(PhSignature) + "\n"
}

// nameLine returns the first line among the last maxSignatureLines
// non-empty ones that is short and starts with a word of the reporter's
// name, or -1.
func (r *redactor) nameLine(lines []string) int {
	rest := 0
	start := len(lines)
	for start > 0 && rest < maxSignatureLines {
		start--
		if strings.TrimSpace(lines[start]) != "" {
			rest++
		}
	}
	// Never the first line: a one-line report is not a signature.
	first := 0
	for first < len(lines) && strings.TrimSpace(lines[first]) == "" {
		first++
	}
	for i := max(start, first+1); i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || utf8.RuneCountInString(t) > 80 {
			continue
		}
		w := strings.FieldsFunc(t, func(c rune) bool { return !unicode.IsLetter(c) && c != '-' && c != '\'' })
		if len(w) > 0 && r.isNameWord(w[0]) {
			return i
		}
	}
	return -1
}

// looksLikeName: a short line of words that starts with a letter, with no
// digits or '@' (a name like "Ada L." or "ada"), not a sentence.
func looksLikeName(s string) bool {
	if utf8.RuneCountInString(s) > 40 || strings.ContainsAny(s, "@:/0123456789") {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(first) && len(strings.Fields(s)) <= 4
}

// Social profile URLs, with or without scheme. The handle in a profile URL
// is also remembered, so its bare mentions go too.
var profileRE = regexp.MustCompile(`(?i)\b(?:https?://)?(?:www\.|m\.|mobile\.)?` +
	`(?:twitter\.com|x\.com|linkedin\.com|[a-z]{2}\.linkedin\.com|facebook\.com|fb\.com|instagram\.com|` +
	`threads\.net|bsky\.app|t\.me|keybase\.io|medium\.com|youtube\.com|tiktok\.com|reddit\.com|` +
	`hackerone\.com|bugcrowd\.com|intigriti\.com|gist\.github\.com|` +
	`mastodon\.[a-z.]+|[a-z0-9-]+\.social|infosec\.exchange|fosstodon\.org|hachyderm\.io|chaos\.social|` +
	`github\.com|gitlab\.com|codeberg\.org)` +
	`(/(?:[^\s<>"'()\[\]]*[^\s<>"'()\[\].,;:!?])?)?`)

// profileHandle returns the handle a profile URL names ("ada" in
// github.com/ada or linkedin.com/in/ada), or "".
func profileHandle(u string) string {
	if !strings.Contains(u, "://") {
		u = "https://" + u
	}
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	segs := strings.FieldsFunc(pu.Path, func(c rune) bool { return c == '/' })
	if len(segs) == 0 {
		return ""
	}
	h := segs[0]
	if (h == "in" || h == "u" || h == "user" || h == "users" || h == "@") && len(segs) > 1 {
		h = segs[1]
	}
	h = strings.TrimPrefix(h, "@")
	if utf8.RuneCountInString(h) < 3 {
		return ""
	}
	return h
}

// codeHost reports whether a profile URL is on a code host, where URLs
// with a deeper path are usually about the vulnerable software.
var codeHostRE = regexp.MustCompile(`(?i)^(?:https?://)?(?:www\.)?(github\.com|gitlab\.com|codeberg\.org)/`)

func (r *redactor) profiles(s string) string {
	return profileRE.ReplaceAllStringFunc(s, func(m string) string {
		h := profileHandle(m)
		if codeHostRE.MatchString(m) && h != "" {
			// A repository path (owner/repo/...) is technical content,
			// unless the owner is the reporter.
			if strings.Count(strings.TrimRight(stripScheme(m), "/"), "/") >= 2 && !r.isWord(h) {
				return m
			}
		}
		if h == "" && !strings.Contains(stripScheme(m), "/") {
			// A bare site name ("twitter.com") identifies nobody.
			return m
		}
		if h != "" {
			r.addName(h)
		}
		r.removed["social profile"]++
		r.found = append(r.found, m)
		return sentinel(PhProfile)
	})
}

func stripScheme(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		return u[i+3:]
	}
	return u
}

// isNameWord reports whether s is a word of the reporter's display name
// or of the other names given (not of their address's local part).
func (r *redactor) isNameWord(s string) bool {
	k := strings.ToLower(s)
	return r.nameWords[k] && !stopWords[k]
}

func (r *redactor) isWord(s string) bool {
	for _, w := range r.names {
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

// The "@" of an address as written in text, in URLs (%40) and in HTML
// entities; "[at]" and " at " spellings are caught too.
const atSign = `(?:@|%40|&#0*64;|&#x0*40;|\s?[\[(]at[\])]\s?|\s+at\s+)`

// dotSign is the dot of a domain in the obfuscated spellings.
const dotSign = `(?:\.|%2e|\s?[\[(]dot[\])]\s?|\s+dot\s+)`

var emailRE = regexp.MustCompile(`(?i)([\p{L}\p{N}._%+'-]*[\p{L}\p{N}_%+'-])(` + atSign + `)((?:[\p{L}\p{N}-]+` + dotSign + `)+[\p{L}]{2,})`)

// plainAt distinguishes a real address from "meet at home.now": the
// spelled-out " at " form needs an obfuscated dot too, or it is English.
var (
	plainAtRE    = regexp.MustCompile(`(?i)^\s+at\s+$`)
	spelledDotRE = regexp.MustCompile(`(?i)\sdot\s|[\[(]dot[\])]`)
)

func (r *redactor) emails(s string) string {
	return emailRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := emailRE.FindStringSubmatch(m)
		if plainAtRE.MatchString(sub[2]) && !spelledDotRE.MatchString(sub[3]) {
			return m
		}
		r.removed["e-mail address"]++
		r.found = append(r.found, m)
		return sentinel(PhEmail)
	})
}

// exact removes each of xs wherever it occurs, in any case.
func (r *redactor) exact(s string, xs []string) string {
	for _, x := range xs {
		x = strings.TrimSpace(clean(x))
		if utf8.RuneCountInString(x) < 4 || len(x) > maxTerm {
			continue
		}
		re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(x))
		s = re.ReplaceAllStringFunc(s, func(string) string {
			r.removed["contact detail"]++
			return sentinel(PhContact)
		})
	}
	return s
}

// ownAddrs removes only the reporter's addresses, in any case.
func (r *redactor) ownAddrs(s string) string {
	for _, a := range r.addrs {
		re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(a))
		s = re.ReplaceAllStringFunc(s, func(string) string {
			r.removed["e-mail address"]++
			return sentinel(PhEmail)
		})
	}
	return s
}

// handleRE is an @handle not preceded by a word character (so not an
// address), with an optional @instance (Mastodon).
var handleRE = regexp.MustCompile(`(^|[^\p{L}\p{N}_.%&#@/\\-])@([\p{L}\p{N}_][\p{L}\p{N}_.-]{0,38}[\p{L}\p{N}_])(@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)?`)

func (r *redactor) handles(s string) string {
	return handleRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := handleRE.FindStringSubmatch(m)
		r.addName(sub[2])
		r.removed["social handle"]++
		r.found = append(r.found, strings.TrimPrefix(m, sub[1]))
		return sub[1] + sentinel(PhHandle)
	})
}

// hostRE finds host names in URLs and bare "www." names.
var hostRE = regexp.MustCompile(`(?i)(?:[a-z][a-z0-9+.-]*://|www\.)([\p{L}\p{N}.-]+\.[\p{L}]{2,})`)

// domains redacts each of the reporter's domains and its subdomains,
// case-insensitively, with any character also written percent-encoded,
// and in IDNA form if it has one.
func (r *redactor) domains(s string) string {
	for _, d := range r.doms {
		re := regexp.MustCompile(`(?i)(^|[^\p{L}\p{N}-]|%[0-9a-f]{2})((?:[\p{L}\p{N}-]+(?:\.|%2e))*` + encodedPattern(d) + `)($|[^\p{L}\p{N}-])`)
		for range 3 { // adjacent mentions share a boundary
			next := re.ReplaceAllStringFunc(s, func(m string) string {
				sub := re.FindStringSubmatch(m)
				r.removed["reporter's domain"]++
				return sub[1] + sentinel(PhDomain) + sub[3]
			})
			if next == s {
				break
			}
			s = next
		}
	}
	return s
}

// encodedPattern matches s with any byte also written as %XX.
func encodedPattern(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, `(?:%s|%%%02x)`, regexp.QuoteMeta(string([]byte{c})), c)
	}
	// Multi-byte UTF-8 split into single bytes is not valid in a regexp
	// literal; fall back to the plain form for non-ASCII domains.
	if !isASCII(s) {
		return regexp.QuoteMeta(s)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// labelRE: a contact label and the rest of its line.
var labelRE = regexp.MustCompile(`(?im)\b(tel|telephone|phone|mobile|mob|cell|gsm|fax|whatsapp|signal|telegram|wire|threema|skype|discord|tel\.|telefoon|mobiel|telefon|handy)\s*(?:nr\.?|no\.?|number|nummer)?\s*[:.]\s*(\S.*)$`)

func (r *redactor) labelled(s string) string {
	return labelRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := labelRE.FindStringSubmatch(m)
		r.removed["contact detail"]++
		r.found = append(r.found, strings.TrimSpace(sub[2]))
		return sub[1] + ": " + sentinel(PhContact)
	})
}

// Phone numbers: international with + or 00, national with a leading 0 or
// an area code in brackets, North American 3-3-4. Separators are spaces,
// dots, dashes, slashes and brackets; 8 to 15 digits in all.
var phoneRE = regexp.MustCompile(`(^|[^\p{L}\p{N}_.:/#=&?%-])(` +
	`(?:\+|00)[1-9](?:[ .\-/]?\(?\d\)?){6,14}` +
	`|\(0\d{1,4}\)[ .\-/]?\d(?:[ .\-/]?\d){4,10}` +
	`|0[1-9](?:[ .\-/]?\d){7,11}` +
	`|\(?[2-9]\d{2}\)?[ .-]\d{3}[ .-]\d{4}` +
	`|tel:[+\d][\d.\-()]{5,}` +
	`)($|[^\p{L}\p{N}_:/-]|[.:/-]($|[^\p{N}]))`)

func (r *redactor) phones(s string) string {
	for range 2 { // adjacent numbers share a boundary
		next := phoneRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := phoneRE.FindStringSubmatch(m)
			if digits(sub[2]) < 8 {
				return m
			}
			r.removed["phone number"]++
			r.found = append(r.found, sub[2])
			return sub[1] + sentinel(PhPhone) + sub[3]
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// words redacts names, local parts and handles as whole words,
// case-insensitively, longest first, so "Ada" does not break "Canada" or
// "metadata" and a name does not leave its surname behind.
func (r *redactor) words(s string) string {
	seen := map[string]bool{}
	var ws []string
	for _, w := range r.names {
		k := strings.ToLower(w)
		if w == "" || seen[k] || stopWords[k] {
			continue
		}
		seen[k] = true
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return s
	}
	sort.Slice(ws, func(i, j int) bool { return len(ws[i]) > len(ws[j]) })
	alts := make([]string, len(ws))
	for i, w := range ws {
		alts[i] = regexp.QuoteMeta(w)
	}
	re := regexp.MustCompile(`(?i)(^|[^\p{L}\p{N}_])(` + strings.Join(alts, "|") + `)($|[^\p{L}\p{N}_])`)
	for range 3 { // adjacent mentions share a boundary character
		next := re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			r.removed["name mention"]++
			return sub[1] + sentinel(PhReporter) + sub[3]
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

// stopWords are never redacted as a name word: they would eat the report
// (a display name "The Security Team" or a local part "info").
var stopWords = map[string]bool{
	"the": true, "and": true, "for": true, "security": true, "team": true, "info": true,
	"admin": true, "mail": true, "contact": true, "noreply": true, "reply": true,
	"support": true, "hello": true, "test": true, "user": true, "report": true,
	"www": true, "http": true, "https": true, "com": true, "org": true, "net": true,
	"van": true, "der": true, "den": true, "von": true, "het": true, "een": true,
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
