package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// sweepAction is one element of `sweep --json`.
type sweepAction struct {
	CaseID  string    `json:"case_id"`
	Timer   string    `json:"timer"`
	Kind    string    `json:"kind"`
	Due     time.Time `json:"due"`
	Percent int       `json:"percent"`
}

func (a sweepAction) String() string {
	return fmt.Sprintf("%s %s %s %d%% due %s", a.CaseID, a.Timer, a.Kind, a.Percent, a.Due.Format(time.RFC3339))
}

// sweepJSON runs `sweep --at at --json [extra...]` against the store (the
// daemon must be stopped) and returns the actions.
func sweepJSON(t *testing.T, cfg string, at time.Time, extra ...string) []sweepAction {
	t.Helper()
	args := append([]string{"sweep", "--at", at.Format(time.RFC3339), "--json"}, extra...)
	out, code := runCLI(t, cfg, args...)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	var acts []sweepAction
	if err := json.Unmarshal([]byte(out), &acts); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return acts
}

// expectActions fails unless acts is exactly want (order-insensitive;
// Due is compared only when set in want).
func expectActions(t *testing.T, what string, acts []sweepAction, want ...sweepAction) {
	t.Helper()
	ok := len(acts) == len(want)
	used := make([]bool, len(acts))
	for _, w := range want {
		found := false
		for i, a := range acts {
			if used[i] || a.CaseID != w.CaseID || a.Timer != w.Timer || a.Kind != w.Kind || a.Percent != w.Percent {
				continue
			}
			if !w.Due.IsZero() && !a.Due.Equal(w.Due) {
				continue
			}
			used[i], found = true, true
			break
		}
		ok = ok && found
	}
	if !ok {
		t.Errorf("%s: actions %v, want %v", what, acts, want)
	}
}

