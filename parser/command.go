package parser

// Subject-line commands (SPEC §5).
//
// Staff steer a case by putting keywords in the subject of a reply, and
// reporters have a few of their own. The grammar is deliberately small: a
// keyword is a whitespace-delimited token "#word" whose word consists of
// letters; the tokens after it, up to the next keyword or the end, are its
// arguments. Everything before the first keyword is the subject the mail
// client made ("Re: [CS-2026-0001] New report: ...") and is ignored.
//
// A command set applies all or nothing (SPEC §5), so ParseCommands checks
// the syntax of every keyword and argument and returns either all commands
// or none together with every problem it found; the Refused mail can then
// list them all at once instead of making staff try again once per typo.
// Only syntax is checked here: whether #reopen fits the case's state or a
// reward lies within reward.min..reward.max is the workflow's business.

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Command is one keyword from a subject line with its validated and
// normalised arguments.
type Command struct {
	// Keyword is the keyword in lower case, without the leading '#'.
	Keyword string
	// Args are the normalised arguments; their number and form depend on
	// the keyword (see KeywordHelp and ParseCommands).
	Args []string
}

// CommandSet selects which keywords ParseCommands accepts: staff and
// reporters have different ones (SPEC §5).
type CommandSet int

const (
	// StaffCommands are the keywords staff use to run a case.
	StaffCommands CommandSet = iota
	// ReporterCommands are the few keywords a case's reporter may use.
	ReporterCommands
)

// maxCommandProblems caps the problems reported for one subject, so a
// hostile or garbled subject cannot produce a huge Refused mail.
const maxCommandProblems = 20

// severities are the values #assess accepts, in increasing order.
var severities = []string{"none", "low", "medium", "high", "critical"}

// rejectReasons are the values #reject accepts.
var rejectReasons = []string{"out-of-scope", "not-a-vulnerability", "known"}

// caseIDRe is the form of a case identifier such as CS-2026-0001: a
// prefix, the year and a sequence number of at least four digits.
var caseIDRe = regexp.MustCompile(`^[A-Z0-9]{1,10}-\d{4}-\d{4,}$`)

// currencyRe is an ISO 4217 currency code as staff may write it after a
// #reward amount.
var currencyRe = regexp.MustCompile(`^[A-Za-z]{3}$`)

// keywordSpec describes one keyword: its argument syntax for the help
// text, a short description and the function that validates and
// normalises its arguments.
type keywordSpec struct {
	name   string
	syntax string
	help   string
	check  func(args []string) ([]string, []string) // normalised args, problems
}

// staffKeywords and reporterKeywords are in the order KeywordHelp lists
// them, which follows the table in SPEC §5.
var staffKeywords = []keywordSpec{
	{"reply", "", "the message goes to the reporter", noArgs},
	{"note", "", "internal note (the default); nothing goes to the reporter", noArgs},
	{"assess", "SEVERITY YYYY-MM-DD", "severity (" + strings.Join(severities, " ") + ") and expected solution date", checkAssess},
	{"progress", "", "the message goes to the reporter as a progress update", noArgs},
	{"info", "", "ask the reporter for more information", noArgs},
	{"resolved", "", "the case is resolved; the reporter is told", noArgs},
	{"reject", "REASON", "reject; REASON is one of " + strings.Join(rejectReasons, " "), checkReject},
	{"duplicate", "CASE-ID", "duplicate of case CASE-ID", checkDuplicate},
	{"reward", "AMOUNT [CURRENCY]", "reward in whole units, e.g. 250 or 250 EUR", checkReward},
	{"credit", "NAME", "name the reporter as NAME (one or more words)", checkCredit},
	{"nocredit", "", "do not name the reporter", noArgs},
	{"publish", "YYYY-MM-DD", "agreed publication date", checkPublish},
	{"nopublish", "", "no publication", noArgs},
	{"thirdparty", "OWNER-ADDRESS", "third-party report; send it to the owner's address", checkThirdParty},
	{"close", "", "end the case", noArgs},
	{"reopen", "", "resume the case", noArgs},
}

var reporterKeywords = []keywordSpec{
	{"status", "", "ask for the state of the report and the next promised date", noArgs},
	{"credit", "NAME", "consent to be named as NAME in the advisory", checkCredit},
	{"anonymous", "", "do not name me", noArgs},
	{"share", "", "consent to give my identity to a third-party owner", noArgs},
}

// conflicts are keyword pairs that contradict each other in one subject.
var conflicts = [][2]string{
	{"credit", "nocredit"},
	{"publish", "nopublish"},
	{"close", "reopen"},
	{"credit", "anonymous"},
}

