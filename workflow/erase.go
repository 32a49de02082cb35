package workflow

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"disclosured/store"
)

const erased = "[erased]"

// Erase removes a case's personal data (GDPR): the reporter's name and
// address, the subject, every raw message and attachment, the text of
// every message, its parse problems, the bytes of its outgoing mail and
// the text of their errors, the consent values and credit, the
// Message-IDs of incoming mail (in the events and the threading index),
// the sender counters, and the reporter's appearances in the event log. What stays is
// an anonymous tombstone for statistics: ID, states, severity, reward and
// deadlines. Pending mail of the case is cancelled. The store is compacted
// afterwards, so the erased bytes are gone from the file too.
func (e *Engine) Erase(id string, now time.Time) error {
	e = e.pin()
	err := e.db.Update(func(tx *store.Tx) error {
		c, err := tx.Case(id)
		if err != nil {
			return fmt.Errorf("%s: %w", id, ErrNoCase)
		}
		return e.erase(tx, c, now)
	})
	if err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	if err := e.db.Compact(); err != nil {
		return fmt.Errorf("erase %s: %w", id, err)
	}
	e.log.Info("case erased", "case_id", id)
	return nil
}

func (e *Engine) erase(tx *store.Tx, c *store.Case, now time.Time) error {
	var secrets []string
	addSecret := func(s string) {
		if s = strings.TrimSpace(s); len(s) >= 2 {
			secrets = append(secrets, s)
		}
	}
	addSecret(c.Reporter.Addr)
	addSecret(c.Reporter.Name)
	addSecret(c.Credit)
	for _, cs := range c.Consents {
		addSecret(cs.Value)
	}
	msgs, err := tx.Messages(c.ID)
	if err != nil {
		return err
	}
	// Every sender of the case who is not staff or ourselves is the
	// reporter (or a stranger writing as them): their addresses, names
	// and sender counters go, and so do the Message-IDs of all incoming
	// mail, which carry the senders' host names. The IDs we generated are
	// random and stay in the events for the record.
	ours := map[string]bool{}
	for _, m := range msgs {
		if m.Direction == "out" && m.MessageID != "" {
			ours[m.MessageID] = true
		}
		if m.Direction == "in" && !e.isStaff(m.From) && !e.isOwnAddress(m.From) {
			addSecret(m.From)
			addSecret(m.FromName)
		}
	}
	seenSender := map[string]bool{}
	for _, a := range append([]string{c.Reporter.Addr}, senders(msgs, e)...) {
		if a == "" || seenSender[strings.ToLower(a)] {
			continue
		}
		seenSender[strings.ToLower(a)] = true
		if err := tx.DeleteSender(a); err != nil {
			return err
		}
	}
	// Longest first, so a name is not left half-scrubbed by its own
	// address's local part.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	var res []*regexp.Regexp
	for _, x := range secrets {
		res = append(res, regexp.MustCompile(`(?i)`+regexp.QuoteMeta(x)))
	}
	scrub := func(s string) string {
		for _, re := range res {
			s = re.ReplaceAllString(s, erased)
		}
		return s
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Direction == "in" {
			if err := tx.DeleteRaw(m.Key); err != nil {
				return err
			}
			if m.SHA256 != "" {
				if err := tx.DeleteHash(m.SHA256); err != nil {
					return err
				}
			}
			if m.MessageID != "" {
				if err := tx.DeleteMessageID(m.MessageID); err != nil {
					return err
				}
			}
			m.MessageID, m.SHA256 = "", ""
		}
		if m.OutboxID != 0 {
			om, err := tx.Mail(m.OutboxID)
			if err != nil {
				return err
			}
			prev := om.NextAt
			if om.Status == store.MailPending {
				om.Status, om.LastError = store.MailFailed, "cancelled: case erased"
			}
			om.Raw = nil
			om.LastError = erasedError(om.LastError)
			for j := range om.To {
				om.To[j] = scrub(om.To[j])
			}
			if err := tx.PutMail(om, prev); err != nil {
				return err
			}
		}
		if m.Direction == "in" && !e.isStaff(m.From) && !e.isOwnAddress(m.From) {
			m.From = erased
		}
		m.From, m.FromName = scrub(m.From), ""
		for j := range m.To {
			m.To[j] = scrub(m.To[j])
		}
		m.Subject, m.Text = erased, ""
		m.URLs, m.IPs, m.Hosts, m.Attachments, m.Problems = nil, nil, nil, nil, nil
		if err := tx.UpdateMessage(m); err != nil {
			return err
		}
	}
	if err := tx.RewriteEvents(c.ID, func(ev *store.Event) {
		if ev.MessageID != "" && !ours[ev.MessageID] {
			ev.MessageID = ""
		}
		if ev.Actor != "" && !e.isStaff(ev.Actor) && !e.isOwnAddress(ev.Actor) {
			ev.Actor = erased
		}
		ev.Detail = scrub(erasedDetail(ev))
	}); err != nil {
		return err
	}
	c.Reporter = store.Address{Addr: erased}
	c.Subject, c.Credit, c.Thread = erased, "", ""
	c.Keys = nil // OpenPGP keys carry names and addresses
	for i := range c.Consents {
		c.Consents[i].Value = ""
	}
	c.ErasedAt = &now
	if err := tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventErased)}); err != nil {
		return err
	}
	return e.putCase(tx, c)
}