// TestSweepRemindersAndBreachOnce drives the timers of one case with
// `sweep --at` on a business calendar: reminders at 50% and 80% of the
// assess promise in working hours, one breach, idempotent sweeps, a dry
// run that changes nothing, and other timers silent before their time.
//
// The report is received (IMAP INTERNALDATE) on a Monday in the PAST:
// Dovecot replaces a future INTERNALDATE given to APPEND with the current
// time. So the daemon must not sweep on the real clock while the case is
// being simulated: sla.sweep never fires during the test, the daemon's
// start-up sweep runs before the report arrives, and the second start-up
// sweep, on the real clock, catches up with what is due by then (the
// resolve breach), which the test expects.
func TestSweepRemindersAndBreachOnce(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	sec, rep, staff := env["MAILSTACK_SECURITY_USER"], env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"]
	cfg := writeConfig(t, env, map[string]any{
		"sla.timezone":      "Europe/Amsterdam",
		"sla.working_hours": "09:00-17:00",
		"sla.working_days":  "mon..fri",
		"sla.holidays":      "nl",
		"sla.acknowledge":   "1wd",
		"sla.assess":        "3wd",
		"sla.progress":      "10wd",
		"sla.resolve":       "60d",
		"sla.remind_at":     []float64{0.5, 0.8},
		"sla.sweep":         "0 0 1 1 *", // 1 January only: no cron sweep during the test
	})
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, ams)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}

	// Received Monday 2 March 2026, 10:00 in Amsterdam (CET, +01:00).
	received := at("2026-03-02 10:00:00")
	if received.Format(time.RFC3339) != "2026-03-02T10:00:00+01:00" || received.Weekday() != time.Monday {
		t.Fatalf("received = %s (%s)", received.Format(time.RFC3339), received.Weekday())
	}
	resolveDue := at("2026-05-01 10:00:00") // 60 calendar days, same wall-clock time (CEST)
	if !time.Now().After(resolveDue.AddDate(0, 0, 1)) {
		t.Skip("the test's fixed dates must lie in the past")
	}
	assessDue := at("2026-03-05 10:00:00") // 3 working days: 7h Mon, 8h Tue, 8h Wed, 1h Thu
	remind50 := at("2026-03-03 14:00:00")  // 12 working hours: 7h Mon + 5h Tue
	remind80 := at("2026-03-04 13:12:00")  // 19.2 working hours: 7h Mon + 8h Tue + 4h12m Wed
	for _, c := range []struct {
		from time.Time
		dur  string
		want time.Time
	}{
		{received, "3wd", assessDue},
		{received, "1wd", at("2026-03-03 10:00:00")},
		{received, "2wd", at("2026-03-04 10:00:00")},
		{received, "60d", resolveDue},
		// The reminder points, from a day boundary: 12h and 19.2h of work.
		{at("2026-03-02 14:00:00"), "1wd", remind50},
		{at("2026-03-03 13:12:00"), "1wd", remind80},
	} {
		out, code := runCLI(t, cfg, "calendar", "add", c.from.Format(time.RFC3339), c.dur)
		if code != 0 {
			t.Fatalf("calendar add %s: exit %d", c.dur, code)
		}
		if got := strings.TrimSpace(out); got != c.want.Format(time.RFC3339) {
			t.Errorf("calendar add %s %s = %s, want %s", c.from.Format(time.RFC3339), c.dur, got, c.want.Format(time.RFC3339))
		}
	}

	// Start the daemon first, so its start-up sweep (on the real clock)
	// is over before the report exists; then deliver the report.
	d := startDaemon(t, cfg)
	waitLog(t, d, "imap connected", reactTimeout)
	mark := marker(t)
	subject := "IDOR on invoice download " + mark
	msgID := "<timer-" + mark + "@example.org>"
	raw := buildMail([][2]string{
		{"From", "Rita Reporter <" + rep + ">"}, {"To", sec}, {"Subject", subject}, {"Message-ID", msgID},
		// The Date header says otherwise: the receipt time is INTERNALDATE.
		{"Date", time.Now().Format(time.RFC1123Z)},
		{"MIME-Version", "1.0"}, {"Content-Type", "text/plain; charset=utf-8"},
	}, "Hello,\n\nhttps://billing.example.test/invoices/1001.pdf is served to any logged-in user (marker "+mark+").\n")
	appendMail(t, env, sec, pw, "INBOX", raw, received)

	ack := waitForMail(t, env, rep, pw, "INBOX", func(raw []byte) bool {
		return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == msgID
	}, reactTimeout)
	id := ackSubject.FindStringSubmatch(subjectOf(ack))[1]
	if !strings.HasPrefix(id, "CS-2026-") {
		t.Errorf("case ID %s: want the year of receipt, 2026", id)
	}
	if body := mailBody(ack); !strings.Contains(body, "Thu 5 Mar 2026 10:00") {
		t.Errorf("acknowledgement does not promise the assessment by Thu 5 Mar 2026 10:00:\n%s", body)
	}
	waitForMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] New report:"), reactTimeout)
	d.stop(t)

	v := showFull(t, cfg, id)
	if got, err := time.Parse(time.RFC3339, v.ReceivedAt); err != nil || !got.Equal(received) {
		t.Errorf("received_at = %s, want %s (the INTERNALDATE)", v.ReceivedAt, received.Format(time.RFC3339))
	}
	if dl := v.Deadlines["assess"]; !dl.Due.Equal(assessDue) {
		t.Errorf("assess due %s, want %s", dl.Due.Format(time.RFC3339), assessDue.Format(time.RFC3339))
	}
	if dl := v.Deadlines["resolve"]; !dl.Due.Equal(resolveDue) {
		t.Errorf("resolve due %s, want %s", dl.Due.Format(time.RFC3339), resolveDue.Format(time.RFC3339))
	}
	if dl := v.Deadlines["acknowledge"]; dl.MetAt == nil {
		t.Fatalf("acknowledge deadline not met after the acknowledgement was sent: %+v", v.Deadlines)
	}

	r50 := sweepAction{CaseID: id, Timer: "assess", Kind: "reminder", Percent: 50, Due: assessDue}
	r80 := sweepAction{CaseID: id, Timer: "assess", Kind: "reminder", Percent: 80, Due: assessDue}
	over := sweepAction{CaseID: id, Timer: "assess", Kind: "overdue", Due: assessDue}

	// The 50% point, to the second, without changing anything.
	expectActions(t, "dry run just before 50%", sweepJSON(t, cfg, remind50.Add(-time.Second), "--dry-run"))
	expectActions(t, "dry run at 50%", sweepJSON(t, cfg, remind50, "--dry-run"), r50)

	expectActions(t, "sweep Tue 13:59", sweepJSON(t, cfg, at("2026-03-03 13:59:00")))
	expectActions(t, "sweep Tue 14:30", sweepJSON(t, cfg, at("2026-03-03 14:30:00")), r50)
	expectActions(t, "sweep Tue 14:30 again", sweepJSON(t, cfg, at("2026-03-03 14:30:00")))

	// Dry run at Wed 13:30: shows the 80% reminder, stores nothing.
	before := showFull(t, cfg, id)
	expectActions(t, "dry run just before 80%", sweepJSON(t, cfg, remind80.Add(-time.Second), "--dry-run"))
	expectActions(t, "dry run Wed 13:30", sweepJSON(t, cfg, at("2026-03-04 13:30:00"), "--dry-run"), r80)
	out, code := runCLI(t, cfg, "sweep", "--at", at("2026-03-04 13:30:00").Format(time.RFC3339), "--dry-run")
	if code != 0 || !strings.Contains(out, "1 timer actions") || !strings.Contains(out, id) ||
		!strings.Contains(out, "would queue") || !strings.Contains(out, "80%") {
		t.Errorf("sweep --dry-run (text) at Wed 13:30: exit %d, want one 80%% reminder that would be queued:\n%s", code, out)
	}
	after := showFull(t, cfg, id)
	if len(after.Events) != len(before.Events) || len(after.Messages) != len(before.Messages) {
		t.Errorf("dry run changed the case: %d events, %d messages before; %d, %d after",
			len(before.Events), len(before.Messages), len(after.Events), len(after.Messages))
	}
	expectActions(t, "sweep Wed 13:30", sweepJSON(t, cfg, at("2026-03-04 13:30:00")), r80)

	expectActions(t, "dry run just before the assess deadline", sweepJSON(t, cfg, assessDue.Add(-time.Second), "--dry-run"))
	expectActions(t, "sweep Thu 11:00", sweepJSON(t, cfg, at("2026-03-05 11:00:00")), over)
	expectActions(t, "sweep Thu 11:00 again", sweepJSON(t, cfg, at("2026-03-05 11:00:00")))

	// Much later: the breach is not told again, and the resolve timer
	// (60 calendar days, 50% after 30 days) is not due yet.
	expectActions(t, "sweep 2026-03-20", sweepJSON(t, cfg, at("2026-03-20 12:00:00")))
	expectActions(t, "dry run 2026-04-01 09:59", sweepJSON(t, cfg, at("2026-04-01 09:59:00"), "--dry-run"))
	expectActions(t, "dry run 2026-04-01 10:31 (resolve 50%)", sweepJSON(t, cfg, at("2026-04-01 10:31:00"), "--dry-run"),
		sweepAction{CaseID: id, Timer: "resolve", Kind: "reminder", Percent: 50, Due: resolveDue})

	// The daemon sends what the sweeps queued. Its start-up sweep runs on
	// the real clock, long after resolveDue: it catches up with one
	// Overdue for resolve, and nothing for assess, already told.
	d2 := startDaemon(t, cfg)
	isReminder := func(pct string) func([]byte) bool {
		return func(raw []byte) bool {
			return strings.HasPrefix(subjectOf(raw), "["+id+"] Reminder: assess") && strings.Contains(mailBody(raw), pct+"% of the time")
		}
	}
	isOverdue := subjectPrefix("[" + id + "] Overdue: assess")
	isResolveOverdue := subjectPrefix("[" + id + "] Overdue: resolve")
	waitForMail(t, env, staff, pw, "INBOX", isReminder("50"), reactTimeout)
	waitForMail(t, env, staff, pw, "INBOX", isReminder("80"), reactTimeout)
	waitForMail(t, env, staff, pw, "INBOX", isOverdue, reactTimeout)
	waitForMail(t, env, staff, pw, "INBOX", isResolveOverdue, reactTimeout)
	expectCountStays(t, env, staff, "INBOX", nil, 5, quiet) // New report + 4 timer mails
	for what, match := range map[string]func([]byte) bool{"50% reminder": isReminder("50"), "80% reminder": isReminder("80"),
		"assess overdue": isOverdue, "resolve overdue": isResolveOverdue} {
		if n := countMail(t, env, staff, pw, "INBOX", match); n != 1 {
			t.Errorf("staff has %d %s mails, want 1", n, what)
		}
	}
	expectCountStays(t, env, rep, "INBOX", nil, 1, 0) // only the acknowledgement
	d2.stop(t)

	v = showFull(t, cfg, id)
	if dl := v.Deadlines["assess"]; !dl.Breached || dl.MetAt != nil {
		t.Errorf("assess deadline = %+v, want breached and not met", dl)
	}
	for _, m := range v.Messages {
		if m.Direction == "out" && m.Status != "sent" {
			t.Errorf("outgoing %s %q has status %q, want sent", m.Kind, m.Subject, m.Status)
		}
	}
	out, code = runCLI(t, cfg, "report", "--json")
	if code != 0 {
		t.Fatalf("report --json: exit %d", code)
	}
	var rows []struct {
		Timer    string `json:"timer"`
		Met      int    `json:"met"`
		Breached int    `json:"breached"`
		Open     int    `json:"open"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	got := map[string][3]int{}
	for _, r := range rows {
		got[r.Timer] = [3]int{r.Met, r.Breached, r.Open}
	}
	if g := got["assess"]; g != [3]int{0, 1, 0} {
		t.Errorf("report assess met/breached/open = %v, want [0 1 0]\n%s", g, out)
	}
	if g := got["resolve"]; g != [3]int{0, 1, 0} {
		t.Errorf("report resolve met/breached/open = %v, want [0 1 0]\n%s", g, out)
	}
	t.Logf("report acknowledge met/breached/open = %v (acknowledged in real time, long after the simulated due time)", got["acknowledge"])
}

// waitLog waits until the daemon's log contains s.
func waitLog(t *testing.T, d *daemon, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(d.log(), s) {
		if !d.running() || time.Now().After(deadline) {
			t.Fatalf("daemon log lacks %q (running %v):\n%s", s, d.running(), lastLines(d.log(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
