package workflow

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"disclosured/mailbox"
	"disclosured/store"
)

// settleRecipients records a send the server answered per recipient
// (issue 12 §2): the message went to re.Accepted; a recipient refused for
// good is recorded as failed on the case, and told about as mailFailed
// does, staff mail through the staff addresses that took it; a recipient
// refused for now stays in m.To and is tried again alone. The mail is sent
// once nobody is left to try, and failed only when nobody got it.
func (e *Engine) settleRecipients(tx *store.Tx, m *store.OutMail, prev time.Time, sendErr error, now time.Time) error {
	var re *mailbox.RecipientError
	errors.As(sendErr, &re)
	var perm []mailbox.RefusedRecipient
	var retry []string
	for _, r := range re.Refused {
		if mailbox.IsPermanent(r.Err) {
			perm = append(perm, r)
		} else {
			retry = append(retry, r.Addr)
		}
	}
	if now.Sub(m.CreatedAt) > giveUpAfter {
		retry = nil
	}
	if len(re.Accepted) == 0 && len(retry) == 0 {
		// Nobody got it and nobody is left to try.
		m.Status, m.LastError = store.MailFailed, sendErr.Error()
		if err := tx.PutMail(m, prev); err != nil {
			return err
		}
		return e.mailFailed(tx, m, now)
	}
	m.LastError = sendErr.Error()
	if len(retry) > 0 {
		m.To = retry
	} else {
		m.Status, m.SentAt = store.MailSent, now
	}
	if err := tx.PutMail(m, prev); err != nil {
		return err
	}
	if len(re.Accepted) > 0 {
		if staffKinds[MailKind(m.Kind)] {
			e.staffReached()
		}
		if err := e.mailSent(tx, m, now); err != nil {
			return err
		}
	}
	if len(perm) == 0 {
		return nil
	}
	return e.recipientsFailed(tx, m, perm, re.Accepted, now)
}

// recipientsFailed records recipients refused for good on the case and
// tells staff which: for staff mail through the addresses that took it
// (telling the refused ones could only fail again), else staff.notify.
func (e *Engine) recipientsFailed(tx *store.Tx, m *store.OutMail, perm []mailbox.RefusedRecipient, accepted []string, now time.Time) error {
	if m.CaseID == "" {
		return nil
	}
	c, err := tx.Case(m.CaseID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var parts []string
	for _, r := range perm {
		parts = append(parts, fmt.Sprintf("%s: %v", r.Addr, r.Err))
	}
	detail := fmt.Sprintf("%s to %s", m.Kind, strings.Join(parts, "; "))
	if err := tx.AppendEvent(m.CaseID, store.Event{At: now, Type: string(EventMailFailed), Detail: detail}); err != nil {
		return err
	}
	to := e.opts().StaffNotify
	if staffKinds[MailKind(m.Kind)] {
		if MailKind(m.Kind) == MailFailed || len(accepted) == 0 {
			e.staffUnreachable(m, detail)
			return nil
		}
		to = accepted
	}
	data := e.caseData(c, &store.Message{At: c.ReceivedAt})
	data.Notes = []string{"Undelivered: " + detail}
	out := e.opts().toStaff(MailFailed, data)
	out.to = to
	_, err = e.queue(tx, c, out, now)
	return err
}

// staffProblem is why staff could not be told about a failed mail: the
// last staff mail that failed reached none of its recipients. It is
// cleared when a staff mail reaches someone.
type staffProblem struct{ p atomic.Pointer[string] }

// staffUnreachable tells the operator that no staff address took a staff
// mail: a log line here, and MailProblem for /healthz.
func (e *Engine) staffUnreachable(m *store.OutMail, detail string) {
	msg := "staff unreachable: " + detail
	e.staffProblem.p.Store(&msg)
	e.log.Error("no staff address accepts mail; staff cannot be told", "component", "outbox",
		"case_id", m.CaseID, "mail_id", m.ID, "kind", m.Kind, "err", detail)
}

func (e *Engine) staffReached() { e.staffProblem.p.Store(nil) }

// MailProblem returns why staff cannot be reached by mail, or nil.
func (e *Engine) MailProblem() error {
	if p := e.staffProblem.p.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}
