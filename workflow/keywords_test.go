package workflow

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"disclosured/store"
)

// cmdWant is a parsed command as a test writes it.
type cmdWant struct {
	Keyword string
	Args    []string
}

func TestParseCommands(t *testing.T) {
	const pre = "Re: [CS-2026-0001] New report: XSS in login "
	tests := []struct {
		name    string
		subject string
		who     audience
		want    []cmdWant
		errs    []string // each must appear in the error; nil means no error
	}{
		{name: "no keyword", subject: "Re: [CS-2026-0001] New report: bug 42"},
		{name: "empty", subject: ""},
		{name: "hash number is no keyword", subject: "Re: issue #42 and # alone"},
		{
			name:    "reply",
			subject: pre + "#reply",
			want:    []cmdWant{{Keyword: "reply"}},
		},
		{
			name:    "keyword first, case-insensitive",
			subject: "#NOTE",
			want:    []cmdWant{{Keyword: "note"}},
		},
		{
			name:    "assess and reward",
			subject: pre + "#assess High 2027-01-15 #reward 250",
			want: []cmdWant{
				{Keyword: "assess", Args: []string{"high", "2027-01-15"}},
				{Keyword: "reward", Args: []string{"250"}},
			},
		},
		{
			name:    "reward with currency",
			subject: "#reward 0250 eur",
			want:    []cmdWant{{Keyword: "reward", Args: []string{"250", "EUR"}}},
		},
		{
			name:    "all staff keywords with args",
			subject: pre + "#reject Out-Of-Scope #duplicate cs-2026-00012 #credit  Jane   van  Dijk #publish 2027-02-01 #thirdparty Owner@Example.ORG #progress #info #resolved #close",
			want: []cmdWant{
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
			want:    []cmdWant{{Keyword: "nocredit"}, {Keyword: "nopublish"}},
		},
		{
			name:    "keyword glued to a word is no keyword",
			subject: "Re: foo#reply",
		},
		{
			name:    "reporter keywords",
			subject: "Re: [CS-2026-0001] Your report #status #share #credit Jane Doe",
			who:     byReporter,
			want: []cmdWant{
				{Keyword: "status"},
				{Keyword: "share"},
				{Keyword: "credit", Args: []string{"Jane Doe"}},
			},
		},
		{
			name:    "reporter noshare",
			subject: "Re: [CS-2026-0001] #noshare",
			who:     byReporter,
			want:    []cmdWant{{Keyword: "noshare"}},
		},
		{
			name:    "reporter share and noshare contradict",
			subject: "#share #noshare",
			who:     byReporter,
			errs:    []string{"#share and #noshare contradict each other"},
		},
		{
			name:    "reporter anonymous",
			subject: "#anonymous",
			who:     byReporter,
			want:    []cmdWant{{Keyword: "anonymous"}},
		},
		{
			name:    "staff keyword is unknown to reporters",
			subject: "#close",
			who:     byReporter,
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
			who:     byReporter,
			errs:    []string{"#credit and #anonymous contradict each other"},
		},
		{
			name:    "problems are capped",
			subject: strings.Repeat("#x ", 50),
			errs:    []string{"#x: unknown keyword", "and 30 more problems"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := parseCommands(tc.subject, tc.who)
			if tc.errs == nil {
				if problems != nil {
					t.Fatalf("unexpected problems: %q", problems)
				}
				var gotW []cmdWant
				for _, c := range got {
					gotW = append(gotW, cmdWant{Keyword: c.kw.name, Args: c.args})
				}
				if !reflect.DeepEqual(gotW, tc.want) {
					t.Fatalf("got %#v, want %#v", gotW, tc.want)
				}
				return
			}
			if problems == nil {
				t.Fatalf("no problems, got %#v", got)
			}
			if got != nil {
				t.Errorf("commands returned with problems: %#v", got)
			}
			all := strings.Join(problems, "\n")
			for _, e := range tc.errs {
				if !strings.Contains(all, e) {
					t.Errorf("problems %q do not contain %q", all, e)
				}
			}
		})
	}
}

func TestParseCommandsProblemLines(t *testing.T) {
	_, problems := parseCommands("Re: x #assess hihg 2027-01-15 #frobnicate", byStaff)
	want := []string{`#assess: severity "hihg" is not one of none low medium high critical`, "#frobnicate: unknown keyword"}
	if !reflect.DeepEqual(problems, want) {
		t.Fatalf("got %q, want %q", problems, want)
	}
}

func TestKeywordHelp(t *testing.T) {
	for _, tc := range []struct {
		who  audience
		want []string
	}{
		{byStaff, []string{"#reply ", "#assess SEVERITY YYYY-MM-DD ", "#reject REASON ", "#duplicate CASE-ID ",
			"#reward AMOUNT [CURRENCY] ", "#credit NAME ", "#publish YYYY-MM-DD ", "#thirdparty OWNER-ADDRESS ", "#reopen "}},
		{byReporter, []string{"#status ", "#credit NAME ", "#anonymous ", "#share ", "#noshare "}},
	} {
		help := keywordHelp(tc.who)
		lines := strings.Split(strings.TrimSuffix(help, "\n"), "\n")
		n := 0
		for _, kw := range keywords {
			if kw.who == tc.who {
				n++
			}
		}
		if len(lines) != n {
			t.Errorf("audience %d: %d lines, want %d:\n%s", tc.who, len(lines), n, help)
		}
		for _, w := range tc.want {
			if !strings.Contains(help, w) {
				t.Errorf("audience %d: help lacks %q:\n%s", tc.who, w, help)
			}
		}
	}
}

// keywordExamples are valid arguments for every keyword that takes some;
// TestKeywordsInEveryState uses them. {dup} is replaced by another case's ID.
var keywordExamples = map[string]string{
	"assess": "high 2027-01-15", "reject": "known", "duplicate": "{dup}", "reward": "250 EUR",
	"credit": "Ada R.", "publish": "2027-02-01", "thirdparty": "owner@vendor.example", "cve": "CVE-2026-12345",
	"key": "0123456789ABCDEF0123456789ABCDEF01234567",
}

func TestEveryKeywordParsesItsExample(t *testing.T) {
	for _, kw := range keywords {
		subject := "#" + kw.name
		if kw.syntax != "" {
			ex, ok := keywordExamples[kw.name]
			if !ok {
				t.Errorf("#%s: no example in keywordExamples", kw.name)
				continue
			}
			subject += " " + strings.ReplaceAll(ex, "{dup}", "CS-2026-0001")
		}
		if _, problems := parseCommands(subject, kw.who); problems != nil {
			t.Errorf("%q: %q", subject, problems)
		}
	}
}

// TestKeywordsInEveryState runs every keyword, with valid arguments, in
// every case state: where its entry allows the state it is applied and
// recorded; elsewhere it is refused with the reason, and the case is
// exactly as before.
func TestKeywordsInEveryState(t *testing.T) {
	for _, kw := range keywords {
		if kw.name == "key" {
			continue // needs a held reporter key: TestReporterKeyChangeNeedsStaff
		}
		t.Run(kw.name+map[audience]string{byStaff: "", byReporter: "(reporter)"}[kw.who], func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth = "none"
			target := f.ingest(t, report("other@example.org", "Other", "other@example.org", "")).CaseID
			for i, st := range States {
				sender := fmt.Sprintf("r%d@example.org", i)
				id := f.ingest(t, report(sender, "XSS", fmt.Sprintf("%d.%s@example.org", i, kw.name), "")).CaseID
				f.setState(t, id, st)
				before := f.caseJSON(t, id)
				args := strings.ReplaceAll(keywordExamples[kw.name], "{dup}", target)
				subject := strings.TrimSpace("#" + kw.name + " " + args)
				if kw.syntax == "" {
					subject = "#" + kw.name
				}
				if kw.who == byStaff {
					f.ingest(t, staffMail(id, subject, "A message for the reporter.", ""))
				} else {
					answer := "In-Reply-To: <" + f.ackID(t, id) + ">\r\n"
					f.ingest(t, report(sender, "Re: ["+id+"] Received: XSS "+subject, fmt.Sprintf("re%d.%s@example.org", i, kw.name), answer))
				}
				v := f.show(t, id)
				refused := ""
				applied := false
				for _, ev := range v.Events {
					switch {
					case ev.Type == string(EventCommandRefused):
						refused = ev.Detail
					case ev.Type == string(EventCommand) && strings.HasPrefix(ev.Detail, "#"+kw.name):
						applied = true
					case ev.Type == string(EventConsent) && strings.HasPrefix(ev.Detail, kw.name):
						applied = true
					}
				}
				for _, m := range v.Messages {
					applied = applied || kw.name == "status" && m.Kind == string(MailStatus)
				}
				if want := kw.allowedIn(st); applied != want {
					t.Errorf("in state %s: applied %v, want %v (refused: %q)", st, applied, want, refused)
					continue
				}
				if applied {
					continue
				}
				if kw.who == byStaff && !strings.Contains(refused, "#"+kw.name+": not allowed in state "+string(st)+" (allowed in: ") {
					t.Errorf("in state %s: refused with %q, want the state named", st, refused)
				}
				if after := f.caseJSON(t, id); after != before {
					t.Errorf("in state %s: a refused keyword changed the case:\n%s\n%s", st, before, after)
				}
			}
		})
	}
}

