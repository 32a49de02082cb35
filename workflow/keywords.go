package workflow

// Subject-line keywords (SPEC §5), one entry each.
//
// parser.SplitCommands only cuts a subject into "#word" tokens and their
// arguments; everything else a keyword is lives in its entry below: who
// may use it, its argument grammar and check, the states it is allowed in,
// the keyword it contradicts, and what it does. Adding a keyword is adding
// an entry.
//
// A command set applies all or nothing: parseCommands reports every
// problem of grammar at once, and apply runs each entry on a copy of the
// case, so a refused mail changes nothing but the record that it was
// refused.

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"disclosured/advisory"
	"disclosured/mailbox"
	"disclosured/parser"
	"disclosured/store"
	"disclosured/templates"
)

// audience says who may use a keyword.
type audience int

const (
	byStaff audience = iota
	byReporter
)

// keyword is one subject-line keyword of one audience.
type keyword struct {
	name string
	who  audience
	// syntax is the argument grammar for the help text ("" for none).
	syntax string
	help   string
	// check validates and normalises the arguments; nil means the keyword
	// takes none.
	check func(args []string) ([]string, []string)
	// states are the case states the keyword is allowed in; nil means any.
	states []State
	// opposes is a keyword of the same audience this one contradicts in
	// one subject.
	opposes string
	// needsMessage refuses the keyword when the sender wrote nothing above
	// the quoted text.
	needsMessage bool
	// apply changes k.c and adds to k.ch; it reports problems with k.fail.
	apply func(k *kwCtx, args []string)
}

// active are the states in which a case is being worked on.
var active = []State{StateNew, StateAcknowledged, StateAssessed}

