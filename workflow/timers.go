package workflow

import (
	"time"

	"disclosured/store"
)

// meet records that a case's timer was met at at, once.
func (e *Engine) meet(c *store.Case, name TimerName, at time.Time, ch *change) {
	d := deadline(c, name)
	if d == nil || d.MetAt != nil {
		return
	}
	met := at
	d.MetAt = &met
	if ch != nil {
		ch.events = append(ch.events, store.Event{At: at, Type: string(EventTimerMet), Detail: string(name)})
	}
}

// startTimer (re)starts a timer from at with its configured duration.
func (e *Engine) startTimer(c *store.Case, name TimerName, at time.Time) {
	dur, ok := e.opts().Timers[name]
	if !ok {
		return
	}
	c.Deadlines[string(name)] = &store.Deadline{Start: at, Due: e.opts().Calendar.Add(at, dur)}
}

// stopTimer drops a timer that no longer applies (e.g. progress updates
// after the case is resolved).
func (e *Engine) stopTimer(c *store.Case, name TimerName) {
	if d := deadline(c, name); d != nil && d.MetAt == nil {
		delete(c.Deadlines, string(name))
	}
}

// pause marks the case's open timers as paused from at, until the
// reporter replies (#info).
func (e *Engine) pause(c *store.Case, at time.Time) {
	if c.PausedAt == nil {
		p := at
		c.PausedAt = &p
	}
}

// resume ends a pause: every open deadline moves by the business time the
// case was paused, so the reporter's silence does not count against us.
func (e *Engine) resume(c *store.Case, at time.Time) {
	if c.PausedAt == nil {
		return
	}
	paused := e.opts().Calendar.Business(*c.PausedAt, at)
	for _, d := range c.Deadlines {
		if d.MetAt == nil && !d.Breached {
			d.Due = e.opts().Calendar.AddBusiness(d.Due, paused)
			d.Paused += paused
		}
	}
	c.Pauses = append(c.Pauses, store.Pause{From: *c.PausedAt, To: at, Business: paused})
	c.PausedAt = nil
}