// senders are the From addresses of a case's incoming mail that are not
// staff or our own.
func senders(msgs []store.Message, e *Engine) []string {
	var out []string
	for _, m := range msgs {
		if m.Direction == "in" && m.From != "" && !e.isStaff(m.From) && !e.isOwnAddress(m.From) {
			out = append(out, m.From)
		}
	}
	return out
}

// Event details that are ours and carry no personal data survive erasure;
// others keep only their kind. A command keeps its keyword, and its
// arguments only for keywords whose arguments are policy (a severity, an
// amount, a date), never free text or a name.
var (
	safeDetailEvents = map[EventType]bool{EventState: true, EventTimerMet: true, EventTimerBreached: true,
		EventTimerReminder: true, EventStatusUpdate: true, EventOpened: true, EventTimersResumed: true}
	safeCommandArgs = map[string]bool{"#assess": true, "#reward": true, "#publish": true, "#nopublish": true,
		"#close": true, "#reopen": true, "#progress": true, "#resolved": true, "#nocredit": true,
		"#duplicate": true, "#reject": true}
)

func erasedDetail(ev *store.Event) string {
	switch {
	case ev.Detail == "" || safeDetailEvents[EventType(ev.Type)]:
		return ev.Detail
	case ev.Type == string(EventCommand):
		kw, _, _ := strings.Cut(ev.Detail, " ")
		if safeCommandArgs[kw] {
			return ev.Detail
		}
		return kw
	case ev.Type == string(EventMailQueued):
		kind, _, _ := strings.Cut(ev.Detail, " ")
		return kind
	}
	return erased
}

var smtpCodeRE = regexp.MustCompile(`\b([245]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?\b`)

// erasedError keeps of an outbox error only the SMTP reply code, which
// tells why mail failed; the text may quote the address.
func erasedError(s string) string {
	if s == "" || s == "cancelled: case erased" {
		return s
	}
	if m := smtpCodeRE.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace("SMTP " + m[1] + " " + m[2] + " " + erased)
	}
	return erased
}

// Retain erases the personal data of cases closed (or rejected or
// duplicate) longer than age ago, and compacts once if any was erased.
func (e *Engine) Retain(age time.Duration, now time.Time) (int, error) {
	e = e.pin()
	if age <= 0 {
		return 0, nil
	}
	n := 0
	err := e.db.Update(func(tx *store.Tx) error {
		cases, err := tx.Cases()
		if err != nil {
			return err
		}
		for _, c := range cases {
			if c.ErasedAt != nil || e.running(c) || stateOf(c) == StateResolved || now.Sub(c.UpdatedAt) < age {
				continue
			}
			if err := e.erase(tx, c, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		return n, err
	}
	e.log.Info("retention erased closed cases", "cases", n)
	return n, e.db.Compact()
}
