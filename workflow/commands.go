package workflow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"disclosured/parser"
	"disclosured/store"
	"disclosured/templates"
)

// A staff mail's keywords apply all or nothing (SPEC §5): every command is
// first applied to a copy of the case, collecting the events and mail it
// causes; only when none of them has a problem are the copy, the events and
// the mail written, in the caller's transaction. A refused mail changes
// nothing but the record that it was refused.

// change is what applying commands to a case copy produced.
type change struct {
	c       *store.Case
	events  []store.Event
	mails   []outgoing
	changes []string
}

// staffMail handles a message from an allow-listed staff address.
func (e *Engine) staffMail(tx *store.Tx, c *store.Case, rec *store.Message, p *parser.Message) error {
	at, from := rec.At, p.From.Addr
	subject := commandSubject(p.Subject, c.Subject)
	cmds, perr := parser.ParseCommands(subject, parser.StaffCommands)
	msg := parser.StripQuoted(p.Text)
	if cmds == nil && perr == nil {
		return tx.AppendEvent(c.ID, store.Event{At: at, Type: "note", Actor: from, MessageID: p.MessageID})
	}
	if e.opts().StaffAuth != "none" {
		res := parser.CheckAuth(p.AuthResults, from, e.opts().AuthservID)
		if !res.OK {
			return e.unauthenticated(tx, c, rec, p, res.Reason)
		}
	}
	var problems []string
	if perr != nil {
		problems = splitErrors(perr)
	}
	var ch *change
	if len(problems) == 0 {
		ch, problems = e.apply(tx, c, cmds, msg, rec, at)
	}
	if len(problems) > 0 {
		e.log.Info("staff command refused", "case_id", c.ID, "problems", len(problems))
		if err := tx.AppendEvent(c.ID, store.Event{At: at, Type: "command_refused", Actor: from,
			MessageID: p.MessageID, Detail: strings.Join(problems, "; ")}); err != nil {
			return err
		}
		data := e.caseData(c, rec)
		data.Sender, data.Command, data.Problems = from, p.Subject, problems
		data.Help = parser.KeywordHelp(parser.StaffCommands)
		_, err := e.queue(tx, c, outgoing{kind: "refused", tmpl: "refused", lang: e.opts().Languages[0],
			to: []string{from}, data: data, inReplyTo: p.MessageID, refs: p.References,
			autoSubmitted: "auto-replied"}, at)
		return err
	}
	for _, ev := range ch.events {
		if err := tx.AppendEvent(c.ID, ev); err != nil {
			return err
		}
	}
	for _, o := range ch.mails {
		msgID, err := e.queue(tx, ch.c, o, at)
		if err != nil {
			return err
		}
		if o.toReporter {
			ch.c.Thread = msgID
		}
	}
	ch.c.UpdatedAt = at
	data := e.caseData(ch.c, rec)
	data.Sender, data.Command, data.Changes = from, p.Subject, ch.changes
	if _, err := e.queue(tx, ch.c, outgoing{kind: "done", tmpl: "done", lang: e.opts().Languages[0],
		to: []string{from}, data: data, inReplyTo: p.MessageID, refs: p.References,
		autoSubmitted: "auto-replied"}, at); err != nil {
		return err
	}
	e.log.Info("staff command applied", "case_id", c.ID, "commands", len(cmds), "state", ch.c.State)
	return e.putCase(tx, ch.c)
}

// unauthenticated stores a command that failed authentication as a note
// and tells staff who tried what.
func (e *Engine) unauthenticated(tx *store.Tx, c *store.Case, rec *store.Message, p *parser.Message, reason string) error {
	e.log.Warn("unauthenticated staff command", "case_id", c.ID, "from", p.From.Addr, "reason", reason)
	if err := tx.AppendEvent(c.ID, store.Event{At: rec.At, Type: "unauthenticated", Actor: p.From.Addr,
		MessageID: p.MessageID, Detail: reason}); err != nil {
		return err
	}
	data := e.caseData(c, rec)
	data.Sender, data.Command, data.Problems = p.From.Addr, p.Subject, []string{reason}
	_, err := e.queue(tx, c, outgoing{kind: "unauthenticated", tmpl: "unauthenticated",
		lang: e.opts().Languages[0], to: e.opts().StaffNotify, data: data, autoSubmitted: "auto-generated"}, rec.At)
	return err
}

