package parser

// Cutting quoted text from replies (SPEC §5: "the text they write above
// any quoted part is the message; quoted text and signatures are cut").
//
// Mail clients mark the start of the quoted message in a handful of ways,
// and StripQuoted recognises the common ones in the languages the
// programme works in (English, Dutch, and German and French attributions):
//
//	Gmail, Apple Mail, Thunderbird  "On <date>, <name> wrote:" then "> " lines
//	                                (Gmail may wrap the attribution over two lines)
//	Apple Mail (nl)                 "Op <date> heeft <name> het volgende geschreven:"
//	Outlook desktop (plain text)    "-----Original Message-----"
//	Outlook desktop/web, new        "From: ..." followed by "Sent: ..."/"Date: ...",
//	                                often after a "____...____" line
//
// The heuristics lean towards keeping text: a line is taken as an
// attribution only when it looks like one (a digit from the date, or
// quoted lines right after it), and quoted lines interleaved with answers
// are dropped while the answers are kept. Losing part of a staff answer is
// worse than showing a stray line of quote.

import (
	"regexp"
	"strings"
	"unicode"
)

// attributionRes match the line a client writes above a quoted message.
// They are applied to one line, or to two lines joined by a space.
var attributionRes = []*regexp.Regexp{
	regexp.MustCompile(`^On\s.*\swrote\s?:$`),                                       // en
	regexp.MustCompile(`^Op\s.*\sschreef(\s.*)?:$`),                                 // nl
	regexp.MustCompile(`^Op\s.*\shet volgende geschreven\s?:$`),                     // nl, Apple Mail
	regexp.MustCompile(`^Am\s.*\sschrieb(\s.*)?:$`),                                 // de
	regexp.MustCompile(`^Le\s.*[\s\x{a0}]a[\s\x{a0}][ée]crit[\s\x{a0}\x{202f}]?:$`), // fr, often with a no-break space
}

// originalMessageRe matches the separator Outlook and others put above a
// quoted message in plain text.
var originalMessageRe = regexp.MustCompile(`(?i)^-{2,}\s*(original message|oorspronkelijk bericht|ursprüngliche nachricht|message d'origine)\s*-{2,}$`)

// headerFromRe and headerSentRe match the first lines of the header block
// Outlook writes above a quoted message. The optional asterisks are bold
// markup left by HTML-to-text conversion ("*From:* Jane").
var (
	headerFromRe = regexp.MustCompile(`(?i)^\*?(from|van|von)\s?:`)
	headerSentRe = regexp.MustCompile(`(?i)^\*?(sent|date|verzonden|datum|gesendet)\s?:`)
)

// mobileSignatureRe matches the line mobile clients append by default.
var mobileSignatureRe = regexp.MustCompile(`(?i)^(sent from my (iphone|ipad|android\b.*|mobile\b.*)|(verzonden|verstuurd) (vanaf|met) mijn (iphone|ipad)|(sent from|get) outlook for (ios|android)|von meinem (iphone|ipad) gesendet|envoyé de mon (iphone|ipad))\.?$`)

// maxAttributionLen bounds an attribution split over two lines, so that
// two lines of prose that happen to start with "On" and end with "wrote:"
// are not mistaken for one.
const maxAttributionLen = 300

// StripQuoted returns the text a person wrote above the quoted part of a
// reply, with leading and trailing white space trimmed. Line endings are
// normalised to LF first.
//
// The text is cut at the first of:
//   - an attribution line "On ... wrote:" (or Dutch "Op ... schreef ...:",
//     German "Am ... schrieb ...:", French "Le ... a écrit :"), also when
//     a client wrapped it over two lines;
//   - a separator line "-----Original Message-----" in any case and
//     spacing, or its Dutch, German or French form;
//   - an Outlook header block: a line "From:" or "Van:" followed within
//     four lines by "Sent:", "Date:" or "Verzonden:", together with a
//     "____" separator line right above it;
//   - a signature separator line "-- " or "--";
//   - quoted lines (starting with '>') with no answer below them.
//
// Quoted lines interleaved with answers (inline replies) are dropped and
// the answers kept; an attribution line directly above such inline quotes
// is dropped too instead of cutting there. Finally a trailing "Sent from
// my iPhone" line (or its Dutch and other common forms) is dropped.
//
// The result is made of lines of the input, so it is never longer than
// the normalised input.
func StripQuoted(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")

	var kept []string
	dropped := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if isQuotedLine(line) {
			dropped = true
			continue
		}
		if n := cutMarker(lines, i); n > 0 {
			if !isAttribution(lines, i) || !inlineQuotesFollow(lines, i+n) {
				kept = trimSeparatorLine(kept)
				break
			}
			// An attribution above inline answers: drop it, keep going.
			i += n - 1
			dropped = true
			continue
		}
		kept = append(kept, line)
	}

	if dropped {
		kept = squeezeBlankLines(kept)
	}
	kept = trimBlankTail(kept)
	for len(kept) > 0 && mobileSignatureRe.MatchString(strings.TrimSpace(kept[len(kept)-1])) {
		kept = trimBlankTail(kept[:len(kept)-1])
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

// isQuotedLine reports whether line is quoted with '>', allowing a little
// indentation.
func isQuotedLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), ">")
}