// setState puts case id in state s, as if it got there.
func (f *fixture) setState(t *testing.T, id string, s State) {
	t.Helper()
	if err := f.db.Update(func(tx *store.Tx) error {
		c, err := tx.Case(id)
		if err != nil {
			return err
		}
		c.State = string(s)
		return f.e.putCase(tx, c)
	}); err != nil {
		t.Fatal(err)
	}
}

// caseJSON is the stored case id.
func (f *fixture) caseJSON(t *testing.T, id string) string {
	t.Helper()
	var out []byte
	if err := f.db.View(func(tx *store.Tx) error {
		c, err := tx.Case(id)
		if err != nil {
			return err
		}
		out, err = json.Marshal(c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// ackID is the Message-ID of case id's acknowledgment.
func (f *fixture) ackID(t *testing.T, id string) string {
	t.Helper()
	for _, m := range f.show(t, id).Messages {
		if m.Kind == string(MailAck) {
			return m.MessageID
		}
	}
	t.Fatalf("%s: no acknowledgment", id)
	return ""
}

// TestNoShareWithdrawsConsent: a reporter who shared and then withdrew is
// hidden from the third-party owner, and one who only shared is not.
func TestNoShareWithdrawsConsent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keywords []string
		shared   bool
	}{
		{"share", []string{"#share"}, true},
		{"share then noshare", []string{"#share", "#noshare"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth = "none"
			id := f.ingest(t, report("ada.lovelace@example.org", "XSS", "r1@example.org", "")).CaseID
			answer := "In-Reply-To: <" + f.ackID(t, id) + ">\r\n"
			for i, kw := range tc.keywords {
				f.ingest(t, report("ada.lovelace@example.org", "Re: ["+id+"] Received: XSS "+kw, fmt.Sprintf("c%d@example.org", i), answer))
			}
			v := f.show(t, id)
			if last := v.Consents[len(v.Consents)-1].Kind; len(v.Consents) != len(tc.keywords) || last != strings.TrimPrefix(tc.keywords[len(tc.keywords)-1], "#") {
				t.Fatalf("consents %+v", v.Consents)
			}
			_, mark := f.sentSince(t, 0)
			f.ingest(t, staffMail(id, "#thirdparty security@partner.example.net", "This is your system.", ""))
			got, _ := f.sentSince(t, mark)
			var owner string
			for _, m := range got {
				if m.to[0] == "security@partner.example.net" {
					owner = m.raw
				}
			}
			if owner == "" {
				t.Fatalf("no mail to the owner: %q", subjects(got))
			}
			if leaks := strings.Contains(owner, "ada.lovelace@example.org"); leaks != tc.shared {
				t.Errorf("owner mail names the reporter: %v, want %v:\n%s", leaks, tc.shared, owner)
			}
		})
	}
}

// TestPinnedEngineKeepsItsOptions: a reload swaps the engine's options,
// but a transaction that started before it keeps the ones it started with.
func TestPinnedEngineKeepsItsOptions(t *testing.T) {
	f := newFixture(t)
	p := f.e.pin()
	next := *f.e.opts()
	next.RewardMax = 5
	f.e.Reload(next, f.e.tmpl.Load())
	if got := p.opts().RewardMax; got != 1000 {
		t.Errorf("pinned engine sees reward.max %d after a reload, want 1000", got)
	}
	if got := f.e.opts().RewardMax; got != 5 {
		t.Errorf("engine sees reward.max %d after a reload, want 5", got)
	}
	if p.pin() != p || p.holdUntil != f.e.holdUntil {
		t.Error("a pinned engine must pin to itself and share the outbox hold")
	}
}
