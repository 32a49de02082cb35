package workflow

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"disclosured/store"
)

const erased = "[erased]"

// Erase removes a case's personal data (GDPR): the reporter's name and
// address, the subject, every raw message and attachment, the text of
// every message, the bytes of its outgoing mail, the consent values and
// credit, and the reporter's appearances in the event log. What stays is
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
	if c.Reporter.Addr != "" {
		secrets = append(secrets, c.Reporter.Addr)
		if err := tx.DeleteSender(c.Reporter.Addr); err != nil {
			return err
		}
	}
	if n := strings.TrimSpace(c.Reporter.Name); n != "" {
		secrets = append(secrets, n)
	}
	scrub := func(s string) string {
		for _, x := range secrets {
			s = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(x)).ReplaceAllString(s, erased)
		}
		return s
	}
	msgs, err := tx.Messages(c.ID)
	if err != nil {
		return err
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
			for j := range om.To {
				om.To[j] = scrub(om.To[j])
			}
			if err := tx.PutMail(om, prev); err != nil {
				return err
			}
		}
		m.From, m.FromName = scrub(m.From), ""
		for j := range m.To {
			m.To[j] = scrub(m.To[j])
		}
		m.Subject, m.Text = erased, ""
		m.URLs, m.IPs, m.Hosts, m.Attachments = nil, nil, nil, nil
		if err := tx.UpdateMessage(m); err != nil {
			return err
		}
	}
	if err := tx.RewriteEvents(c.ID, func(ev *store.Event) {
		ev.Actor, ev.Detail = scrub(ev.Actor), scrub(ev.Detail)
		if ev.Type == string(EventConsent) {
			ev.Detail = erased
		}
	}); err != nil {
		return err
	}
	c.Reporter = store.Address{Addr: erased}
	c.Subject, c.Credit, c.Thread = erased, "", ""
	for i := range c.Consents {
		c.Consents[i].Value = ""
	}
	c.ErasedAt = &now
	if err := tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventErased)}); err != nil {
		return err
	}
	return e.putCase(tx, c)
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
