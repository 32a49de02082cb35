package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"disclosured/advisory"
	"disclosured/calendar"
	"disclosured/chart"
	"disclosured/store"
	"disclosured/templates"
)

// Scheduled mail about the whole programme (the weekly overview, the
// monthly SLA report) and the publication day of a case. Each is durable
// work with a due time in the store, like a deadline: a job's next due time
// lives in the jobs bucket, a publication in the case and the due index.
// A sweep sends each once per due time; after downtime it sends it once and
// moves on to the next due time after now, not once per missed slot.

// Every is a recurring schedule; robfig/cron's Schedule is one.
type Every interface {
	Next(time.Time) time.Time
}

// Schedule is one scheduled programme mail. A nil Every or no recipients
// turns it off.
type Schedule struct {
	// Spec is the schedule as configured; when it changes, the next due
	// time is computed afresh and nothing is sent for the old one.
	Spec  string
	Every Every
	To    []string
}

// Job names, as stored and as sweep reports them.
const (
	JobOverview = "overview"
	JobReport   = "report"
)

// The mail and events of this file.
const (
	MailOverview        MailKind = "overview"
	MailShow            MailKind = "show"
	MailReport          MailKind = "report"
	MailPublishReminder MailKind = "publish-reminder"
	MailPublishToday    MailKind = "publish-today"
	// MailPublished tells the reporter their report is published.
	MailPublished MailKind = "published"

	EventPublicationReminder EventType = "publication_reminder"
	EventPublished           EventType = "published"
)

// PublishRemindDays is how many working days before an agreed publication
// staff are reminded.
const PublishRemindDays = 7