func keywordsOf(set CommandSet) []keywordSpec {
	switch set {
	case StaffCommands:
		return staffKeywords
	case ReporterCommands:
		return reporterKeywords
	}
	return nil
}

// ParseCommands returns the commands in a subject line, in the order they
// appear.
//
// A keyword is a token "#word" (case-insensitive) at the start of the
// subject or after whitespace, where word begins with a letter; tokens
// such as "#42" or a lone "#" are no keywords and are skipped. Everything
// before the first keyword is ignored. The arguments of a keyword are the
// tokens up to the next keyword or the end of the subject. Arguments are
// checked for syntax only and normalised:
//
//	#assess SEVERITY YYYY-MM-DD  Args [severity lower-cased, date]
//	#reject REASON               Args [reason lower-cased]
//	#duplicate CASE-ID           Args [id upper-cased]
//	#reward AMOUNT [CURRENCY]    Args [amount in canonical decimal] or
//	                             [amount, currency upper-cased]
//	#credit NAME...              Args [the words joined with single spaces]
//	#publish YYYY-MM-DD          Args [date]
//	#thirdparty ADDRESS          Args [bare address, domain lower-cased]
//
// and no arguments for the other keywords (see KeywordHelp).
//
// It fails on an unknown keyword, a keyword given twice, a missing,
// superfluous or malformed argument, and on contradicting keywords
// (#credit with #nocredit or #anonymous, #publish with #nopublish, #close
// with #reopen). Since a command set applies all or nothing, the error
// then joins every problem found (errors.Join, one problem per line, such
// as `#frobnicate: unknown keyword`) and no commands are returned. A
// subject without any keyword yields (nil, nil).
func ParseCommands(subject string, set CommandSet) ([]Command, error) {
	specs := keywordsOf(set)
	if specs == nil {
		return nil, fmt.Errorf("unknown command set %d", int(set))
	}
	if !utf8.ValidString(subject) {
		subject = strings.ToValidUTF8(subject, "\uFFFD")
	}

	// Split the subject into keywords, each with its argument tokens.
	type raw struct {
		word string // as written, without '#'
		args []string
	}
	var found []raw
	for _, tok := range strings.Fields(subject) {
		if word, ok := keywordToken(tok); ok {
			found = append(found, raw{word: word})
			continue
		}
		if len(found) == 0 || strings.HasPrefix(tok, "#") {
			continue // preamble, or a "#42"-like token
		}
		last := &found[len(found)-1]
		last.args = append(last.args, tok)
	}
	if len(found) == 0 {
		return nil, nil
	}

	var problems []string
	var cmds []Command
	seen := make(map[string]int)
	for _, r := range found {
		kw := strings.ToLower(r.word)
		spec, ok := lookupKeyword(specs, kw)
		if !ok {
			problems = append(problems, fmt.Sprintf("#%s: unknown keyword", r.word))
			continue
		}
		seen[kw]++
		if seen[kw] == 2 {
			problems = append(problems, fmt.Sprintf("#%s: given more than once", kw))
		}
		args, probs := spec.check(r.args)
		for _, p := range probs {
			problems = append(problems, "#"+kw+": "+p)
		}
		cmds = append(cmds, Command{Keyword: kw, Args: args})
	}
	for _, c := range conflicts {
		if seen[c[0]] > 0 && seen[c[1]] > 0 {
			problems = append(problems, fmt.Sprintf("#%s and #%s contradict each other", c[0], c[1]))
		}
	}

	if len(problems) == 0 {
		return cmds, nil
	}
	errs := make([]error, 0, min(len(problems), maxCommandProblems)+1)
	for i, p := range problems {
		if i == maxCommandProblems {
			errs = append(errs, fmt.Errorf("and %d more problems", len(problems)-i))
			break
		}
		errs = append(errs, errors.New(p))
	}
	return nil, errors.Join(errs...)
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

func lookupKeyword(specs []keywordSpec, kw string) (keywordSpec, bool) {
	for _, s := range specs {
		if s.name == kw {
			return s, true
		}
	}
	return keywordSpec{}, false
}

// KeywordHelp lists the keywords of a set, one per line, each with its
// argument syntax and a short description, for the mail that tells
// someone their commands were refused. It returns "" for an unknown set.
func KeywordHelp(set CommandSet) string {
	specs := keywordsOf(set)
	width := 0
	for _, s := range specs {
		width = max(width, len(keywordUsage(s)))
	}
	var b strings.Builder
	for _, s := range specs {
		fmt.Fprintf(&b, "%-*s  %s\n", width, keywordUsage(s), s.help)
	}
	return b.String()
}

func keywordUsage(s keywordSpec) string {
	if s.syntax == "" {
		return "#" + s.name
	}
	return "#" + s.name + " " + s.syntax
}

// quoteArgs shows arguments in a problem message.
func quoteArgs(args []string) string {
	return strconv.Quote(strings.Join(args, " "))
}

func noArgs(args []string) ([]string, []string) {
	if len(args) > 0 {
		return nil, []string{"takes no arguments, got " + quoteArgs(args)}
	}
	return nil, nil
}

// wantArgs checks the number of arguments against syntax.
func wantArgs(args []string, n int, syntax string) []string {
	switch {
	case len(args) < n:
		return []string{"missing argument, want " + syntax}
	case len(args) > n:
		return []string{fmt.Sprintf("too many arguments %s, want %s", quoteArgs(args), syntax)}
	}
	return nil
}

func checkDate(what, s string) (string, []string) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", []string{fmt.Sprintf("%s %q is not a valid YYYY-MM-DD date", what, s)}
	}
	return s, nil
}