// keywords are in the order the help lists them, which follows the table
// in SPEC §5.
var keywords = []keyword{
	{name: "reply", help: "the message goes to the reporter", needsMessage: true,
		apply: func(k *kwCtx, _ []string) {
			k.mail(MailReply, nil)
			k.changed("message sent to the reporter")
		}},
	{name: "note", help: "internal note (the default); nothing goes to the reporter",
		apply: func(k *kwCtx, _ []string) { k.changed("internal note recorded") }},
	{name: "assess", syntax: "SEVERITY YYYY-MM-DD",
		help:  "severity (" + strings.Join(severities, " ") + ") and expected solution date",
		check: checkAssess, states: active,
		apply: func(k *kwCtx, args []string) {
			sev, date := args[0], args[1]
			if !k.future(date) {
				return
			}
			k.c.Severity, k.c.FixBy = sev, date
			k.setState(StateAssessed)
			k.e.meet(k.c, TimerAssess, k.at, k.ch)
			k.e.startTimer(k.c, TimerProgress, k.at)
			k.mail(MailAssessment, func(d *templates.Data) {
				d.Severity, d.FixBy = sev, k.e.formatDate(date)
				if p := deadline(k.c, TimerProgress); p != nil {
					d.NextDate = k.e.formatTime(p.Due)
				}
			})
			k.changed("severity: "+sev, "expected solution date: "+date)
		}},
	{name: "progress", help: "the message goes to the reporter as a progress update",
		states: active, needsMessage: true,
		apply: func(k *kwCtx, _ []string) {
			k.e.meet(k.c, TimerProgress, k.at, k.ch)
			k.e.startTimer(k.c, TimerProgress, k.at)
			k.mail(MailProgress, nil)
			k.changed("progress update sent to the reporter")
		}},
	{name: "info", help: "ask the reporter for more information",
		states: []State{StateNew, StateAcknowledged, StateAssessed, StateResolved}, needsMessage: true,
		apply: func(k *kwCtx, _ []string) {
			k.e.pause(k.c, k.at)
			k.mail(MailInfo, nil)
			k.changed("reporter asked for more information; timers paused until they reply")
		}},
	{name: "resolved", help: "the case is resolved; the reporter is told", states: active,
		apply: func(k *kwCtx, _ []string) {
			k.end(StateResolved)
			k.mail(MailResolved, func(d *templates.Data) { d.Credit = k.c.Credit })
		}},
	{name: "reject", syntax: "REASON", help: "reject; REASON is one of " + strings.Join(rejectReasonWords(), " "),
		check: checkReject, states: active,
		apply: func(k *kwCtx, args []string) {
			reason := rejectReasonText(args[0])
			k.end(StateRejected)
			k.mail(MailRejected, func(d *templates.Data) { d.Reason = reason })
			k.changed("reason: " + reason)
		}},
	{name: "duplicate", syntax: "CASE-ID", help: "duplicate of case CASE-ID", check: checkDuplicate, states: active,
		apply: func(k *kwCtx, args []string) {
			target := args[0]
			if target == k.c.ID {
				k.fail("a case cannot duplicate itself")
				return
			}
			if _, err := k.tx.Case(target); err != nil {
				k.fail("unknown case %s", target)
				return
			}
			k.end(StateDuplicate)
			k.mail(MailDuplicate, func(d *templates.Data) { d.DuplicateOf = target })
			k.changed("duplicate of " + target)
		}},
	{name: "reward", syntax: "AMOUNT [CURRENCY]", help: "reward in whole units, e.g. 250 or 250 EUR",
		check: checkReward, states: []State{StateNew, StateAcknowledged, StateAssessed, StateResolved, StateClosed},
		apply: func(k *kwCtx, args []string) {
			o := k.o
			amount, _ := strconv.Atoi(args[0])
			if len(args) > 1 && !strings.EqualFold(args[1], o.Currency) {
				k.fail("rewards are paid in %s, not %s", o.Currency, args[1])
				return
			}
			if amount < o.RewardMin || amount > o.RewardMax {
				k.fail("amount %d is outside %d..%d %s", amount, o.RewardMin, o.RewardMax, o.Currency)
				return
			}
			k.c.Reward = &store.Reward{Amount: amount, Currency: o.Currency}
			reward := fmt.Sprintf("%d %s", amount, o.Currency)
			k.mail(MailReward, func(d *templates.Data) { d.Reward = reward })
			k.changed("reward offered: " + reward)
		}},
	{name: "credit", syntax: "NAME", help: "name the reporter as NAME (one or more words)", check: checkCredit,
		apply: func(k *kwCtx, args []string) {
			k.c.Credit = args[0]
			k.changed("credit: " + k.c.Credit)
		}},
	{name: "nocredit", help: "do not name the reporter", opposes: "credit",
		apply: func(k *kwCtx, _ []string) {
			k.c.Credit = ""
			k.changed("the reporter will not be named")
		}},
	{name: "publish", syntax: "YYYY-MM-DD", help: "agreed publication date", check: checkPublish,
		states: []State{StateResolved, StateClosed},
		apply: func(k *kwCtx, args []string) {
			if !k.future(args[0]) {
				return
			}
			if err := k.e.schedulePublication(k.c, args[0], k.at); err != nil {
				k.fail("%v", err)
				return
			}
			p := k.c.Publication
			k.changed("publication agreed for " + args[0])
			if p.Reminded {
				k.changed("no reminder: the date is less than " + strconv.Itoa(PublishRemindDays) + " working days away")
			} else {
				k.changed("staff are reminded " + k.e.formatTime(p.RemindAt))
			}
			k.changed("on " + k.e.formatTime(p.Due) + " staff get the advisory draft and the reporter is told it is published")
		}},
	{name: "nopublish", help: "no publication", opposes: "publish",
		apply: func(k *kwCtx, _ []string) {
			k.c.PublishAt, k.c.Publication = "", nil
			k.changed("no publication; its reminder and mails are cancelled")
		}},
	{name: "cve", syntax: "CVE-YYYY-NNNN", help: "the CVE identifier for the advisory", check: checkCVE,
		apply: func(k *kwCtx, args []string) {
			k.c.CVE = args[0]
			k.changed("CVE: " + args[0])
		}},
	{name: "show", help: "send me the case summary (what disclosured show prints)",
		apply: func(k *kwCtx, _ []string) {
			v, err := showTx(k.tx, k.c.ID)
			if err != nil {
				k.fail("%v", err)
				return
			}
			var b strings.Builder
			WriteCase(&b, v, k.o.Calendar.Location())
			d := k.e.caseData(k.c, k.rec)
			d.Report = strings.TrimRight(b.String(), "\n")
			k.ch.mails = append(k.ch.mails, k.o.toSender(MailShow, k.rec.From, k.p.MessageID, k.p.References, d))
			k.ch.query = true
		}},
	{name: "thirdparty", syntax: "OWNER-ADDRESS", help: "third-party report; send it to the owner's address",
		check: checkThirdParty, states: active,
		apply: func(k *kwCtx, args []string) {
			owner := args[0]
			if parser.SameAddress(owner, k.c.Reporter.Addr) || k.e.isOwnAddress(owner) || k.e.isStaff(owner) {
				k.fail("%s cannot be the owner", owner)
				return
			}
			if err := mailbox.CheckEnvelopeAddress(owner); err != nil {
				k.fail("%v", err)
				return
			}
			if !k.ownerKey(owner) {
				return
			}
			k.c.ThirdParty = owner
			k.e.thirdParty(k.tx, k.c, owner, k.msg, k.at, k.ch)
			k.changed("report sent to third-party owner "+owner, "reporter told the owner was contacted")
		}},
	{name: "key", syntax: "FINGERPRINT", help: "use this reporter key, which came after another one (OpenPGP)",
		check: checkFingerprint,
		apply: func(k *kwCtx, args []string) {
			addr, ok := acceptKey(k.c, args[0])
			if !ok {
				k.fail("the case holds no key %s", args[0])
				return
			}
			k.changed("mail to " + addr + " is now encrypted to key " + args[0])
		}},
	{name: "close", help: "end the case",
		states: []State{StateNew, StateAcknowledged, StateAssessed, StateResolved, StateRejected, StateDuplicate},
		apply: func(k *kwCtx, _ []string) {
			k.setState(StateClosed)
			k.e.stopTimer(k.c, TimerProgress)
		}},
	{name: "reopen", help: "resume the case", opposes: "close",
		states: []State{StateClosed, StateRejected, StateDuplicate},
		apply: func(k *kwCtx, _ []string) {
			if k.c.Severity != "" {
				k.setState(StateAssessed)
			} else {
				k.setState(StateAcknowledged)
			}
		}},

	// The reporter's keywords (SPEC §5). Except #status they change what
	// a third party learns or how the reporter is named, and a From
	// header is easy to forge, so reporterMail lets them count only from a
	// mail that answers one of ours.
	{name: "status", who: byReporter, help: "ask for the state of the report and the next promised date",
		apply: func(k *kwCtx, _ []string) {
			c := k.c
			d := k.e.caseData(c, k.rec)
			d.Severity, d.NextDate = c.Severity, k.e.nextPromise(c)
			if c.FixBy != "" {
				d.FixBy = k.e.formatDate(c.FixBy)
			}
			o := toReporter(c, MailStatus, d)
			o.inReplyTo, o.refs = k.p.MessageID, k.p.References
			k.ch.mails = append(k.ch.mails, o)
			k.changed("the reporter asked for the status; it was sent")
		}},
	{name: "credit", who: byReporter, syntax: "NAME", help: "consent to be named as NAME in the advisory",
		check: checkCredit,
		apply: func(k *kwCtx, args []string) {
			k.c.Credit = args[0]
			k.consent("credit", args[0], "the reporter consents to be named as: "+args[0])
		}},
	{name: "anonymous", who: byReporter, help: "do not name me", opposes: "credit",
		apply: func(k *kwCtx, _ []string) {
			k.c.Credit = ""
			k.consent("anonymous", "", "the reporter does not want to be named")
		}},
	{name: "share", who: byReporter, help: "consent to give my identity to a third-party owner",
		apply: func(k *kwCtx, _ []string) {
			k.consent("share", "", "the reporter consents to sharing their identity with a third-party owner")
		}},
	{name: "noshare", who: byReporter, help: "withdraw that consent", opposes: "share",
		apply: func(k *kwCtx, _ []string) {
			k.consent("noshare", "", "the reporter withdrew consent to share their identity")
		}},
	{name: "publicreward", who: byReporter, help: "the advisory may mention my reward",
		apply: func(k *kwCtx, _ []string) {
			k.consent("publicreward", "", "the reporter agrees that the advisory mentions their reward")
		}},
	{name: "privatereward", who: byReporter, help: "the advisory must not mention my reward", opposes: "publicreward",
		apply: func(k *kwCtx, _ []string) {
			k.consent("privatereward", "", "the reporter does not want their reward mentioned")
		}},
}