// sweepJobs runs the programme mails that are due at now. Each job's
// content is built in a read transaction, so that a report over every
// case never holds the writer; the job's due time is then checked again
// and moved on in the transaction that queues the mail.
func (e *Engine) sweepJobs(now time.Time, dryRun bool) ([]SweepAction, error) {
	var out []SweepAction
	jobs := []struct {
		name  string
		s     Schedule
		build func(time.Time) (outgoing, error)
	}{
		{JobOverview, e.opts().Overview, e.overviewMail},
		{JobReport, e.opts().MonthlyReport, e.reportMail},
	}
	for _, j := range jobs {
		a, err := e.runJob(j.name, j.s, now, dryRun, j.build)
		if err != nil {
			return out, err
		}
		if a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}

func (e *Engine) runJob(name string, s Schedule, now time.Time, dryRun bool, build func(time.Time) (outgoing, error)) (*SweepAction, error) {
	if s.Every == nil || len(s.To) == 0 {
		return nil, nil
	}
	var job store.Job
	if err := e.db.View(func(tx *store.Tx) (err error) { job, err = tx.Job(name); return err }); err != nil {
		return nil, err
	}
	arm := job.Spec != s.Spec || job.Next.IsZero()
	if !arm && now.Before(job.Next) {
		return nil, nil
	}
	var o outgoing
	if !arm {
		var err error
		if o, err = build(now); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		o.to = s.To
	}
	sent := false
	err := e.db.Update(func(tx *store.Tx) error {
		cur, err := tx.Job(name)
		if err != nil {
			return err
		}
		if cur.Spec != job.Spec || !cur.Next.Equal(job.Next) {
			return nil // another sweep got here first
		}
		next := store.Job{Spec: s.Spec, Next: s.Every.Next(now), Last: cur.Last, Ran: cur.Ran}
		if arm {
			// Armed from the real clock too: a `sweep --at` in the past
			// must not arm a due time that the daemon would then "catch
			// up" at once.
			if real := e.opts().Now(); real.After(now) {
				next.Next = s.Every.Next(real)
			}
		} else {
			if _, err := e.queueProgramme(tx, o); err != nil {
				return err
			}
			next.Last, next.Ran, sent = cur.Next, now, true
		}
		if err := tx.PutJob(name, next); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !sent {
		return nil, nil
	}
	if !dryRun {
		e.log.Info("scheduled mail queued", "job", name, "due", job.Next)
	}
	return &SweepAction{Timer: name, Kind: name, Due: job.Next}, nil
}

// overviewMail is the overview as of now, to staff.
func (e *Engine) overviewMail(now time.Time) (outgoing, error) {
	ov, err := e.Overview(now)
	if err != nil {
		return outgoing{}, err
	}
	return outgoing{kind: MailOverview, lang: e.opts().Languages[0],
		data: e.overviewData(ov), autoSubmitted: "auto-generated"}, nil
}

// ReportPeriod is the calendar month before the one now falls in, in the
// organisation's zone: what the monthly report covers.
func (e *Engine) ReportPeriod(now time.Time) (from, to time.Time) {
	local := now.In(e.opts().Calendar.Location())
	to = time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, local.Location())
	return to.AddDate(0, -1, 0), to
}

// reportMail is the SLA report of last month, with its chart.
func (e *Engine) reportMail(now time.Time) (outgoing, error) {
	from, to := e.ReportPeriod(now)
	rep, err := Report(e.db, from, to)
	if err != nil {
		return outgoing{}, err
	}
	var text bytes.Buffer
	if err := WriteReport(&text, rep); err != nil {
		return outgoing{}, err
	}
	var png bytes.Buffer
	if err := Chart(&png, ChartTitle(from, to), rep, e.opts().Timers); err != nil {
		return outgoing{}, err
	}
	d := templates.Data{OrgName: e.opts().OrgName, OrgAddress: e.opts().OrgAddress,
		Period: e.formatDay(from) + " - " + e.formatDay(to.Add(-time.Nanosecond)), Report: strings.TrimRight(text.String(), "\n")}
	return outgoing{kind: MailReport, lang: e.opts().Languages[0], data: d,
		autoSubmitted: "auto-generated",
		attach:        []attachment{{name: "sla-" + from.Format("2006-01") + ".png", contentType: "image/png", data: png.Bytes()}}}, nil
}

// Chart draws rep as the report's PNG chart; durations are the timers'
// configured durations (Options.Timers).
func Chart(w io.Writer, title string, rep []TimerReport, durations map[TimerName]calendar.Duration) error {
	timers := make([]chart.Timer, len(rep))
	for i, r := range rep {
		timers[i] = chart.Timer{Name: r.Timer, Met: r.Met, Breached: r.Breached, Open: r.Open, Took: r.Took}
		// The time taken is wall time; only a calendar-day limit can be
		// drawn on the same axis.
		if d, ok := durations[TimerName(r.Timer)]; ok && !d.Working {
			timers[i].Limit = time.Duration(d.N) * 24 * time.Hour
		}
	}
	return chart.PNG(w, title, timers)
}

// ChartTitle is the chart's title for a report over [from, to).
func ChartTitle(from, to time.Time) string {
	if from.IsZero() && to.IsZero() {
		return "SLA, all cases"
	}
	if !from.IsZero() && from.AddDate(0, 1, 0).Equal(to) && from.Day() == 1 {
		return "SLA " + from.Format("January 2006")
	}
	f, t := "start", "now"
	if !from.IsZero() {
		f = from.Format(time.DateOnly)
	}
	if !to.IsZero() {
		t = to.Add(-time.Nanosecond).Format(time.DateOnly)
	}
	return "SLA " + f + " to " + t
}

// schedulePublication sets up the mails of an agreed publication date on c
// (YYYY-MM-DD in the organisation's zone): the reminder PublishRemindDays
// working days before, at the start of that working day, and the day's
// mails at the start of the day's working hours. A date agreed too late for
// the reminder gets none; the Done mail already told staff.
func (e *Engine) schedulePublication(c *store.Case, date string, at time.Time) error {
	cal := e.opts().Calendar
	day, err := time.ParseInLocation(time.DateOnly, date, cal.Location())
	if err != nil {
		return fmt.Errorf("publication date %q: %w", date, err)
	}
	p := &store.Publication{Date: date, Due: cal.DayStart(day),
		RemindAt: cal.DayStart(cal.WorkdaysFrom(day, -PublishRemindDays))}
	p.Reminded = !p.RemindAt.After(at)
	p.Next = p.Due
	if !p.Reminded {
		p.Next = p.RemindAt
	}
	c.PublishAt, c.Publication = date, p
	return nil
}

// sweepPublish acts on a case's publication schedule when the index says
// it is due: the reminder, or the day's mails. A sweep that catches up past
// the day sends only the day's mails.
func (e *Engine) sweepPublish(tx *store.Tx, c *store.Case, now time.Time) (*SweepAction, error) {
	p := c.Publication
	if p == nil || p.DoneAt != nil || p.Next.IsZero() || p.Next.After(now) {
		return nil, nil // stale index entry; PutCase drops it
	}
	data := e.caseData(c, &store.Message{At: now})
	data.Severity, data.CVE, data.PublishAt = c.Severity, c.CVE, e.formatDate(p.Date)
	d, err := e.draft(tx, c, now)
	if err != nil {
		return nil, err
	}
	data.Report = advisory.Text(d)
	if now.Before(p.Due) {
		p.Reminded, p.Next = true, p.Due
		if _, err := e.queue(tx, c, outgoing{kind: MailPublishReminder,
			lang: e.opts().Languages[0], to: e.opts().StaffNotify, data: data, autoSubmitted: "auto-generated"}, now); err != nil {
			return nil, err
		}
		return &SweepAction{CaseID: c.ID, Timer: store.TimerPublish, Kind: "publish-reminder", Due: p.Due},
			tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventPublicationReminder), Detail: p.Date})
	}
	csafDoc, err := advisory.CSAFJSON(d)
	if err != nil {
		return nil, fmt.Errorf("advisory for %s: %w", c.ID, err)
	}
	name := strings.TrimSuffix(advisory.FileName(c.ID), ".json")
	if _, err := e.queue(tx, c, outgoing{kind: MailPublishToday, lang: e.opts().Languages[0],
		to: e.opts().StaffNotify, data: data, autoSubmitted: "auto-generated",
		attach: []attachment{
			{name: name + ".txt", contentType: "text/plain; charset=utf-8", data: []byte(data.Report)},
			{name: name + ".json", contentType: "application/json", data: csafDoc},
		}}, now); err != nil {
		return nil, err
	}
	if c.Reporter.Addr != "" && c.ErasedAt == nil {
		rd := e.caseData(c, &store.Message{At: now})
		rd.PublishAt, rd.Credit = e.formatDate(p.Date), d.Credit
		msgID, err := e.queue(tx, c, outgoing{kind: MailPublished, lang: c.Language,
			to: []string{c.Reporter.Addr}, data: rd, inReplyTo: c.Thread, autoSubmitted: "auto-generated"}, now)
		if err != nil {
			return nil, err
		}
		c.Thread = msgID
	}
	done := now
	p.Reminded, p.DoneAt, p.Next = true, &done, time.Time{}
	return &SweepAction{CaseID: c.ID, Timer: store.TimerPublish, Kind: "publish-today", Due: p.Due},
		tx.AppendEvent(c.ID, store.Event{At: now, Type: string(EventPublished), Detail: p.Date})
}

