package workflow

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"disclosured/store"
	"disclosured/templates"
)

// The overview is the staff's view of the whole programme (the weekly
// digest, and the answer to #overview): every case still being worked on,
// with whom it waits for and its next deadline, overdue ones first; the
// resolved cases waiting for their publication; and the week's numbers. It
// is built from the store's active and tally indexes, so it costs the same
// for a thousand stored cases as for a hundred thousand with as many open.

// Who a case waits for.
const (
	WaitsForUs         = "us"
	WaitsForReporter   = "reporter"
	WaitsForThirdParty = "third party"
)

// OverviewCase is one case in the overview.
type OverviewCase struct {
	ID       string `json:"id"`
	Subject  string `json:"subject"`
	Severity string `json:"severity,omitempty"`
	State    string `json:"state"`
	WaitsFor string `json:"waits_for"`
	// Timer is the next deadline's timer ("" when none runs), Due its due
	// time, Used how much of it has elapsed in percent (100 and more when
	// overdue).
	Timer   TimerName `json:"timer,omitempty"`
	Due     time.Time `json:"due,omitzero"`
	Used    int       `json:"used,omitempty"`
	Overdue bool      `json:"overdue,omitempty"`
	// PublishAt is the agreed publication date, YYYY-MM-DD.
	PublishAt string `json:"publish_at,omitempty"`
}

// Overview is the programme at one moment.
type Overview struct {
	At time.Time `json:"at"`
	// Open are the cases being worked on, overdue first, then by due time.
	Open []OverviewCase `json:"open"`
	// Publishing are the resolved cases, and any with a publication to
	// come, earliest publication first.
	Publishing []OverviewCase `json:"publishing"`
	// WeekFrom is the start of the week the numbers count ([WeekFrom, At)).
	WeekFrom time.Time   `json:"week_from"`
	Week     store.Tally `json:"week"`
}

// Overview builds the overview as of now.
func (e *Engine) Overview(now time.Time) (*Overview, error) {
	var ov *Overview
	err := e.db.View(func(tx *store.Tx) (err error) {
		ov, err = e.overviewTx(tx, now)
		return err
	})
	return ov, err
}

func (e *Engine) overviewTx(tx *store.Tx, now time.Time) (*Overview, error) {
	ov := &Overview{At: now, WeekFrom: now.AddDate(0, 0, -7), Open: []OverviewCase{}, Publishing: []OverviewCase{}}
	err := func() error {
		cases, err := tx.ActiveCases()
		if err != nil {
			return err
		}
		for _, c := range cases {
			oc := e.overviewCase(c, now)
			switch stateOf(c) {
			case StateNew, StateAcknowledged, StateAssessed:
				ov.Open = append(ov.Open, oc)
			default:
				if p := c.Publication; p != nil && p.DoneAt != nil {
					continue // published; only #close is left to do
				}
				ov.Publishing = append(ov.Publishing, oc)
			}
		}
		ov.Week = tx.Tallies(ov.WeekFrom, now)
		return nil
	}()
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	sort.Slice(ov.Open, func(i, j int) bool {
		a, b := ov.Open[i], ov.Open[j]
		switch {
		case a.Overdue != b.Overdue:
			return a.Overdue
		case a.Due.IsZero() != b.Due.IsZero():
			return !a.Due.IsZero()
		case !a.Due.Equal(b.Due):
			return a.Due.Before(b.Due)
		}
		return a.ID < b.ID
	})
	sort.Slice(ov.Publishing, func(i, j int) bool {
		a, b := ov.Publishing[i], ov.Publishing[j]
		if (a.PublishAt == "") != (b.PublishAt == "") {
			return a.PublishAt != ""
		}
		if a.PublishAt != b.PublishAt {
			return a.PublishAt < b.PublishAt
		}
		return a.ID < b.ID
	})
	return ov, nil
}

