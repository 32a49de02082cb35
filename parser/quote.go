package parser

// Cutting quoted text from replies (SPEC §5: "the text they write above
// any quoted part is the message; quoted text and signatures are cut").
//
// Mail clients mark the start of the quoted message in a handful of ways.
// SplitReply recognises them from the per-language table in quote_lang.go
// (English, Dutch, German, French, Polish, Danish, Norwegian, Swedish,
// Spanish, Portuguese, Italian, Finnish, Hungarian, Russian, Chinese,
// Japanese, Korean, Vietnamese):
//
//	attribution line   "On <date>, <name> wrote:", "Le … a écrit :", "… 写道：",
//	                   Gmail's numeric "2014-03-20 8:48 GMT+01:00 Name <addr>:";
//	                   also wrapped over two or three lines (Gmail, iOS)
//	separator line     "-----Original Message-----" and its translations
//	header block       "From: …" / "Date: …" followed by "Sent:", "To:",
//	                   "Subject:" (Outlook desktop, web and mobile; forwards
//	                   in every client), in any language of the table
//	forward separator  "---------- Forwarded message ---------",
//	                   "Begin forwarded message:", "Message transféré", …
//	signature          "-- " and the default app lines ("Sent from my
//	                   iPhone", "Get Outlook for iOS<https://aka.ms/…>", …)
//	quoted lines       lines starting with '>'
//
// The rules lean towards keeping text, because losing part of an answer is
// worse than showing a stray line of quote:
//
//   - nothing is cut above the first marker, and a marker only cuts when
//     some of the writer's own text stands above it: an attribution at the
//     very top is dropped only when quoted lines follow it (bottom posting),
//     otherwise it and the text below are kept;
//   - an attribution needs a date, a time or an address in it, or quoted
//     lines right below it, so prose ending in "wrote:" is kept;
//   - a header block needs a From field plus a date or both To and Subject,
//     so a line "From: the logs …" is kept;
//   - lines starting with ">>>" are quotes only next to shallower quoted
//     lines or under an attribution; a run made only of ">>>" lines is
//     text (a Python prompt, a shell here-document), not a third-level
//     quote with nothing around it;
//   - quoted lines interleaved with answers (inline replies) are dropped
//     and the answers kept;
//   - a sign-off ("Regards,\nJohn") or a lone name is never cut; only the
//     "-- " separator and the default lines of mail apps are.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reply is a reply split into the writer's new text and what came with it.
type Reply struct {
	// Text is what the writer wrote above the quoted part, trimmed; ""
	// when there is none.
	Text string
	// Forwarded is the forwarded message from its separator line on, or
	// "" when the mail forwards nothing. It is never part of Text.
	Forwarded string
	// Uncut is set when the mail had text but cutting left none of the
	// writer's own: staff should then be shown the whole mail with Note.
	Uncut bool
	// Note says why the mail is shown uncut, for staff.
	Note string
}

// UncutNote is Reply.Note for a mail in which everything was quoted.
const UncutNote = "nothing above the quoted part: shown uncut"

// maxAttributionLen bounds an attribution wrapped over several lines, so
// that lines of prose that happen to start with "On" and end with
// "wrote:" are not mistaken for one.
const maxAttributionLen = 300

// StripQuoted returns the text a person wrote above the quoted part of a
// reply, with leading and trailing white space trimmed, or "" when all of
// it was quoted. It is SplitReply(text).Text; see there.
func StripQuoted(text string) string { return SplitReply(text).Text }

