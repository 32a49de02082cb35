package workflow

import (
	"encoding/json"
	"strings"
	"time"

	"disclosured/parser"
	"disclosured/store"
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
	// query is set by a keyword that only asks (#show): its answer is
	// the reply, and a mail of nothing but queries gets no Done.
	query bool
}

// staffMail handles a message from an allow-listed staff address.
func (e *Engine) staffMail(tx *store.Tx, c *store.Case, rec *store.Message, p *parser.Message) error {
	o := e.opts()
	at, from := rec.At, p.From.Addr
	cmds, problems := parseCommands(commandSubject(p.Subject, c.Subject), byStaff)
	if cmds == nil && problems == nil {
		return tx.AppendEvent(c.ID, store.Event{At: at, Type: string(EventNote), Actor: from, MessageID: p.MessageID})
	}
	if len(p.Duplicates) > 0 {
		// A signature covers the bottom-most of each field; a replayed
		// mail adds its own above (issue 11 attack 4). Never a command.
		return e.unauthenticated(tx, c, rec, p, "the mail has more than one "+strings.Join(p.Duplicates, ", ")+
			" field (RFC 5322 §3.6 allows one), as a replayed signed mail would")
	}
	if o.StaffAuth == "pgp" {
		if ok, reason := e.pgpStaffAuth(rec, from); !ok {
			return e.unauthenticated(tx, c, rec, p, reason)
		}
	} else if o.StaffAuth != "none" {
		res := parser.CheckAuth(p.AuthResults, from, o.AuthservID)
		if o.StaffAuth == "microsoft365" {
			res = parser.CheckMicrosoft365(p.Exchange, p.AuthResults, from, o.TenantID)
		}
		if !res.OK {
			return e.unauthenticated(tx, c, rec, p, res.Reason)
		}
	}
	var ch *change
	if len(problems) == 0 {
		ch, problems = e.apply(tx, o, c, cmds, rec, p)
	}
	if len(problems) > 0 {
		e.log.Info("staff command refused", "case_id", c.ID, "problems", len(problems))
		if err := tx.AppendEvent(c.ID, store.Event{At: at, Type: string(EventCommandRefused), Actor: from,
			MessageID: p.MessageID, Detail: strings.Join(problems, "; ")}); err != nil {
			return err
		}
		data := e.caseData(c, rec)
		data.Sender, data.Command, data.Problems = quoteSubject(from), p.Subject, problems
		data.Help = keywordHelp(byStaff)
		_, err := e.queue(tx, c, o.toSender(MailRefused, from, p.MessageID, p.References, data), at)
		return err
	}
	if err := e.commit(tx, ch, at); err != nil {
		return err
	}
	ch.c.UpdatedAt = at
	data := e.caseData(ch.c, rec)
	data.Sender, data.Command, data.Changes = quoteSubject(from), p.Subject, ch.changes
	if !ch.query || len(ch.changes) > 0 {
		if _, err := e.queue(tx, ch.c, o.toSender(MailDone, from, p.MessageID, p.References, data), at); err != nil {
			return err
		}
	}
	e.log.Info("staff command applied", "case_id", c.ID, "commands", len(cmds), "state", ch.c.State)
	return e.putCase(tx, ch.c)
}

