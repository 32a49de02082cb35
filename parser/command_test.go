package parser

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCommands(t *testing.T) {
	const pre = "Re: [CS-2026-0001] New report: XSS in login "
	tests := []struct {
		name    string
		subject string
		set     CommandSet
		want    []Command
		errs    []string // each must appear in the error; nil means no error
	}{
		{name: "no keyword", subject: "Re: [CS-2026-0001] New report: bug 42"},
		{name: "empty", subject: ""},
		{name: "hash number is no keyword", subject: "Re: issue #42 and # alone"},
		{
			name:    "reply",
			subject: pre + "#reply",
			want:    []Command{{Keyword: "reply"}},
		},
		{
			name:    "keyword first, case-insensitive",
			subject: "#NOTE",
			want:    []Command{{Keyword: "note"}},
		},
		{
			name:    "assess and reward",
			subject: pre + "#assess High 2027-01-15 #reward 250",
			want: []Command{
				{Keyword: "assess", Args: []string{"high", "2027-01-15"}},
				{Keyword: "reward", Args: []string{"250"}},
			},
		},
		{
			name:    "reward with currency",
			subject: "#reward 0250 eur",
			want:    []Command{{Keyword: "reward", Args: []string{"250", "EUR"}}},
		},
		{
			name:    "all staff keywords with args",
			subject: pre + "#reject Out-Of-Scope #duplicate cs-2026-00012 #credit  Jane   van  Dijk #publish 2027-02-01 #thirdparty Owner@Example.ORG #progress #info #resolved #close",
			want: []Command{
				{Keyword: "reject", Args: []string{"out-of-scope"}},
				{Keyword: "duplicate", Args: []string{"CS-2026-00012"}},
				{Keyword: "credit", Args: []string{"Jane van Dijk"}},
				{Keyword: "publish", Args: []string{"2027-02-01"}},
				{Keyword: "thirdparty", Args: []string{"Owner@example.org"}},
				{Keyword: "progress"},
				{Keyword: "info"},
				{Keyword: "resolved"},
				{Keyword: "close"},
			},
		},
		{
			name:    "preamble hash token is skipped, numbers between keywords ignored",
			subject: "Re: bug #12 #nocredit #7 #nopublish",
			want:    []Command{{Keyword: "nocredit"}, {Keyword: "nopublish"}},
		},
		{
			name:    "keyword glued to a word is no keyword",
			subject: "Re: foo#reply",
		},
		{
			name:    "reporter keywords",
			subject: "Re: [CS-2026-0001] Your report #status #share #credit Jane Doe",
			set:     ReporterCommands,
			want: []Command{
				{Keyword: "status"},
				{Keyword: "share"},
				{Keyword: "credit", Args: []string{"Jane Doe"}},
			},
		},
		{
			name:    "reporter anonymous",
			subject: "#anonymous",
			set:     ReporterCommands,
			want:    []Command{{Keyword: "anonymous"}},
		},
		{
			name:    "staff keyword is unknown to reporters",
			subject: "#close",
			set:     ReporterCommands,
			errs:    []string{"#close: unknown keyword"},
		},
		{
			name:    "reporter keyword is unknown to staff",
			subject: "#anonymous",
			errs:    []string{"#anonymous: unknown keyword"},
		},
		{
			name:    "unknown keyword refuses all",
			subject: pre + "#reply #frobnicate",
			errs:    []string{"#frobnicate: unknown keyword"},
		},
		{
			name:    "typo with hyphen is unknown, not an argument",
			subject: "#credit Jane #no-publish",
			errs:    []string{"#no-publish: unknown keyword"},
		},
		{
			name:    "bad severity and date, both reported",
			subject: "#assess hihg 2027-13-01",
			errs: []string{
				`#assess: severity "hihg" is not one of none low medium high critical`,
				`#assess: date "2027-13-01" is not a valid YYYY-MM-DD date`,
			},
		},
		{
			name:    "assess missing date",
			subject: "#assess high",
			errs:    []string{"#assess: missing argument, want SEVERITY YYYY-MM-DD"},
		},
		{
			name:    "assess extra arg",
			subject: "#assess high 2027-01-15 soon",
			errs:    []string{`#assess: too many arguments "high 2027-01-15 soon"`},
		},
		{
			name:    "no-arg keyword with args",
			subject: "#reply please",
			errs:    []string{`#reply: takes no arguments, got "please"`},
		},
		{
			name:    "bad reject reason",
			subject: "#reject wontfix",
			errs:    []string{`#reject: reason "wontfix" is not one of out-of-scope not-a-vulnerability known`},
		},
		{
			name:    "bad case id",
			subject: "#duplicate 2026-0001",
			errs:    []string{`#duplicate: "2026-0001" is not a case id`},
		},
		{
			name:    "case id too short sequence",
			subject: "#duplicate CS-2026-001",
			errs:    []string{`#duplicate: "CS-2026-001" is not a case id`},
		},
		{
			name:    "reward not a number",
			subject: "#reward 1,000 #reward -5",
			errs: []string{
				`#reward: amount "1,000" is not a positive whole number`,
				`#reward: amount "-5" is not a positive whole number`,
				"#reward: given more than once",
			},
		},
		{
			name:    "reward zero, bad currency",
			subject: "#reward 0 euros",
			errs: []string{
				`#reward: amount "0" is not a positive whole number`,
				`#reward: "euros" is not a currency code`,
			},
		},
		{
			name:    "reward too big",
			subject: "#reward 99999999999999999999999",
			errs:    []string{`is not a positive whole number`},
		},
		{
			name:    "reward missing",
			subject: "#reward",
			errs:    []string{"#reward: missing argument, want AMOUNT [CURRENCY]"},
		},
		{
			name:    "reward too many",
			subject: "#reward 250 EUR now",
			errs:    []string{`#reward: too many arguments "250 EUR now"`},
		},
		{
			name:    "credit without name",
			subject: "#credit #reply",
			errs:    []string{"#credit: missing argument, want NAME"},
		},
		{
			name:    "bad publish date",
			subject: "#publish 15-01-2027",
			errs:    []string{`#publish: date "15-01-2027" is not a valid YYYY-MM-DD date`},
		},
		{
			name:    "thirdparty display-name form",
			subject: "#thirdparty <owner@example.org>",
			errs:    []string{`#thirdparty: "<owner@example.org>" is not a bare mail address`},
		},
		{
			name:    "thirdparty not an address",
			subject: "#thirdparty example.org",
			errs:    []string{`#thirdparty: "example.org" is not a bare mail address`},
		},
		{
			name:    "thirdparty missing",
			subject: "#thirdparty",
			errs:    []string{"#thirdparty: missing argument, want OWNER-ADDRESS"},
		},
		{
			name:    "duplicate keyword",
			subject: "#reply #note #REPLY",
			errs:    []string{"#reply: given more than once"},
		},
		{
			name:    "conflicts",
			subject: "#credit Jane #nocredit #publish 2027-01-01 #nopublish #close #reopen",
			errs: []string{
				"#credit and #nocredit contradict each other",
				"#publish and #nopublish contradict each other",
				"#close and #reopen contradict each other",
			},
		},
		{
			name:    "reporter conflict",
			subject: "#credit Jane #anonymous",
			set:     ReporterCommands,
			errs:    []string{"#credit and #anonymous contradict each other"},
		},
		{
			name:    "unknown set",
			subject: "#reply",
			set:     CommandSet(7),
			errs:    []string{"unknown command set 7"},
		},
		{
			name:    "problems are capped",
			subject: strings.Repeat("#x ", 50),
			errs:    []string{"#x: unknown keyword", "and 30 more problems"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommands(tc.subject, tc.set)
			if tc.errs == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %#v, want %#v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, got %#v", got)
			}
			if got != nil {
				t.Errorf("commands returned with an error: %#v", got)
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not contain %q", err, e)
				}
			}
		})
	}
}