// lookupKeyword is the entry for name in who's keywords, or nil.
func lookupKeyword(who audience, name string) *keyword {
	for i := range keywords {
		if keywords[i].who == who && keywords[i].name == name {
			return &keywords[i]
		}
	}
	return nil
}

// allowedIn reports whether kw may be used in state s.
func (kw *keyword) allowedIn(s State) bool { return kw.states == nil || slices.Contains(kw.states, s) }

func (kw *keyword) usage() string {
	if kw.syntax == "" {
		return "#" + kw.name
	}
	return "#" + kw.name + " " + kw.syntax
}

// keywordHelp lists who's keywords, one per line, each with its argument
// syntax and a short description, for the mail that tells someone their
// commands were refused.
func keywordHelp(who audience) string {
	width := 0
	for i := range keywords {
		if keywords[i].who == who {
			width = max(width, len(keywords[i].usage()))
		}
	}
	var b strings.Builder
	for i := range keywords {
		if kw := &keywords[i]; kw.who == who {
			fmt.Fprintf(&b, "%-*s  %s\n", width, kw.usage(), kw.help)
		}
	}
	return b.String()
}

// command is one keyword of a subject with its checked arguments.
type command struct {
	kw   *keyword
	args []string
}

// maxCommandProblems caps the problems reported for one subject, so a
// hostile or garbled subject cannot produce a huge Refused mail.
const maxCommandProblems = 20