// commit writes a change's events and queues its mail; the case's thread
// moves to the last mail to the reporter.
func (e *Engine) commit(tx *store.Tx, ch *change, at time.Time) error {
	for _, ev := range ch.events {
		if err := tx.AppendEvent(ch.c.ID, ev); err != nil {
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
	return nil
}

// unauthenticated stores a command that failed authentication as a note
// and tells staff who tried what.
func (e *Engine) unauthenticated(tx *store.Tx, c *store.Case, rec *store.Message, p *parser.Message, reason string) error {
	e.log.Warn("unauthenticated staff command", "case_id", c.ID, "from", p.From.Addr, "reason", reason)
	if err := tx.AppendEvent(c.ID, store.Event{At: rec.At, Type: string(EventUnauthenticated), Actor: p.From.Addr,
		MessageID: p.MessageID, Detail: reason}); err != nil {
		return err
	}
	data := e.caseData(c, rec)
	data.Sender, data.Command, data.Problems = quoteSubject(p.From.Addr), p.Subject, []string{reason}
	_, err := e.queue(tx, c, e.opts().toStaff(MailUnauthenticated, data), rec.At)
	return err
}

// commandSubject removes the case's own subject from a reply's subject: it
// was written by the reporter, and keywords in it must never command. Our
// mail quotes it after a prefix ("[ID] New report: <subject>"), so exactly
// that occurrence is cut, whitespace normalised as clients may fold it.
// Cutting every occurrence instead would let a one-letter subject break the
// keywords staff type.
//
// Our mail shows the case subject with '#' neutralised (quoteSubject), so
// that form is cut first; the plain form is for mail sent before that.
func commandSubject(subject, caseSubject string) string {
	subject = strings.Join(strings.Fields(subject), " ")
	caseSubject = strings.Join(strings.Fields(caseSubject), " ")
	if caseSubject == "" {
		return subject
	}
	for _, s := range []string{quoteSubject(caseSubject), caseSubject} {
		quoted := ": " + s
		if i := strings.Index(subject, quoted); i >= 0 {
			return strings.Join(strings.Fields(subject[:i+1]+" "+subject[i+len(quoted):]), " ")
		}
	}
	return subject
}

// quoteSubject neutralises what a reporter wrote before it goes into the
// subject of our mail: every '#' becomes U+FF03 FULLWIDTH NUMBER SIGN, so
// no reply, however its client quotes, decodes or truncates our subject,
// can turn the reporter's words into staff keywords (issue 11 attack 2).
// The value is already one cleaned line without encoded-word syntax
// (parser.CleanValue), so a client decoding it again finds nothing to
// decode.
func quoteSubject(s string) string { return strings.ReplaceAll(s, "#", "\uFF03") }

func cloneCase(c *store.Case) *store.Case {
	b, _ := json.Marshal(c)
	var out store.Case
	_ = json.Unmarshal(b, &out)
	if out.Deadlines == nil {
		out.Deadlines = map[string]*store.Deadline{}
	}
	return &out
}

// apply runs commands against a copy of c. It returns the change, or the
// problems that refuse the whole mail.
func (e *Engine) apply(tx *store.Tx, o *Options, c *store.Case, cmds []command, rec *store.Message, p *parser.Message) (*change, []string) {
	at := rec.At
	k := &kwCtx{e: e, o: o, tx: tx, c: cloneCase(c), rec: rec, p: p, msg: parser.StripQuoted(p.Text), at: at,
		today: at.In(o.Calendar.Location()).Format(time.DateOnly)}
	k.ch = &change{c: k.c}
	for _, cmd := range cmds {
		before := stateOf(k.c)
		k.run(cmd)
		if cmd.kw.who == byStaff {
			k.ch.events = append(k.ch.events, store.Event{At: at, Type: string(EventCommand), Actor: rec.From,
				MessageID: rec.MessageID, Detail: strings.TrimSpace("#" + cmd.kw.name + " " + strings.Join(cmd.args, " "))})
		}
		if after := stateOf(k.c); after != before {
			k.ch.events = append(k.ch.events, store.Event{At: at, Type: string(EventState), Actor: rec.From,
				MessageID: rec.MessageID, Detail: string(before) + " -> " + string(after)})
			k.changed("state: " + string(before) + " -> " + string(after))
		}
	}
	if len(k.problems) > 0 {
		return nil, k.problems
	}
	return k.ch, nil
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
	o := e.opts()
	cmds, problems := parseCommands(commandSubject(p.Subject, c.Subject), byReporter)
	if problems != nil {
		return []string{"the reporter's keywords were not understood: " + strings.Join(problems, "; ")}, nil
	}
	if cmds == nil {
		return nil, nil
	}
	var notes []string
	// Consent decides what a third party learns, and a From header is easy
	// to forge: consent counts only from a mail that answers one of ours,
	// whose Message-ID only the recipient knows. "Ours" means generated by
	// the daemon for this case (the sent index, written when the mail was
	// queued); an id that arrived in incoming mail never counts, whatever
	// its domain (issue 11 attack 3).
	answers := false
	for _, id := range append(append([]string(nil), p.InReplyTo...), p.References...) {
		cid, ok := tx.SentCase(id)
		answers = answers || ok && cid == c.ID
	}
	kept := cmds[:0]
	for _, cmd := range cmds {
		if len(p.Duplicates) > 0 {
			notes = append(notes, "the reporter's #"+cmd.kw.name+" was ignored: the mail has more than one "+
				strings.Join(p.Duplicates, ", ")+" field, as a replayed mail would")
			continue
		}
		if cmd.kw.name != "status" && !answers {
			notes = append(notes, "the reporter's #"+cmd.kw.name+" was ignored: the mail does not answer one of ours, so its sender is not proven")
			continue
		}
		kept = append(kept, cmd)
	}
	ch, problems := e.apply(tx, o, c, kept, rec, p)
	if problems != nil {
		return append(notes, "the reporter's keywords were refused: "+strings.Join(problems, "; ")), nil
	}
	if err := e.commit(tx, ch, rec.At); err != nil {
		return nil, err
	}
	*c = *ch.c
	return append(notes, ch.changes...), nil
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
	ch.mails = append(ch.mails, outgoing{kind: MailThirdPartyOwner,
		lang: e.opts().Languages[0], to: []string{owner}, data: d, autoSubmitted: "auto-generated"})
	rd := e.caseData(c, &first)
	rd.Owner, rd.Shared, rd.Message = owner, shared, ""
	ch.mails = append(ch.mails, toReporter(c, MailThirdPartyReporter, rd))
	dl := &store.Deadline{Start: c.ReceivedAt, Due: e.opts().Calendar.Add(c.ReceivedAt, e.opts().Timers[TimerThirdParty])}
	c.Deadlines[string(TimerThirdParty)] = dl
	e.meet(c, TimerThirdParty, at, ch)
}