// SplitReply splits a reply into the new text, the forwarded message (if
// any) and whether staff must see it uncut. Line endings are normalised to
// LF first. Every line of Text is a line of the input (or, for an
// attribution that shares its line with new text, the part before it), so
// Text is never longer than the input. See the file comment for the rules.
func SplitReply(text string) Reply {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	q := quotedLines(lines)

	var r Reply
	var kept []string
	dropped, cut := false, false
	for i := 0; i < len(lines) && !cut; i++ {
		line := lines[i]
		if q[i] {
			dropped = true
			continue
		}
		t := normLine(line)
		if t == "" {
			kept = append(kept, line)
			continue
		}
		own := hasText(kept)
		if line == "-- " || line == "--" {
			if own {
				cut = true
				break
			}
			kept = append(kept, line)
			continue
		}
		switch separatorKind(t) {
		case sepForward:
			r.Forwarded = strings.TrimSpace(strings.Join(lines[i:], "\n"))
			cut = true
			continue
		case sepOriginal:
			if own {
				cut = true
				continue
			}
			// At the top: what follows is the quoted message.
			dropped = true
			continue
		}
		if n := headerBlockAt(lines, q, i); n > 0 {
			cut = true
			continue
		}
		if n, before := attributionAt(lines, q, i); n > 0 {
			if before != "" {
				kept = append(kept, before)
				own = true
			}
			follows := inlineQuotesFollow(lines, q, i+n)
			if own && !follows {
				cut = true
				continue
			}
			if own || quoteFollows(lines, q, i+n) {
				// Above inline answers, or at the top above a quote
				// with the answer below it: drop it and go on.
				i += n - 1
				dropped = true
				continue
			}
			// At the top with the writer's text right below: that text
			// is the message, and the attribution stays with it.
		}
		kept = append(kept, line)
	}
	if cut {
		kept = trimSeparatorLine(kept)
	}
	if dropped {
		kept = squeezeBlankLines(kept)
	}
	kept = trimBlankTail(kept)
	for len(kept) > 0 && isAppSignature(normLine(kept[len(kept)-1])) {
		kept = trimSeparatorLine(kept[:len(kept)-1])
	}
	r.Text = strings.TrimSpace(strings.Join(kept, "\n"))
	if r.Text == "" && r.Forwarded == "" && strings.TrimSpace(text) != "" {
		r.Uncut, r.Note = true, UncutNote
	}
	return r
}

func hasText(kept []string) bool {
	for _, l := range kept {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}

// quoteDepth counts the '>' a line starts with, allowing indentation and
// single spaces between them ("> > text").
func quoteDepth(line string) int {
	s := strings.TrimLeft(line, " \t")
	d := 0
	for s != "" {
		switch {
		case s[0] == '>':
			d++
			s = s[1:]
		case s[0] == ' ' && d > 0 && len(s) > 1 && s[1] == '>':
			s = s[1:]
		default:
			return d
		}
	}
	return d
}

// quotedLines marks the lines that are quoted. A run of consecutive lines
// starting with '>' is quoted when one of them is quoted only once or
// twice; a run made only of ">>>" lines (a Python prompt, say) is quoted
// only when the line above it is quoted or an attribution.
func quotedLines(lines []string) []bool {
	q := make([]bool, len(lines))
	depth := make([]int, len(lines))
	for i, l := range lines {
		depth[i] = quoteDepth(l)
	}
	for i := 0; i < len(lines); {
		if depth[i] == 0 {
			i++
			continue
		}
		j, shallow := i, false
		for ; j < len(lines) && depth[j] > 0; j++ {
			if depth[j] < 3 {
				shallow = true
			}
		}
		quoted := shallow
		if !quoted {
			if p := prevNonBlank(lines, i-1); p >= 0 && (depth[p] > 0 || matchAttribution(normLine(lines[p])) != attrNone) {
				quoted = true
			}
		}
		for k := i; k < j; k++ {
			q[k] = quoted
		}
		i = j
	}
	return q
}

func prevNonBlank(lines []string, i int) int {
	for ; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return i
		}
	}
	return -1
}

func nextNonBlank(lines []string, i int) int {
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return i
		}
	}
	return -1
}

// quoteFollows reports whether the first non-blank line from i on is quoted.
func quoteFollows(lines []string, q []bool, i int) bool {
	j := nextNonBlank(lines, i)
	return j >= 0 && q[j]
}

// inlineQuotesFollow reports whether the lines from i on are quoted lines
// interleaved with answers: the first non-blank line is quoted, and a
// non-quoted line that is no marker of its own follows some quoted line.
func inlineQuotesFollow(lines []string, q []bool, i int) bool {
	if !quoteFollows(lines, q, i) {
		return false
	}
	for j := nextNonBlank(lines, i); j < len(lines); j++ {
		t := normLine(lines[j])
		if t == "" || q[j] {
			continue
		}
		if lines[j] == "-- " || lines[j] == "--" || separatorKind(t) != sepNone || headerBlockAt(lines, q, j) > 0 {
			return false
		}
		n, _ := attributionAt(lines, q, j)
		return n == 0
	}
	return false
}

