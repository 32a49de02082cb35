package parser

import (
	"strings"
	"unicode"
)

// Language detection picks the language of the reporter's templates (SPEC
// §4). Only English and Dutch are shipped, so counting common words is
// enough; quoted lines (">") are skipped because they are usually ours.

var nlWords = setOf("de het een en van ik je niet dat is op te zijn er met voor wij jullie uw " +
	"kwetsbaarheid beveiliging lek gevonden bedankt groet groeten graag hierbij heb hebben " +
	"deze dit ook maar bij naar als wordt kunnen uw website melding")

var enWords = setOf("the and of to is in that it you we for with vulnerability found regards " +
	"thanks this are be have your on please our an can which would by")

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// maxLangBytes bounds the text looked at.
const maxLangBytes = 64 << 10

// detectLanguage returns "nl", "en" or "" when the evidence is too thin.
func detectLanguage(subject, text string) string {
	s := subject + "\n" + truncateUTF8(text, maxLangBytes)
	var nl, en int
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), ">") {
			continue
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
			return !unicode.IsLetter(r) && r != '\''
		}) {
			w = strings.Trim(w, "'")
			// "is" and "in" are common to both; they still count, the
			// distinctive words decide.
			if nlWords[w] {
				nl++
			}
			if enWords[w] {
				en++
			}
		}
	}
	switch {
	case nl >= 3 && nl > en*5/4:
		return "nl"
	case en >= 3 && en > nl*5/4:
		return "en"
	}
	return ""
}
