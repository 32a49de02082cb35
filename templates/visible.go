package templates

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"
)

// Visible makes characters that change how text displays without being
// seen into visible markers like "[U+202E]", so that what staff read is
// what the sender wrote (the "Trojan Source" problem, CVE-2021-42574):
//
//   - bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E,
//     U+200F, U+061C), which reorder what follows them;
//   - zero-width and other format characters (U+200B-U+200D, U+2060-U+2064,
//     U+FEFF, the tag characters U+E0000-U+E007F, soft hyphen; Unicode
//     category Cf), which hide text or split words that filters look for;
//   - line and paragraph separators (U+2028, U+2029), and control
//     characters other than tab and newline, including a bare carriage
//     return (CRLF becomes LF first).
//
// Everything else, all scripts and emoji included, passes unchanged.
func Visible(s string) string {
	if !strings.ContainsFunc(s, invisible) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		if invisible(r) {
			fmt.Fprintf(&b, "[U+%04X]", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func invisible(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// visibleData applies Visible to every string of d, in place. Data holds
// only strings, string slices, ints and bools.
func visibleData(d *Data) {
	v := reflect.ValueOf(d).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(Visible(f.String()))
		case reflect.Slice:
			if f.Type().Elem().Kind() != reflect.String {
				continue
			}
			n := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			for j := 0; j < f.Len(); j++ {
				n.Index(j).SetString(Visible(f.Index(j).String()))
			}
			f.Set(n)
		}
	}
}