func TestParseCommandsErrorLines(t *testing.T) {
	_, err := ParseCommands("Re: x #assess hihg 2027-01-15 #frobnicate", StaffCommands)
	want := "#assess: severity \"hihg\" is not one of none low medium high critical\n#frobnicate: unknown keyword"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestKeywordHelp(t *testing.T) {
	for _, tc := range []struct {
		set  CommandSet
		want []string
	}{
		{StaffCommands, []string{"#reply ", "#assess SEVERITY YYYY-MM-DD ", "#reject REASON ", "#duplicate CASE-ID ",
			"#reward AMOUNT [CURRENCY] ", "#credit NAME ", "#publish YYYY-MM-DD ", "#thirdparty OWNER-ADDRESS ", "#reopen "}},
		{ReporterCommands, []string{"#status ", "#credit NAME ", "#anonymous ", "#share "}},
	} {
		help := KeywordHelp(tc.set)
		lines := strings.Split(strings.TrimSuffix(help, "\n"), "\n")
		if want := len(keywordsOf(tc.set)); len(lines) != want {
			t.Errorf("set %d: %d lines, want %d:\n%s", tc.set, len(lines), want, help)
		}
		for _, w := range tc.want {
			if !strings.Contains(help, w) {
				t.Errorf("set %d: help lacks %q:\n%s", tc.set, w, help)
			}
		}
	}
	if KeywordHelp(CommandSet(9)) != "" {
		t.Error("help for an unknown set")
	}
}

// TestKeywordHelpMatchesParser makes sure every keyword the help lists is
// accepted by the parser with the example arguments.
func TestKeywordHelpMatchesParser(t *testing.T) {
	examples := map[string]string{
		"SEVERITY YYYY-MM-DD": "low 2027-01-01",
		"REASON":              "known",
		"CASE-ID":             "CS-2026-0001",
		"AMOUNT [CURRENCY]":   "100 EUR",
		"NAME":                "Jane",
		"YYYY-MM-DD":          "2027-01-01",
		"OWNER-ADDRESS":       "owner@example.org",
	}
	for _, set := range []CommandSet{StaffCommands, ReporterCommands} {
		for _, s := range keywordsOf(set) {
			subject := "#" + s.name
			if s.syntax != "" {
				subject += " " + examples[s.syntax]
			}
			if _, err := ParseCommands(subject, set); err != nil {
				t.Errorf("%q: %v", subject, err)
			}
		}
	}
}

func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{
		"Re: [CS-2026-0001] New report: XSS #assess high 2027-01-15 #reward 250",
		"#credit Jane van Dijk #nocredit",
		"#thirdparty owner@example.org #duplicate cs-2026-0001",
		"#reward 250 eur #publish 2027-02-30",
		"# #42 #é #reply\u00a0#note",
		"#status #share #anonymous",
		"#reject known #close #reopen",
		"\xff#reply\xfe",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, subject string, reporter bool) {
		set := StaffCommands
		if reporter {
			set = ReporterCommands
		}
		cmds, err := ParseCommands(subject, set)
		if err != nil {
			if cmds != nil {
				t.Fatal("commands with an error")
			}
			if len(strings.Split(err.Error(), "\n")) > maxCommandProblems+1 {
				t.Fatal("too many problems reported")
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range cmds {
			if _, ok := lookupKeyword(keywordsOf(set), c.Keyword); !ok {
				t.Fatalf("unknown keyword %q accepted", c.Keyword)
			}
			if seen[c.Keyword] {
				t.Fatalf("keyword %q twice", c.Keyword)
			}
			seen[c.Keyword] = true
			for _, a := range c.Args {
				if a == "" || !utf8.ValidString(a) {
					t.Fatalf("bad argument %q", a)
				}
			}
		}
	})
}
