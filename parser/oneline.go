package parser

import "strings"

// oneLine replaces the line breaks a decoded header value may carry (an
// encoded word can hold CR and LF, RFC 2047 §5 notwithstanding) with
// spaces: a subject or a name is one line wherever it is shown or put
// into a header, and a bare CR would let it overwrite itself on a
// terminal or in a mail client.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