// commandSubject removes the case's own subject from a reply's subject: it
// was written by the reporter, and keywords in it must never command. Our
// mail quotes it after a prefix ("[ID] New report: <subject>"), so exactly
// that occurrence is cut, whitespace normalised as clients may fold it.
// Cutting every occurrence instead would let a one-letter subject break the
// keywords staff type.
func commandSubject(subject, caseSubject string) string {
	subject = strings.Join(strings.Fields(subject), " ")
	caseSubject = strings.Join(strings.Fields(caseSubject), " ")
	if caseSubject == "" {
		return subject
	}
	quoted := ": " + caseSubject
	if i := strings.Index(subject, quoted); i >= 0 {
		return strings.Join(strings.Fields(subject[:i+1]+" "+subject[i+len(quoted):]), " ")
	}
	return subject
}

func splitErrors(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func cloneCase(c *store.Case) *store.Case {
	b, _ := json.Marshal(c)
	var out store.Case
	_ = json.Unmarshal(b, &out)
	if out.Deadlines == nil {
		out.Deadlines = map[string]*store.Deadline{}
	}
	return &out
}

var reasonWords = map[string]string{
	"out-of-scope":        "out of scope",
	"not-a-vulnerability": "not a vulnerability",
	"known":               "already known to us",
}

// apply runs commands against a copy of c. It returns the change, or the
// problems that refuse the whole mail.
func (e *Engine) apply(tx *store.Tx, c *store.Case, cmds []parser.Command, msg string, rec *store.Message, at time.Time) (*change, []string) {
	ch := &change{c: cloneCase(c)}
	var problems []string
	today := at.In(e.opts().Calendar.Location()).Format(time.DateOnly)
	from := rec.From
	for _, cmd := range cmds {
		nc := ch.c
		kw := "#" + cmd.Keyword
		fail := func(format string, args ...any) { problems = append(problems, kw+": "+fmt.Sprintf(format, args...)) }
		ev := store.Event{At: at, Type: "command", Actor: from, MessageID: rec.MessageID,
			Detail: strings.TrimSpace(kw + " " + strings.Join(cmd.Args, " "))}
		toReporter := func(tmpl string, fill func(d *templates.Data)) {
			if nc.Reporter.Addr == "" {
				fail("the case has no reporter address to write to")
				return
			}
			d := e.caseData(nc, rec)
			d.Message = msg
			if fill != nil {
				fill(&d)
			}
			ch.mails = append(ch.mails, outgoing{kind: tmpl, tmpl: tmpl, lang: nc.Language,
				to: []string{nc.Reporter.Addr}, data: d, inReplyTo: nc.Thread, toReporter: true,
				autoSubmitted: "auto-replied"})
		}
		needMessage := func() bool {
			if strings.TrimSpace(msg) == "" {
				fail("needs a message: write it above the quoted text")
				return false
			}
			return true
		}
		before := nc.State
		switch cmd.Keyword {
		case "note":
			ch.changes = append(ch.changes, "internal note recorded")
		case "reply":
			if needMessage() {
				toReporter("reply", nil)
				ch.changes = append(ch.changes, "message sent to the reporter")
			}
		case "assess":
			sev, date := cmd.Args[0], cmd.Args[1]
			if !e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed) {
				break
			}
			if date < today {
				fail("date %s is in the past", date)
				break
			}
			nc.Severity, nc.FixBy, nc.State = sev, date, StateAssessed
			e.meet(nc, TimerAssess, at, ch)
			e.startTimer(nc, TimerProgress, at)
			toReporter("assessment", func(d *templates.Data) {
				d.Severity, d.FixBy = sev, e.formatDate(date)
				if p := nc.Deadlines[TimerProgress]; p != nil {
					d.NextDate = e.formatTime(p.Due)
				}
			})
			ch.changes = append(ch.changes, "severity: "+sev, "expected solution date: "+date)
		case "progress":
			if e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed) && needMessage() {
				e.meet(nc, TimerProgress, at, ch)
				e.startTimer(nc, TimerProgress, at)
				toReporter("progress", nil)
				ch.changes = append(ch.changes, "progress update sent to the reporter")
			}
		case "info":
			if e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed, StateResolved) && needMessage() {
				e.pause(nc, at)
				toReporter("info", nil)
				ch.changes = append(ch.changes, "reporter asked for more information; timers paused until they reply")
			}
		case "resolved":
			if e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed) {
				nc.State = StateResolved
				e.meet(nc, TimerResolve, at, ch)
				e.stopTimer(nc, TimerProgress)
				toReporter("resolved", func(d *templates.Data) { d.Credit = nc.Credit })
			}
		case "reject":
			if e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed) {
				nc.State = StateRejected
				e.meet(nc, TimerResolve, at, ch)
				e.stopTimer(nc, TimerProgress)
				reason := reasonWords[cmd.Args[0]]
				toReporter("rejected", func(d *templates.Data) { d.Reason = reason })
				ch.changes = append(ch.changes, "reason: "+reason)
			}
		case "duplicate":
			target := cmd.Args[0]
			if !e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed) {
				break
			}
			if target == nc.ID {
				fail("a case cannot duplicate itself")
				break
			}
			if _, err := tx.Case(target); err != nil {
				fail("unknown case %s", target)
				break
			}
			nc.State = StateDuplicate
			e.meet(nc, TimerResolve, at, ch)
			e.stopTimer(nc, TimerProgress)
			toReporter("duplicate", func(d *templates.Data) { d.DuplicateOf = target })
			ch.changes = append(ch.changes, "duplicate of "+target)
		case "reward":
			amount, _ := strconv.Atoi(cmd.Args[0])
			if len(cmd.Args) > 1 && !strings.EqualFold(cmd.Args[1], e.opts().Currency) {
				fail("rewards are paid in %s, not %s", e.opts().Currency, cmd.Args[1])
				break
			}
			if amount < e.opts().RewardMin || amount > e.opts().RewardMax {
				fail("amount %d is outside %d..%d %s", amount, e.opts().RewardMin, e.opts().RewardMax, e.opts().Currency)
				break
			}
			if nc.State == StateRejected || nc.State == StateDuplicate {
				fail("not allowed in state %s", nc.State)
				break
			}
			nc.Reward = &store.Reward{Amount: amount, Currency: e.opts().Currency}
			reward := fmt.Sprintf("%d %s", amount, e.opts().Currency)
			toReporter("reward", func(d *templates.Data) { d.Reward = reward })
			ch.changes = append(ch.changes, "reward offered: "+reward)
		case "credit":
			nc.Credit = cmd.Args[0]
			ch.changes = append(ch.changes, "credit: "+nc.Credit)
		case "nocredit":
			nc.Credit = ""
			ch.changes = append(ch.changes, "the reporter will not be named")
		case "publish":
			date := cmd.Args[0]
			if !e.inState(nc, fail, StateResolved, StateClosed) {
				break
			}
			if date < today {
				fail("date %s is in the past", date)
				break
			}
			nc.PublishAt = date
			ch.changes = append(ch.changes, "publication agreed for "+date)
		case "nopublish":
			nc.PublishAt = ""
			ch.changes = append(ch.changes, "no publication")
		case "thirdparty":
			owner := cmd.Args[0]
			if !e.inState(nc, fail, StateNew, StateAcknowledged, StateAssessed) {
				break
			}
			if parser.SameAddress(owner, nc.Reporter.Addr) || e.isOwnAddress(owner) || e.isStaff(owner) {
				fail("%s cannot be the owner", owner)
				break
			}
			nc.ThirdParty = owner
			e.thirdParty(tx, nc, owner, msg, at, ch)
			ch.changes = append(ch.changes, "report sent to third-party owner "+owner, "reporter told the owner was contacted")
		case "close":
			if nc.State == StateClosed {
				fail("the case is already closed")
				break
			}
			nc.State = StateClosed
			e.stopTimer(nc, TimerProgress)
		case "reopen":
			if !e.inState(nc, fail, StateClosed, StateRejected, StateDuplicate) {
				break
			}
			nc.State = StateAcknowledged
			if nc.Severity != "" {
				nc.State = StateAssessed
			}
		default:
			fail("unknown keyword")
		}
		ch.events = append(ch.events, ev)
		if nc.State != before {
			ch.events = append(ch.events, store.Event{At: at, Type: "state", Actor: from,
				MessageID: rec.MessageID, Detail: before + " -> " + nc.State})
			ch.changes = append(ch.changes, "state: "+before+" -> "+nc.State)
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return ch, nil
}