// credit is how the reporter may be named: their own latest choice
// (#credit NAME or #anonymous) when they made one, else what staff
// recorded with #credit / #nocredit.
func credit(c *store.Case) string {
	for i := len(c.Consents) - 1; i >= 0; i-- {
		switch c.Consents[i].Kind {
		case "credit":
			return c.Consents[i].Value
		case "anonymous":
			return ""
		}
	}
	return c.Credit
}

// rewardPublic reports whether the reporter's latest choice allows the
// advisory to mention their reward (#publicreward, withdrawn by
// #privatereward). Without a choice it is not mentioned.
func rewardPublic(c *store.Case) bool {
	for i := len(c.Consents) - 1; i >= 0; i-- {
		switch c.Consents[i].Kind {
		case "publicreward":
			return true
		case "privatereward":
			return false
		}
	}
	return false
}

// draft assembles the advisory draft of c from the record. It carries
// nothing about the reporter but the credit they consented to and, if they
// agreed, the reward.
func (e *Engine) draft(tx *store.Tx, c *store.Case, now time.Time) (advisory.Draft, error) {
	_, domain, _ := strings.Cut(e.opts().OrgAddress, "@")
	d := advisory.Draft{ID: c.ID, Title: c.Subject, System: e.opts().OrgName, Severity: c.Severity,
		Reported: c.ReceivedAt, Credit: credit(c), CVE: c.CVE, Generated: now,
		Publisher: advisory.Publisher{Name: e.opts().OrgName, Namespace: "https://" + strings.ToLower(domain),
			Contact: e.opts().OrgAddress}}
	if c.ErasedAt != nil {
		d.Credit = ""
	}
	if c.Reward != nil && rewardPublic(c) {
		d.Reward = fmt.Sprintf("%d %s", c.Reward.Amount, c.Reward.Currency)
	}
	if dl := deadline(c, TimerResolve); dl != nil && dl.MetAt != nil && (stateOf(c) == StateResolved || stateOf(c) == StateClosed) {
		d.Fixed = *dl.MetAt
	}
	if c.PublishAt != "" {
		if t, err := time.ParseInLocation(time.DateOnly, c.PublishAt, e.opts().Calendar.Location()); err == nil {
			d.Published = t
		}
	}
	// The affected system: the first host of the report on our own domain.
	// Other hosts are left out: they may be the reporter's.
	msgs, err := tx.Messages(c.ID)
	if err != nil {
		return d, err
	}
	if len(msgs) > 0 {
		for _, h := range msgs[0].Hosts {
			h = strings.ToLower(h)
			if domain != "" && (h == strings.ToLower(domain) || strings.HasSuffix(h, "."+strings.ToLower(domain))) {
				d.System = h
				break
			}
		}
	}
	return d, nil
}

// Advisory is the advisory draft of case id as of now.
func (e *Engine) Advisory(id string, now time.Time) (advisory.Draft, error) {
	var d advisory.Draft
	err := e.db.View(func(tx *store.Tx) error {
		c, err := tx.Case(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s: %w", id, ErrNoCase)
		}
		if err != nil {
			return err
		}
		d, err = e.draft(tx, c, now)
		return err
	})
	return d, err
}