// overviewCase summarises c as of now.
func (e *Engine) overviewCase(c *store.Case, now time.Time) OverviewCase {
	oc := OverviewCase{ID: c.ID, Subject: c.Subject, Severity: c.Severity, State: c.State,
		WaitsFor: WaitsForUs, PublishAt: c.PublishAt}
	switch {
	case c.PausedAt != nil:
		oc.WaitsFor = WaitsForReporter
	case c.ThirdParty != "" && stateOf(c) != StateResolved:
		oc.WaitsFor = WaitsForThirdParty
	}
	// The clock of a paused case stands still where the pause began.
	at := now
	if c.PausedAt != nil {
		at = *c.PausedAt
	}
	var next *store.Deadline
	for key, d := range c.Deadlines {
		name := TimerName(key)
		if d.MetAt != nil || d.Due.IsZero() {
			continue
		}
		overdue := d.Breached || !at.Before(d.Due)
		better := next == nil || overdue && !oc.Overdue ||
			overdue == oc.Overdue && (d.Due.Before(next.Due) || d.Due.Equal(next.Due) && name < oc.Timer)
		if better {
			next, oc.Timer, oc.Due, oc.Overdue = d, name, d.Due, overdue
		}
	}
	if next != nil {
		oc.Used = e.used(oc.Timer, next, at)
	}
	return oc
}

// used is how much of deadline d has elapsed at t, in percent: in business
// time for working-day timers, in wall time for calendar-day timers.
func (e *Engine) used(name TimerName, d *store.Deadline, t time.Time) int {
	var done, span time.Duration
	if dur, ok := e.opts().Timers[name]; ok && dur.Working {
		done, span = e.opts().Calendar.Business(d.Start, t), e.opts().Calendar.Business(d.Start, d.Due)
	} else {
		done, span = t.Sub(d.Start), d.Due.Sub(d.Start)
	}
	if span <= 0 {
		return 100
	}
	return max(0, int(100*done/span))
}

// overviewData is the overview as template data.
func (e *Engine) overviewData(ov *Overview) templates.Data {
	d := templates.Data{OrgName: e.opts().OrgName, OrgAddress: e.opts().OrgAddress,
		ReceivedAt: e.formatTime(ov.At), Period: e.formatDay(ov.WeekFrom) + " - " + e.formatDay(ov.At)}
	line := func(oc OverviewCase) templates.OverviewLine {
		l := templates.OverviewLine{CaseID: oc.ID, Subject: oneLine(oc.Subject, 70), Severity: oc.Severity,
			State: oc.State, WaitsFor: oc.WaitsFor, Timer: string(oc.Timer), Used: oc.Used, Overdue: oc.Overdue}
		if l.Severity == "" {
			l.Severity = "not assessed"
		}
		if !oc.Due.IsZero() {
			l.Due = e.formatTime(oc.Due)
		}
		if oc.PublishAt != "" {
			l.PublishAt = e.formatDate(oc.PublishAt)
		}
		return l
	}
	for _, oc := range ov.Open {
		d.Open = append(d.Open, line(oc))
		if oc.Overdue {
			d.Count++
		}
	}
	for _, oc := range ov.Publishing {
		d.Publishing = append(d.Publishing, line(oc))
	}
	d.Week = templates.WeekNumbers{Opened: ov.Week.Opened, Resolved: ov.Week.Resolved, Rewards: ov.Week.Rewards}
	var totals []string
	for cur, n := range ov.Week.RewardTotal {
		totals = append(totals, fmt.Sprintf("%d %s", n, cur))
	}
	sort.Strings(totals)
	d.Week.RewardTotal = strings.Join(totals, ", ")
	return d
}

// formatDay renders t's date for people, in the organisation's zone.
func (e *Engine) formatDay(t time.Time) string {
	return t.In(e.opts().Calendar.Location()).Format("Mon 2 Jan 2006")
}

// oneLine folds attacker-written text (a subject) to one line of at most n
// runes, so it cannot fake lines or case tags of its own in staff mail.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