// cutMarker reports how many lines at lines[i] form a marker of the
// quoted part (attribution, separator, header block, signature
// separator), or 0 if there is none.
func cutMarker(lines []string, i int) int {
	line := lines[i]
	if line == "-- " || line == "--" {
		return 1
	}
	t := strings.TrimSpace(line)
	if t == "" {
		return 0
	}
	if originalMessageRe.MatchString(t) || isHeaderBlock(lines, i) {
		return 1
	}
	return attributionLines(lines, i)
}

// isAttribution reports whether lines[i] starts an attribution line.
func isAttribution(lines []string, i int) bool {
	return attributionLines(lines, i) > 0
}

// attributionLines returns 1 or 2 when lines[i] (or lines[i] and
// lines[i+1]) are an attribution, else 0.
func attributionLines(lines []string, i int) int {
	t := strings.TrimSpace(lines[i])
	if !hasAttributionStart(t) {
		return 0
	}
	next := nextNonBlank(lines, i+1)
	quoteFollows := next >= 0 && isQuotedLine(lines[next])
	if matchAttribution(t) && (quoteFollows || strings.ContainsAny(t, "0123456789")) {
		return 1
	}
	if i+1 >= len(lines) || strings.HasSuffix(t, ".") || strings.HasSuffix(t, "!") || strings.HasSuffix(t, "?") {
		return 0
	}
	t2 := strings.TrimSpace(lines[i+1])
	joined := t + " " + t2
	if t2 == "" || len(joined) > maxAttributionLen || !matchAttribution(joined) {
		return 0
	}
	next = nextNonBlank(lines, i+2)
	quoteFollows = next >= 0 && isQuotedLine(lines[next])
	if quoteFollows || strings.ContainsAny(joined, "0123456789") {
		return 2
	}
	return 0
}

// hasAttributionStart is a cheap filter before the regular expressions.
func hasAttributionStart(t string) bool {
	for _, p := range []string{"On", "Op", "Am", "Le"} {
		if rest, ok := strings.CutPrefix(t, p); ok && rest != "" && unicode.IsSpace(rune(rest[0])) {
			return true
		}
	}
	return false
}

func matchAttribution(s string) bool {
	for _, re := range attributionRes {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// isHeaderBlock reports whether lines[i] is a "From:" line followed within
// four lines by a "Sent:" or "Date:" line.
func isHeaderBlock(lines []string, i int) bool {
	if !headerFromRe.MatchString(strings.TrimSpace(lines[i])) {
		return false
	}
	for j := i + 1; j < len(lines) && j <= i+4; j++ {
		if headerSentRe.MatchString(strings.TrimSpace(lines[j])) {
			return true
		}
	}
	return false
}

// inlineQuotesFollow reports whether the lines from i on are quoted lines
// interleaved with answers: the first non-blank line is quoted, and a
// non-quoted line that is no marker of its own follows some quoted line.
func inlineQuotesFollow(lines []string, i int) bool {
	j := nextNonBlank(lines, i)
	if j < 0 || !isQuotedLine(lines[j]) {
		return false
	}
	for ; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) == "" || isQuotedLine(lines[j]) {
			continue
		}
		return cutMarker(lines, j) == 0
	}
	return false
}

func nextNonBlank(lines []string, i int) int {
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return i
		}
	}
	return -1
}

// trimSeparatorLine drops a "____" line (Outlook puts one above its header
// block) and blank lines from the end of kept.
func trimSeparatorLine(kept []string) []string {
	kept = trimBlankTail(kept)
	if n := len(kept); n > 0 {
		t := strings.TrimSpace(kept[n-1])
		if len(t) >= 10 && strings.Trim(t, "_") == "" {
			kept = kept[:n-1]
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
