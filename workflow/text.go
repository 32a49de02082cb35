package workflow

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteCase prints a case for people: what `show` prints, and what #show
// sends staff by mail.
func WriteCase(w io.Writer, v *CaseView, loc *time.Location) {
	ts := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") }
	str := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	reporter := v.Reporter
	if v.ReporterName != "" {
		reporter = v.ReporterName + " <" + v.Reporter + ">"
	}
	fmt.Fprintf(w, "Case:      %s\nState:     %s\nReporter:  %s\nSubject:   %s\nReceived:  %s\nClass:     %s\n",
		v.ID, v.State, reporter, oneLine(v.Subject, 200), ts(v.ReceivedAt), v.Class)
	fmt.Fprintf(w, "Severity:  %s\nFix by:    %s\nThird party: %s\n", str(v.Severity), str(v.FixBy), str(v.ThirdParty))
	if v.Reward != nil {
		fmt.Fprintf(w, "Reward:    %d %s\n", v.Reward.Amount, v.Reward.Currency)
	}
	if v.PublishAt != nil {
		fmt.Fprintf(w, "Publish:   %s\n", *v.PublishAt)
	}
	if v.CVE != nil {
		fmt.Fprintf(w, "CVE:       %s\n", *v.CVE)
	}
	if v.RefersTo != nil {
		fmt.Fprintf(w, "Refers to: %s\n", *v.RefersTo)
	}
	fmt.Fprintln(w, "\nDeadlines:")
	for _, name := range Timers {
		d, ok := v.Deadlines[name]
		if !ok {
			continue
		}
		status := "open"
		if d.MetAt != nil {
			status = "met " + ts(*d.MetAt)
		}
		if d.Breached {
			status += ", breached"
		}
		fmt.Fprintf(w, "  %-12s due %s  %s\n", name, ts(d.Due), status)
	}
	fmt.Fprintln(w, "\nMessages:")
	for _, m := range v.Messages {
		status := m.Class
		if m.Direction == "out" {
			status = m.Status
			if m.LastError != "" {
				status += " (" + m.LastError + ")"
			}
		}
		fmt.Fprintf(w, "  %s %-3s %-16s %s -> %s  [%s]\n      %s\n", ts(m.At), m.Direction, m.Kind, m.From,
			strings.Join(m.To, ","), status, oneLine(m.Subject, 100))
		for _, p := range m.Problems {
			fmt.Fprintf(w, "      problem: %s\n", p)
		}
		for _, a := range m.Attachments {
			fmt.Fprintf(w, "      attachment: %s (%s, %d bytes)\n", a.Filename, a.ContentType, a.Size)
		}
	}
	fmt.Fprintln(w, "\nEvents:")
	for _, ev := range v.Events {
		fmt.Fprintf(w, "  %s %-16s %s %s\n", ts(ev.At), ev.Type, ev.Actor, ev.Detail)
	}
}

// WriteReport prints an SLA report as a table: what `report` prints, and
// the body of the monthly Report mail.
func WriteReport(w io.Writer, rep []TimerReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIMER\tMET\tBREACHED\tOPEN\tMEDIAN\tWORST")
	for _, r := range rep {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", r.Timer, r.Met, r.Breached, r.Open, r.MedianText, r.WorstText)
	}
	return tw.Flush()
}
