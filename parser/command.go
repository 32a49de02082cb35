package parser

// Subject-line commands (SPEC §5).
//
// Staff steer a case by putting keywords in the subject of a reply, and
// reporters have a few of their own. The grammar is deliberately small: a
// keyword is a whitespace-delimited token "#word" whose word begins with a
// letter; the tokens after it, up to the next keyword or the end, are its
// arguments. Everything before the first keyword is the subject the mail
// client made ("Re: [CS-2026-0001] New report: ...") and is ignored.
//
// This file only splits a subject into keywords and argument tokens. Which
// keywords exist, who may use them and what their arguments must look
// like is the workflow's business: each keyword is one entry there.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Command is one keyword from a subject line with its argument tokens.
type Command struct {
	// Keyword is the keyword in lower case, without the leading '#'.
	Keyword string
	// Written is the keyword as written, without the '#', for messages.
	Written string
	// Args are the tokens after the keyword, up to the next keyword.
	Args []string
}

// SplitCommands returns the keywords of a subject line with their
// arguments, in the order they appear.
//
// A keyword is a token "#word" (case-insensitive) at the start of the
// subject or after whitespace, where word begins with a letter; tokens
// such as "#42" or a lone "#" are no keywords and are skipped. Everything
// before the first keyword is ignored. A subject without any keyword
// yields nil. Invalid UTF-8 is replaced, so every Written and Args is valid.
func SplitCommands(subject string) []Command {
	if !utf8.ValidString(subject) {
		subject = strings.ToValidUTF8(subject, "\uFFFD")
	}
	var found []Command
	for _, tok := range strings.Fields(subject) {
		if word, ok := keywordToken(tok); ok {
			found = append(found, Command{Keyword: strings.ToLower(word), Written: word})
			continue
		}
		if len(found) == 0 || strings.HasPrefix(tok, "#") {
			continue // preamble, or a "#42"-like token
		}
		last := &found[len(found)-1]
		last.Args = append(last.Args, tok)
	}
	return found
}

// keywordToken reports whether tok is a keyword token, and returns its
// word without the '#'. The word must start with a letter; any other
// character in it makes it an unknown keyword later, so that a typo such
// as "#no-credit" is refused rather than silently taken as an argument.
func keywordToken(tok string) (string, bool) {
	word, ok := strings.CutPrefix(tok, "#")
	if !ok || word == "" {
		return "", false
	}
	r, _ := utf8.DecodeRuneInString(word)
	if !unicode.IsLetter(r) {
		return "", false
	}
	return word, true
}