func checkAssess(args []string) ([]string, []string) {
	if p := wantArgs(args, 2, "SEVERITY YYYY-MM-DD"); p != nil {
		return nil, p
	}
	var problems []string
	sev := strings.ToLower(args[0])
	if !slices.Contains(severities, sev) {
		problems = append(problems, fmt.Sprintf("severity %q is not one of %s", args[0], strings.Join(severities, " ")))
	}
	date, p := checkDate("date", args[1])
	problems = append(problems, p...)
	return []string{sev, date}, problems
}

func checkReject(args []string) ([]string, []string) {
	if p := wantArgs(args, 1, "REASON"); p != nil {
		return nil, p
	}
	reason := strings.ToLower(args[0])
	if !slices.Contains(rejectReasons, reason) {
		return nil, []string{fmt.Sprintf("reason %q is not one of %s", args[0], strings.Join(rejectReasons, " "))}
	}
	return []string{reason}, nil
}

func checkDuplicate(args []string) ([]string, []string) {
	if p := wantArgs(args, 1, "CASE-ID"); p != nil {
		return nil, p
	}
	id := strings.ToUpper(args[0])
	if !caseIDRe.MatchString(id) {
		return nil, []string{fmt.Sprintf("%q is not a case id like CS-2026-0001", args[0])}
	}
	return []string{id}, nil
}

func checkReward(args []string) ([]string, []string) {
	if len(args) == 0 || len(args) > 2 {
		return nil, wantArgs(args, 1, "AMOUNT [CURRENCY]")
	}
	var problems []string
	amount := args[0]
	n, err := strconv.ParseUint(amount, 10, 63)
	if err != nil || n == 0 || strings.TrimLeft(amount, "0123456789") != "" {
		// ParseUint accepts only digits, but say so plainly for "1,000",
		// "€250" and "-5".
		problems = append(problems, fmt.Sprintf("amount %q is not a positive whole number", amount))
	} else {
		amount = strconv.FormatUint(n, 10)
	}
	out := []string{amount}
	if len(args) == 2 {
		if !currencyRe.MatchString(args[1]) {
			problems = append(problems, fmt.Sprintf("%q is not a currency code like EUR", args[1]))
		}
		out = append(out, strings.ToUpper(args[1]))
	}
	return out, problems
}

func checkCredit(args []string) ([]string, []string) {
	if len(args) == 0 {
		return nil, []string{"missing argument, want NAME"}
	}
	return []string{strings.Join(args, " ")}, nil
}

func checkPublish(args []string) ([]string, []string) {
	if p := wantArgs(args, 1, "YYYY-MM-DD"); p != nil {
		return nil, p
	}
	date, p := checkDate("date", args[0])
	return []string{date}, p
}

// checkThirdParty accepts only a bare addr-spec: the address goes into an
// outgoing envelope, so a display name or comment is a typo, not intent.
func checkThirdParty(args []string) ([]string, []string) {
	if p := wantArgs(args, 1, "OWNER-ADDRESS"); p != nil {
		return nil, p
	}
	s := args[0]
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return nil, []string{fmt.Sprintf("%q is not a bare mail address like owner@example.org", s)}
	}
	at := strings.LastIndexByte(s, '@')
	return []string{s[:at] + "@" + strings.ToLower(s[at+1:])}, nil
}