func (e *Engine) inState(c *store.Case, fail func(string, ...any), allowed ...string) bool {
	for _, s := range allowed {
		if c.State == s {
			return true
		}
	}
	fail("not allowed in state %s (allowed in: %s)", c.State, strings.Join(allowed, ", "))
	return false
}

func (e *Engine) formatDate(date string) string {
	t, err := time.ParseInLocation(time.DateOnly, date, e.opts().Calendar.Location())
	if err != nil {
		return date
	}
	return t.Format("Mon 2 Jan 2006")
}

// reporterMail handles keywords in a mail from the case's reporter
// (SPEC §5): #status, #credit NAME, #anonymous, #share, #noshare. It
// returns notes for the staff notification.
func (e *Engine) reporterMail(tx *store.Tx, c *store.Case, rec *store.Message, p *parser.Message) ([]string, error) {
	cmds, err := parser.ParseCommands(commandSubject(p.Subject, c.Subject), parser.ReporterCommands)
	if err != nil {
		return []string{"the reporter's keywords were not understood: " + strings.Join(splitErrors(err), "; ")}, nil
	}
	var notes []string
	at := rec.At
	// Consent decides what a third party learns, and a From header is easy
	// to forge: consent counts only from a mail that answers one of ours,
	// whose Message-ID only the recipient knows.
	answers := false
	for _, id := range append(append([]string(nil), p.InReplyTo...), p.References...) {
		cid, ok := tx.CaseByMessageID(id)
		answers = answers || ok && cid == c.ID && strings.HasSuffix(id, "@"+e.opts().Domain)
	}
	for _, cmd := range cmds {
		if cmd.Keyword != "status" && !answers {
			notes = append(notes, "the reporter's #"+cmd.Keyword+" was ignored: the mail does not answer one of ours, so its sender is not proven")
			continue
		}
		consent := func(kind, value, note string) error {
			c.Consents = append(c.Consents, store.Consent{Kind: kind, Value: value, At: at})
			notes = append(notes, note)
			return tx.AppendEvent(c.ID, store.Event{At: at, Type: "consent", Actor: rec.From,
				MessageID: rec.MessageID, Detail: strings.TrimSpace(kind + " " + value)})
		}
		switch cmd.Keyword {
		case "status":
			d := e.caseData(c, rec)
			d.Severity, d.NextDate = c.Severity, e.nextPromise(c)
			if c.FixBy != "" {
				d.FixBy = e.formatDate(c.FixBy)
			}
			msgID, err := e.queue(tx, c, outgoing{kind: "status", tmpl: "status", lang: c.Language,
				to: []string{c.Reporter.Addr}, data: d, inReplyTo: p.MessageID, refs: p.References,
				autoSubmitted: "auto-replied"}, at)
			if err != nil {
				return nil, err
			}
			c.Thread = msgID
			notes = append(notes, "the reporter asked for the status; it was sent")
		case "credit":
			c.Credit = cmd.Args[0]
			err = consent("credit", cmd.Args[0], "the reporter consents to be named as: "+cmd.Args[0])
		case "anonymous":
			c.Credit = ""
			err = consent("anonymous", "", "the reporter does not want to be named")
		case "share":
			err = consent("share", "", "the reporter consents to sharing their identity with a third-party owner")
		case "noshare":
			err = consent("noshare", "", "the reporter withdrew consent to share their identity")
		}
		if err != nil {
			return nil, err
		}
	}
	return notes, nil
}