// parseCommands returns the commands in a subject line, in the order they
// appear, or every problem of grammar found: an unknown keyword, a
// keyword given twice, a missing, superfluous or malformed argument, and
// contradicting keywords (one problem a line, such as `#frobnicate:
// unknown keyword`, at most maxCommandProblems of them and a count). A
// subject without any keyword yields (nil, nil).
func parseCommands(subject string, who audience) ([]command, []string) {
	var problems []string
	var cmds []command
	seen := map[string]int{}
	for _, r := range parser.SplitCommands(subject) {
		kw := lookupKeyword(who, r.Keyword)
		if kw == nil {
			problems = append(problems, fmt.Sprintf("#%s: unknown keyword", r.Written))
			continue
		}
		seen[kw.name]++
		if seen[kw.name] == 2 {
			problems = append(problems, fmt.Sprintf("#%s: given more than once", kw.name))
		}
		args, probs := r.Args, []string(nil)
		if kw.check != nil {
			args, probs = kw.check(r.Args)
		} else if len(args) > 0 {
			args, probs = nil, []string{"takes no arguments, got " + quoteArgs(args)}
		}
		for _, p := range probs {
			problems = append(problems, "#"+kw.name+": "+p)
		}
		cmds = append(cmds, command{kw: kw, args: args})
	}
	for i := range keywords {
		kw := &keywords[i]
		if kw.who == who && kw.opposes != "" && seen[kw.name] > 0 && seen[kw.opposes] > 0 {
			problems = append(problems, fmt.Sprintf("#%s and #%s contradict each other", kw.opposes, kw.name))
		}
	}
	if len(problems) == 0 {
		return cmds, nil
	}
	if len(problems) > maxCommandProblems {
		problems = append(problems[:maxCommandProblems], fmt.Sprintf("and %d more problems", len(problems)-maxCommandProblems))
	}
	return nil, problems
}

// kwCtx is what a keyword's apply works with: the copy of the case it
// changes, the mail that carries the keyword and the change so far.
type kwCtx struct {
	e   *Engine
	o   *Options
	tx  *store.Tx
	c   *store.Case // the copy being changed
	rec *store.Message
	p   *parser.Message
	// msg is the sender's own text, above the quoted part.
	msg   string
	at    time.Time
	today string // at's date in the organisation's zone
	ch    *change
	// kw is the keyword being applied; problems collects what refuses it.
	kw       *keyword
	problems []string
}

func (k *kwCtx) fail(format string, args ...any) {
	k.problems = append(k.problems, "#"+k.kw.name+": "+fmt.Sprintf(format, args...))
}

// changed records lines for the Done mail (staff) or the staff
// notification (reporter).
func (k *kwCtx) changed(lines ...string) { k.ch.changes = append(k.ch.changes, lines...) }

func (k *kwCtx) setState(s State) { k.c.State = string(s) }

// end moves the case to an end of its work: the resolve promise is kept,
// progress updates stop.
func (k *kwCtx) end(s State) {
	k.setState(s)
	k.e.meet(k.c, TimerResolve, k.at, k.ch)
	k.e.stopTimer(k.c, TimerProgress)
}

// future refuses a date before today.
func (k *kwCtx) future(date string) bool {
	if date < k.today {
		k.fail("date %s is in the past", date)
		return false
	}
	return true
}

