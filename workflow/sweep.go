package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"disclosured/store"
)

// SweepAction is one thing a sweep did (or would do, in a dry run).
type SweepAction struct {
	CaseID string    `json:"case_id"`
	Timer  string    `json:"timer"`
	Kind   string    `json:"kind"` // reminder, overdue, status-update, publish-reminder, publish-today, overview, report
	Due    time.Time `json:"due"`
	// Percent is the reminder fraction, as a percentage.
	Percent int `json:"percent,omitempty"`
}

var errDryRun = errors.New("dry run")

// Sweep runs the timer jobs as if the time were now (SPEC §6): reminders to
// staff at the configured fractions, one Overdue mail to staff and
// escalation at breach, and the scheduled status update to the reporter
// when no progress update was sent in time. It reads only the due index,
// and every action is recorded on the deadline in the transaction that
// queues its mail, so sweeping the same time twice sends nothing twice. A
// sweep that catches up after downtime sends at most one mail per case and
// timer: the latest one due. With dryRun nothing is stored or sent.
func (e *Engine) Sweep(ctx context.Context, now time.Time, dryRun bool) ([]SweepAction, error) {
	e = e.pin()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var actions []SweepAction
	err := e.db.Update(func(tx *store.Tx) error {
		actions = actions[:0]
		cases := map[string]*store.Case{}
		for _, ref := range tx.DueTimers(now) {
			c, ok := cases[ref.CaseID]
			if !ok {
				var err error
				if c, err = tx.Case(ref.CaseID); err != nil {
					return err
				}
				cases[ref.CaseID] = c
			}
			var a *SweepAction
			var err error
			if ref.Timer == store.TimerPublish {
				a, err = e.sweepPublish(tx, c, now)
			} else {
				a, err = e.sweepTimer(tx, c, TimerName(ref.Timer), now)
			}
			if err != nil {
				return err
			}
			if a != nil {
				actions = append(actions, *a)
			}
		}
		for _, c := range cases {
			if err := e.putCase(tx, c); err != nil {
				return err
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("sweep at %s: %w", now.Format(time.RFC3339), err)
	}
	jobs, err := e.sweepJobs(now, dryRun)
	actions = append(actions, jobs...)
	if err != nil {
		return actions, fmt.Errorf("sweep at %s: %w", now.Format(time.RFC3339), err)
	}
	if !dryRun && len(actions) > 0 {
		e.log.Info("sweep sent timer mail", "actions", len(actions))
		e.kickOutbox()
	}
	return actions, nil
}

// sweepTimer acts on one deadline of c that the index says is due.
func (e *Engine) sweepTimer(tx *store.Tx, c *store.Case, name TimerName, now time.Time) (*SweepAction, error) {
	d := deadline(c, name)
	if d == nil || d.Next.IsZero() || d.Next.After(now) || d.MetAt != nil || d.Breached || !e.running(c) {
		return nil, nil // stale index entry; putCase reschedules it
	}
	data := e.caseData(c, &store.Message{At: c.ReceivedAt})
	data.Timer, data.Due = string(name), e.formatTime(d.Due)
	fr := e.opts().RemindAt
	switch {
	case !now.Before(d.Due) && name == TimerProgress:
		// The policy promises progress updates: send one on our own, and
		// start counting again.
		if c.Reporter.Addr == "" {
			e.meet(c, name, now, nil)
			return nil, nil
		}
		data.NextDate = e.nextPromise(c)
		o := toReporter(c, MailStatusUpdate, data)
		o.autoSubmitted = "auto-generated" // nobody asked for it
		msgID, err := e.queue(tx, c, o, now)
		if err != nil {
			return nil, err
		}
		c.Thread = msgID
		e.meet(c, name, now, nil)
		e.startTimer(c, name, now)
		return &SweepAction{CaseID: c.ID, Timer: string(name), Kind: string(MailStatusUpdate), Due: d.Due},
			tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventStatusUpdate), Detail: string(name)})
	case !now.Before(d.Due):
		d.Breached, d.Reminders = true, len(fr)
		o := e.opts().toStaff(MailOverdue, data)
		o.to = append(append([]string(nil), o.to...), e.opts().StaffEscalate...)
		if _, err := e.queue(tx, c, o, now); err != nil {
			return nil, err
		}
		return &SweepAction{CaseID: c.ID, Timer: string(name), Kind: string(MailOverdue), Due: d.Due},
			tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventTimerBreached), Detail: string(name)})
	}
	last := -1
	for i := d.Reminders; i < len(fr); i++ {
		if !e.fractionTime(name, d, fr[i]).After(now) {
			last = i
		}
	}
	if last < 0 {
		return nil, nil
	}
	d.Reminders = last + 1
	data.Percent = int(fr[last]*100 + 0.5)
	if _, err := e.queue(tx, c, e.opts().toStaff(MailReminder, data), now); err != nil {
		return nil, err
	}
	return &SweepAction{CaseID: c.ID, Timer: string(name), Kind: string(MailReminder), Due: d.Due, Percent: data.Percent},
		tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventTimerReminder), Detail: fmt.Sprintf("%s %d%%", name, data.Percent)})
}

// running reports whether a case's timers run: not in an end state, not
// resolved, and not paused waiting for the reporter.
func (e *Engine) running(c *store.Case) bool {
	switch stateOf(c) {
	case StateResolved, StateClosed, StateRejected, StateDuplicate:
		return false
	}
	return c.PausedAt == nil
}

// fractionTime is when fraction f of a deadline has elapsed: in business
// time for working-day timers, in wall time for calendar-day timers.
func (e *Engine) fractionTime(name TimerName, d *store.Deadline, f float64) time.Time {
	if dur, ok := e.opts().Timers[name]; ok && dur.Working {
		span := e.opts().Calendar.Business(d.Start, d.Due)
		return e.opts().Calendar.AddBusiness(d.Start, time.Duration(f*float64(span)))
	}
	return d.Start.Add(time.Duration(f * float64(d.Due.Sub(d.Start))))
}

// schedule sets Next on every deadline of c: the next reminder or the due
// time, or zero when the sweep has nothing more to do for it.
func (e *Engine) schedule(c *store.Case) {
	for name, d := range c.Deadlines {
		d.Next = time.Time{}
		if d.MetAt != nil || d.Breached || !e.running(c) {
			continue
		}
		d.Next = d.Due
		if d.Reminders < len(e.opts().RemindAt) {
			if t := e.fractionTime(TimerName(name), d, e.opts().RemindAt[d.Reminders]); t.Before(d.Due) {
				d.Next = t
			}
		}
	}
}

// putCase schedules the case's timers and writes it.
func (e *Engine) putCase(tx *store.Tx, c *store.Case) error {
	e.schedule(c)
	return tx.PutCase(c)
}