// normLine trims s and collapses runs of white space (including no-break
// spaces) to one ASCII space.
func normLine(s string) string {
	s = strings.TrimSpace(s)
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c >= utf8.RuneSelf || c == ' ' && i+1 < len(s) && s[i+1] == ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u00a0' || r == '\u202f' || r == '\u2007' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

type sepKindT int

const (
	sepNone sepKindT = iota
	sepOriginal
	sepForward
)

// separatorKind reports whether the normalised line t is an "Original
// Message" or forward separator line. The text must stand between runs of
// at least two dashes (or underscores or equals signs), or, for forwards,
// end with a colon ("Begin forwarded message:").
func separatorKind(t string) sepKindT {
	if len(t) < 6 {
		return sepNone
	}
	c := t[0]
	if c != '-' && c != '_' && c != '=' && c != '*' && !strings.HasSuffix(t, ":") && !strings.HasSuffix(t, "：") {
		// Cheap exit for ordinary lines; a forward line without dashes
		// ends with a colon.
		return sepNone
	}
	inner := strings.TrimLeft(t, "-_=* ")
	lead := len(t) - len(inner)
	trimmed := strings.TrimRight(inner, "-_=* ")
	trail := len(inner) - len(trimmed)
	colon := false
	if s, ok := strings.CutSuffix(trimmed, ":"); ok {
		trimmed, colon = strings.TrimSpace(s), true
	} else if s, ok := strings.CutSuffix(trimmed, "："); ok {
		trimmed, colon = strings.TrimSpace(s), true
	}
	if trimmed == "" || len(trimmed) > 120 {
		return sepNone
	}
	k, ok := quoteTab.separators[strings.ToLower(trimmed)]
	if !ok {
		return sepNone
	}
	dashes := lead >= 2 || trail >= 2
	switch {
	case k == sepForward && (dashes || colon):
		return sepForward
	case k == sepOriginal && dashes:
		return sepOriginal
	}
	return sepNone
}

type fieldKind int

const (
	fieldFrom fieldKind = iota + 1
	fieldDate
	fieldTo
	fieldSubject
	fieldCc
)

// labelOf returns the header field a normalised line starts with, as in
// "From: Jane", "*De :* Jane" or "发件人: Jane".
func labelOf(t string) fieldKind {
	s := strings.TrimLeft(t, "* ")
	end := 40
	if len(s) < end {
		end = len(s)
	}
	i := strings.IndexAny(s[:end], ":：")
	if i <= 0 {
		return 0
	}
	label := strings.ToLower(strings.TrimRight(s[:i], "* "))
	return quoteTab.labels[label]
}

// headerBlockAt returns the number of lines of the quote header block that
// starts at lines[i], or 0. The block starts with a From or Date field,
// runs to the next blank line (at most 12 lines, continuation lines
// allowed), and holds a From field plus a date, or From, To and Subject.
func headerBlockAt(lines []string, q []bool, i int) int {
	first := labelOf(normLine(lines[i]))
	if first != fieldFrom && first != fieldDate {
		return 0
	}
	var seen [fieldCc + 1]bool
	j := i
	for ; j < len(lines) && j < i+12 && !q[j]; j++ {
		t := normLine(lines[j])
		if t == "" {
			break
		}
		seen[labelOf(t)] = true
	}
	if seen[fieldFrom] && (seen[fieldDate] || seen[fieldTo] && seen[fieldSubject]) {
		return j - i
	}
	return 0
}

type attrMatch int

const (
	attrNone   attrMatch = iota
	attrWeak             // accepted with a time or address in it
	attrStrong           // accepted with any digit or an address in it
)

// matchAttribution reports whether the normalised text s has the shape of
// an attribution in one of the languages, and how strong the shape is.
func matchAttribution(s string) attrMatch {
	if !strings.HasSuffix(s, ":") && !strings.HasSuffix(s, "：") {
		return attrNone
	}
	l := strings.ToLower(s)
	best := attrNone
	for _, f := range quoteTab.forms {
		if f.matches(l) {
			if f.strong {
				return attrStrong
			}
			best = attrWeak
		}
	}
	if best == attrNone && isNumericAttribution(l) {
		best = attrWeak
	}
	return best
}

// isNumericAttribution matches the attribution Gmail writes in some
// languages without any word: a date and time, then the name and address,
// then a colon: "2014-03-20 8:48 GMT+01:00 Name <addr>:",
// "2024年2月5日(月) 10:00 Jane <jane@example.org>:",
// "пн, 5 февр. 2024 г. в 10:00, Jane <jane@example.org>:".
func isNumericAttribution(l string) bool {
	if !strings.HasSuffix(l, ">:") && !strings.HasSuffix(l, ">：") {
		return false
	}
	lt := strings.LastIndexByte(l, '<')
	return lt > 0 && strings.Contains(l[lt:], "@") && hasTime(l[:lt])
}

// hasTime reports whether s holds a clock time like 10:00, 10.00 or 10h00.
func hasTime(s string) bool {
	for i := 1; i+2 < len(s); i++ {
		if c := s[i]; (c == ':' || c == '.' || c == 'h') && isDigit(s[i-1]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
			return true
		}
	}
	return false
}

// attributionAt reports how many lines (1 to 3) at lines[i] form an
// attribution, or 0. When the attribution starts after new text on the
// same line ("Thanks!On Mon, … wrote:"), before is that text.
func attributionAt(lines []string, q []bool, i int) (n int, before string) {
	var joined string
	for k := 0; k < 3 && i+k < len(lines); k++ {
		if q[i+k] {
			break
		}
		t := normLine(lines[i+k])
		if t == "" {
			break
		}
		if k == 0 {
			joined = t
		} else {
			// A sentence ends here, unless the line holds a date whose
			// abbreviation ends in a dot ("2024. febr.").
			if p := joined[len(joined)-1]; p == '!' || p == '?' || p == '.' && !strings.ContainsAny(lines[i+k-1], "0123456789") {
				break
			}
			joined += " " + t
		}
		if len(joined) > maxAttributionLen {
			break
		}
		m := acceptAttribution(joined, lines, q, i+k+1)
		if m != attrNone && k > 0 && startsLater(lines, q, i, k) {
			// "Hello\n02.04.2012 14:20 Bob <\nbob@x> написал:": the
			// attribution starts on a later line; this one is text.
			return 0, ""
		}
		if m == attrStrong {
			return k + 1, ""
		} else if m == attrWeak && n == 0 {
			n = k + 1
		}
	}
	// New text on the same line as an attribution that starts with a
	// word: only with quoted lines below, where nothing else explains it.
	// This is tried before a weak match of the whole line, which would
	// take the new text for the name ("Thanks!On … wrote:").
	line := strings.TrimSpace(lines[i])
	if !quoteFollows(lines, q, i+1) {
		return n, ""
	}
	for _, start := range quoteTab.midStarts {
		for off := 1; off+len(start) < len(line); off++ {
			if !strings.EqualFold(line[off:off+len(start)], start) {
				continue
			}
			if prev := line[off-1]; prev != ' ' && prev != '.' && prev != '!' && prev != '?' && prev != ',' {
				continue
			}
			if rest := normLine(line[off:]); matchAttribution(rest) == attrStrong && (hasTime(rest) || strings.Contains(rest, "@")) {
				return 1, strings.TrimSpace(line[:off])
			}
		}
	}
	return n, ""
}

// startsLater reports whether lines[i+1..i+k] alone are an attribution
// with its date and time, so that lines[i] is not part of it.
func startsLater(lines []string, q []bool, i, k int) bool {
	parts := make([]string, 0, k)
	for j := i + 1; j <= i+k; j++ {
		parts = append(parts, normLine(lines[j]))
	}
	later := strings.Join(parts, " ")
	return hasTime(later) && acceptAttribution(later, lines, q, i+k+1) != attrNone
}

// acceptAttribution reports whether the normalised text s is an
// attribution whose quoted part would start at lines[next].
// It returns how strong the match is, attrNone when it is not one.
func acceptAttribution(s string, lines []string, q []bool, next int) attrMatch {
	m := matchAttribution(s)
	switch {
	case m == attrNone:
	case quoteFollows(lines, q, next):
		return m
	case m == attrStrong && strings.ContainsAny(s, "0123456789@"):
		return m
	case m == attrWeak && (hasTime(s) || strings.Contains(s, "@")):
		return m
	}
	return attrNone
}

// isAppSignature reports whether the normalised line t is the default
// signature of a mail app, with or without the link Outlook appends
// ("Get Outlook for iOS<https://aka.ms/o0ukef>").
func isAppSignature(t string) bool {
	if t == "" {
		return false
	}
	if i := strings.Index(t, "<http"); i > 0 && strings.HasSuffix(t, ">") {
		t = strings.TrimSpace(t[:i])
	} else if i := strings.Index(t, " http"); i > 0 && !strings.Contains(t[i+1:], " ") {
		t = strings.TrimSpace(t[:i])
	}
	t = strings.TrimRight(t, ".!。 ")
	if utf8.RuneCountInString(t) > 60 {
		return false
	}
	l := strings.ToLower(t)
	for _, s := range quoteTab.sigs {
		if strings.HasPrefix(l, s.prefix) && strings.HasSuffix(l, s.suffix) && utf8.RuneCountInString(l) <= s.max {
			return true
		}
	}
	return false
}

// trimSeparatorLine drops a "____" line (Outlook puts one above its header
// block) and blank lines from the end of kept.
func trimSeparatorLine(kept []string) []string {
	kept = trimBlankTail(kept)
	if n := len(kept); n > 0 {
		t := strings.TrimSpace(kept[n-1])
		if len(t) >= 10 && (strings.Trim(t, "_") == "" || strings.Trim(t, "-") == "" || strings.Trim(t, "=") == "") {
			kept = trimBlankTail(kept[:n-1])
		}
	}
	return kept
}

func trimBlankTail(kept []string) []string {
	for len(kept) > 0 && strings.TrimSpace(kept[len(kept)-1]) == "" {
		kept = kept[:len(kept)-1]
	}
	return kept
}

// squeezeBlankLines collapses runs of blank lines, which dropping quoted
// lines leaves behind, into one.
func squeezeBlankLines(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if strings.TrimSpace(l) == "" && len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// compiledForm is an attrForm lowercased for matching.
type compiledForm struct {
	starts, contains, ends []string
	strong                 bool
}

func (f compiledForm) matches(l string) bool {
	return anyOf(f.starts, func(s string) bool { return strings.HasPrefix(l, s) }) &&
		anyOf(f.contains, func(s string) bool { return strings.Contains(l, s) }) &&
		anyOf(f.ends, func(s string) bool { return strings.HasSuffix(l, s) })
}

// anyOf is true for an empty list, else when ok holds for one element.
func anyOf(list []string, ok func(string) bool) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if ok(s) {
			return true
		}
	}
	return false
}