// consented reports whether the latest of the reporter's share/noshare
// choices is share.
func consented(c *store.Case) bool {
	for i := len(c.Consents) - 1; i >= 0; i-- {
		switch c.Consents[i].Kind {
		case "share":
			return true
		case "noshare":
			return false
		}
	}
	return false
}

// nextPromise is the earliest open deadline, formatted for the reporter.
func (e *Engine) nextPromise(c *store.Case) string {
	var next time.Time
	for _, d := range c.Deadlines {
		if d.MetAt == nil && !d.Due.IsZero() && (next.IsZero() || d.Due.Before(next)) {
			next = d.Due
		}
	}
	if next.IsZero() {
		return ""
	}
	return e.formatTime(next)
}

// thirdParty queues the report for its owner, identity removed unless the
// reporter consented, and the notice to the reporter; it meets the
// third_party timer, whose promise is exactly these two mails.
func (e *Engine) thirdParty(tx *store.Tx, c *store.Case, owner, msg string, at time.Time, ch *change) {
	var first store.Message
	if msgs, err := tx.Messages(c.ID); err == nil && len(msgs) > 0 {
		first = msgs[0]
	}
	shared := consented(c)
	d, removed := e.ownerData(tx, c, &first, msg)
	d.Owner = owner
	if len(removed) > 0 {
		ch.changes = append(ch.changes, "withheld from the owner: "+strings.Join(removed, "; "))
	}
	ch.mails = append(ch.mails, outgoing{kind: "thirdparty-owner", tmpl: "thirdparty-owner",
		lang: e.opts().Languages[0], to: []string{owner}, data: d, autoSubmitted: "auto-generated"})
	rd := e.caseData(c, &first)
	rd.Owner, rd.Shared, rd.Message = owner, shared, ""
	ch.mails = append(ch.mails, outgoing{kind: "thirdparty-reporter", tmpl: "thirdparty-reporter",
		lang: c.Language, to: []string{c.Reporter.Addr}, data: rd, inReplyTo: c.Thread, toReporter: true,
		autoSubmitted: "auto-replied"})
	dl := &store.Deadline{Start: c.ReceivedAt, Due: e.opts().Calendar.Add(c.ReceivedAt, e.opts().Timers[TimerThirdParty])}
	c.Deadlines[TimerThirdParty] = dl
	e.meet(c, TimerThirdParty, at, ch)
}
