package workflow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"disclosured/mailbox"
	"disclosured/store"
)

// Outbox retry policy: temporary failures back off exponentially with
// jitter up to retryCap, and give up after giveUpAfter since the mail was
// queued; permanent (5xx) failures give up at once.
const (
	retryBase   = 5 * time.Second
	retryCap    = 15 * time.Minute
	giveUpAfter = 72 * time.Hour
	outboxBatch = 64
)

// RunOutbox sends due outbox mail until ctx is done. It sleeps until the
// earliest pending mail is due, wakes early when new mail is queued, and at
// start re-arms from the store, so mail queued before a crash goes out.
func (e *Engine) RunOutbox(ctx context.Context, s *mailbox.Sender) error {
	log := e.log.With("component", "outbox")
	for {
		var next time.Time
		wait := e.outboxHeld()
		if wait == 0 {
			var err error
			next, err = e.sendDue(ctx, s)
			if err != nil && ctx.Err() == nil {
				log.Error("outbox pass failed", "err", err)
				next = e.opts().Now().Add(retryBase)
			}
			wait = time.Minute
			if !next.IsZero() {
				wait = max(time.Until(next), 0)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-e.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// sendDue sends every mail due now and returns when the next one is due.
// It stops early, after the batch in hand, when the intake starts catching
// up on a backlog.
func (e *Engine) sendDue(ctx context.Context, s *mailbox.Sender) (next time.Time, err error) {
	e = e.pin() // one pass, one set of options
	defer func() {
		if r := recover(); r != nil {
			err = e.recovered("outbox", r)
		}
	}()
	for ctx.Err() == nil {
		if e.outboxHeld() > 0 {
			return e.opts().Now(), nil
		}
		now := e.opts().Now()
		var due []*store.OutMail
		err := e.db.Update(func(tx *store.Tx) error {
			var err error
			due, next, err = tx.DueMail(now, outboxBatch)
			if err != nil {
				return err
			}
			// Record the attempt before trying it, so a crash mid-send
			// cannot turn into a hot retry loop (STYLE 6).
			for _, m := range due {
				prev := m.NextAt
				m.Attempts++
				m.NextAt = now.Add(backoff(m.Attempts))
				if err := tx.PutMail(m, prev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return time.Time{}, fmt.Errorf("read due mail: %w", err)
		}
		if len(due) == 0 {
			return next, nil
		}
		if err := e.sendBatch(ctx, s, due); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, nil
}

// sendBatch sends due one by one. The result of each send is committed
// while the next one's envelope and body travel, and the next send ends its
// DATA only after that commit, so a crash at any moment leaves at most one
// accepted mail unrecorded, to be sent again after restart, while the
// commit's fsync stays off the critical path.
func (e *Engine) sendBatch(ctx context.Context, s *mailbox.Sender, due []*store.OutMail) error {
	prev := func() error { return nil } // the previous result's commit
	for _, m := range due {
		if ctx.Err() != nil {
			break
		}
		sendErr := s.SendAfter(ctx, m.From, m.To, m.Raw, prev)
		if err := prev(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- e.recovered("outbox", r)
				}
			}()
			done <- e.settle(m, sendErr)
		}()
		prev = sync.OnceValue(func() error { return <-done })
	}
	return prev()
}

// settle records the result of one attempt. It logs and reports the
// outcome only once it is committed, so whatever reads the log or the
// metrics sees the store agree.
func (e *Engine) settle(m *store.OutMail, sendErr error) error {
	now := e.opts().Now()
	var cur *store.OutMail
	err := e.db.Update(func(tx *store.Tx) error {
		var err error
		if cur, err = tx.Mail(m.ID); err != nil {
			return err
		}
		prev := cur.NextAt
		switch {
		case sendErr == nil:
			cur.Status, cur.SentAt, cur.LastError = store.MailSent, now, ""
			if err := tx.PutMail(cur, prev); err != nil {
				return err
			}
			return e.mailSent(tx, cur, now)
		case mailbox.IsPermanent(sendErr) || now.Sub(cur.CreatedAt) > giveUpAfter:
			cur.Status, cur.LastError = store.MailFailed, sendErr.Error()
			if err := tx.PutMail(cur, prev); err != nil {
				return err
			}
			return e.mailFailed(tx, cur, now)
		default:
			cur.LastError = sendErr.Error()
			return tx.PutMail(cur, prev)
		}
	})
	if err != nil {
		return err
	}
	log := e.log.With("component", "outbox", "case_id", m.CaseID, "mail_id", m.ID, "kind", m.Kind, "attempts", cur.Attempts)
	obs := e.opts().Observer
	switch cur.Status {
	case store.MailSent:
		log.Info("mail sent")
		if obs.MailSent != nil {
			obs.MailSent(cur.Kind)
		}
	case store.MailFailed:
		log.Error("mail failed for good", "err", sendErr)
		if obs.MailFailed != nil {
			obs.MailFailed(cur.Kind)
		}
	default:
		log.Warn("mail not sent, will retry", "next_at", cur.NextAt, "err", sendErr)
	}
	return nil
}

// mailSent applies what a delivered mail means for its case: an
// acknowledgment handed to SMTP meets the acknowledge timer.
func (e *Engine) mailSent(tx *store.Tx, m *store.OutMail, now time.Time) error {
	if m.CaseID == "" || MailKind(m.Kind) != MailAck {
		return nil
	}
	c, err := tx.Case(m.CaseID)
	if err != nil {
		return err
	}
	if dl := deadline(c, TimerAcknowledge); dl != nil && dl.MetAt == nil {
		met := now
		dl.MetAt = &met
		if err := tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventTimerMet), Detail: string(TimerAcknowledge)}); err != nil {
			return err
		}
		return e.putCase(tx, c)
	}
	return nil
}

// mailFailed records a mail that will never be delivered on its case and,
// when it was not mail to staff, tells staff.
func (e *Engine) mailFailed(tx *store.Tx, m *store.OutMail, now time.Time) error {
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
	detail := fmt.Sprintf("%s to %s: %s", m.Kind, strings.Join(m.To, ", "), m.LastError)
	if err := tx.AppendEvent(m.CaseID, store.Event{At: now, Type: string(EventMailFailed), Detail: detail}); err != nil {
		return err
	}
	if staffKinds[MailKind(m.Kind)] {
		return nil
	}
	data := e.caseData(c, &store.Message{At: c.ReceivedAt})
	data.Notes = []string{"Undelivered: " + detail}
	_, err = e.queue(tx, c, e.opts().toStaff(MailFailed, data), now)
	return err
}

// backoff is the delay before attempt n+1: exponential from retryBase,
// capped, with ±20% jitter so a recovering server is not hit in lockstep.
func backoff(attempts int) time.Duration {
	d := retryBase << min(attempts-1, 20)
	if d > retryCap || d <= 0 {
		d = retryCap
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return d + jitter
}

// recovered logs and counts the panic r of component and returns it as an
// error. Call it from a deferred recover.
func (e *Engine) recovered(component string, r any) error {
	e.log.Error(component+" panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	e.panicked(component)
	return fmt.Errorf("%s panicked: %v", component, r)
}

func (e *Engine) panicked(component string) {
	if f := e.opts().Observer.Panicked; f != nil {
		f(component)
	}
}