// quoteTables is quoteLangs compiled for lookup.
type quoteTables struct {
	forms      []compiledForm
	labels     map[string]fieldKind
	separators map[string]sepKindT
	sigs       []sigForm
	midStarts  []string // ASCII start words of attributions, for mid-line matches
}

var quoteTab = compileQuoteLangs(quoteLangs)

func compileQuoteLangs(langs []quoteLang) quoteTables {
	t := quoteTables{labels: map[string]fieldKind{}, separators: map[string]sepKindT{}}
	lower := func(l []string) []string {
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = strings.ToLower(normLine(s))
			if strings.HasSuffix(s, " ") {
				out[i] += " "
			}
			if strings.HasPrefix(s, " ") {
				out[i] = " " + out[i]
			}
		}
		return out
	}
	seenStart := map[string]bool{}
	for _, lang := range langs {
		for _, f := range lang.attributions {
			t.forms = append(t.forms, compiledForm{starts: lower(f.starts), contains: lower(f.contains),
				ends: lower(f.ends), strong: len(f.starts) > 0 || len(f.contains) > 0})
			for _, s := range f.starts {
				if isASCII(s) && !seenStart[s] {
					seenStart[s] = true
					t.midStarts = append(t.midStarts, s)
				}
			}
		}
		for kind, labels := range map[fieldKind][]string{fieldFrom: lang.from, fieldDate: lang.date,
			fieldTo: lang.to, fieldSubject: lang.subject, fieldCc: lang.cc} {
			for _, l := range lower(labels) {
				// A label that means From in one language and something
				// else in another keeps the first meaning ("Da").
				if _, dup := t.labels[l]; !dup {
					t.labels[l] = kind
				}
			}
		}
		for _, s := range lower(lang.originals) {
			t.separators[s] = sepOriginal
		}
		for _, s := range lower(lang.forwards) {
			t.separators[s] = sepForward
		}
		for _, s := range lang.signatures {
			t.sigs = append(t.sigs, sigForm{prefix: strings.ToLower(s.prefix), suffix: strings.ToLower(s.suffix), max: s.max})
		}
	}
	return t
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