// mail queues mail of kind to the reporter with the sender's message,
// fill completing its data.
func (k *kwCtx) mail(kind MailKind, fill func(d *templates.Data)) {
	if k.c.Reporter.Addr == "" {
		k.fail("the case has no reporter address to write to")
		return
	}
	if err := mailbox.CheckEnvelopeAddress(k.c.Reporter.Addr); err != nil {
		k.fail("the reporter's address cannot be written to: %v", err)
		return
	}
	d := k.e.caseData(k.c, k.rec)
	d.Message = k.msg
	if fill != nil {
		fill(&d)
	}
	k.ch.mails = append(k.ch.mails, toReporter(k.c, kind, d))
}

// consent records one of the reporter's choices on the case.
func (k *kwCtx) consent(kind, value, note string) {
	k.c.Consents = append(k.c.Consents, store.Consent{Kind: kind, Value: value, At: k.at})
	k.changed(note)
	k.ch.events = append(k.ch.events, store.Event{At: k.at, Type: string(EventConsent), Actor: k.rec.From,
		MessageID: k.rec.MessageID, Detail: strings.TrimSpace(kind + " " + value)})
}

// run applies one command: the checks every keyword shares, then its own.
func (k *kwCtx) run(cmd command) {
	k.kw = cmd.kw
	if s := stateOf(k.c); !cmd.kw.allowedIn(s) {
		k.fail("not allowed in state %s (allowed in: %s)", s, joinStates(cmd.kw.states))
		return
	}
	if cmd.kw.needsMessage && strings.TrimSpace(k.msg) == "" {
		k.fail("needs a message: write it above the quoted text")
		return
	}
	cmd.kw.apply(k, cmd.args)
}

func joinStates(states []State) string {
	s := make([]string, len(states))
	for i, st := range states {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// The argument grammar.

// severities are the values #assess accepts, in increasing order.
var severities = []string{"none", "low", "medium", "high", "critical"}

// rejectReasons are the values #reject accepts, with the words the
// reporter reads.
var rejectReasons = []struct{ word, text string }{
	{"out-of-scope", "out of scope"},
	{"not-a-vulnerability", "not a vulnerability"},
	{"known", "already known to us"},
}

func rejectReasonWords() []string {
	out := make([]string, len(rejectReasons))
	for i, r := range rejectReasons {
		out[i] = r.word
	}
	return out
}

func rejectReasonText(word string) string {
	for _, r := range rejectReasons {
		if r.word == word {
			return r.text
		}
	}
	return word
}

// caseIDRe is the form of a case identifier such as CS-2026-0001: a
// prefix, the year and a sequence number of at least four digits.
var caseIDRe = regexp.MustCompile(`^[A-Z0-9]{1,10}-\d{4}-\d{4,}$`)

// currencyRe is an ISO 4217 currency code as staff may write it after a
// #reward amount.
var currencyRe = regexp.MustCompile(`^[A-Za-z]{3}$`)

// quoteArgs shows arguments in a problem message.
func quoteArgs(args []string) string {
	return strconv.Quote(strings.Join(args, " "))
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
	if !slices.Contains(rejectReasonWords(), reason) {
		return nil, []string{fmt.Sprintf("reason %q is not one of %s", args[0], strings.Join(rejectReasonWords(), " "))}
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

// checkCVE accepts a CVE identifier, CVE-YYYY-NNNN (four or more digits).
func checkCVE(args []string) ([]string, []string) {
	if p := wantArgs(args, 1, "CVE-YYYY-NNNN"); p != nil {
		return nil, p
	}
	id := strings.ToUpper(args[0])
	if !advisory.ValidCVE(id) {
		return nil, []string{fmt.Sprintf("%q is not a CVE identifier like CVE-2026-12345", args[0])}
	}
	return []string{id}, nil
}

// checkThirdParty accepts only a bare addr-spec: the address goes into an
// outgoing envelope, so a display name or comment is a typo, not intent.
var fingerprintRe = regexp.MustCompile(`^[0-9A-F]{40}$`)

func checkFingerprint(args []string) ([]string, []string) {
	fpr := strings.ToUpper(strings.Join(args, ""))
	if !fingerprintRe.MatchString(fpr) {
		return nil, []string{fmt.Sprintf("%q is not a 40-digit hex fingerprint", strings.Join(args, " "))}
	}
	return []string{fpr}, nil
}

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
