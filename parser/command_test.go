package parser

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitCommands(t *testing.T) {
	const pre = "Re: [CS-2026-0001] New report: XSS in login "
	tests := []struct {
		name    string
		subject string
		want    []Command
	}{
		{name: "no keyword", subject: "Re: [CS-2026-0001] New report: bug 42"},
		{name: "empty", subject: ""},
		{name: "hash number is no keyword", subject: "Re: issue #42 and # alone"},
		{name: "reply", subject: pre + "#reply", want: []Command{{Keyword: "reply", Written: "reply"}}},
		{name: "keyword first, case-insensitive", subject: "#NOTE", want: []Command{{Keyword: "note", Written: "NOTE"}}},
		{
			name:    "arguments up to the next keyword, as written",
			subject: pre + "#assess High 2027-01-15 #reward 250  eur",
			want: []Command{
				{Keyword: "assess", Written: "assess", Args: []string{"High", "2027-01-15"}},
				{Keyword: "reward", Written: "reward", Args: []string{"250", "eur"}},
			},
		},
		{
			name:    "preamble hash token is skipped, numbers between keywords ignored",
			subject: "Re: bug #12 #nocredit #7 #nopublish",
			want:    []Command{{Keyword: "nocredit", Written: "nocredit"}, {Keyword: "nopublish", Written: "nopublish"}},
		},
		{name: "keyword glued to a word is no keyword", subject: "Re: foo#reply"},
		{
			name:    "a typo with a hyphen is a keyword, not an argument",
			subject: "#credit Jane #no-publish",
			want: []Command{{Keyword: "credit", Written: "credit", Args: []string{"Jane"}},
				{Keyword: "no-publish", Written: "no-publish"}},
		},
		{name: "unknown words are split too", subject: "#Frobnicate x", want: []Command{{Keyword: "frobnicate", Written: "Frobnicate", Args: []string{"x"}}}},
		{name: "invalid UTF-8 is replaced", subject: "#reply \xff", want: []Command{{Keyword: "reply", Written: "reply", Args: []string{"\uFFFD"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitCommands(tc.subject); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func FuzzSplitCommands(f *testing.F) {
	for _, s := range []string{
		"Re: [CS-2026-0001] New report: XSS #assess high 2027-01-15 #reward 250",
		"#credit Jane van Dijk #nocredit",
		"#thirdparty owner@example.org #duplicate cs-2026-0001",
		"# #42 #é #reply\u00a0#note",
		"#status #share #anonymous #noshare",
		"\xff#reply\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		for _, c := range SplitCommands(subject) {
			if c.Keyword == "" || c.Keyword != strings.ToLower(c.Written) || !utf8.ValidString(c.Written) {
				t.Fatalf("bad keyword %q (%q)", c.Keyword, c.Written)
			}
			for _, a := range c.Args {
				if a == "" || !utf8.ValidString(a) || strings.HasPrefix(a, "#") {
					t.Fatalf("bad argument %q", a)
				}
			}
		}
	})
}
