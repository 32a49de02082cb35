package workflow

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"disclosured/store"
)

// withSchedules turns on the weekly overview and the monthly report, as
// cmd does from digest.cron and report.cron.
func (f *fixture) withSchedules(t *testing.T) {
	t.Helper()
	o := *f.e.opts()
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	loc := o.Calendar.Location()
	weekly, err := p.Parse("0 8 * * 1")
	if err != nil {
		t.Fatal(err)
	}
	monthly, err := p.Parse("0 8 1 * *")
	if err != nil {
		t.Fatal(err)
	}
	o.Overview = Schedule{Spec: "0 8 * * 1", Every: inZone{weekly, loc}, To: []string{"digest@example.test"}}
	o.MonthlyReport = Schedule{Spec: "0 8 1 * *", Every: inZone{monthly, loc}, To: []string{"boss@example.test"}}
	f.e.Reload(o, f.e.tmpl.Load())
}

// inZone evaluates a cron schedule in loc, as cron.WithLocation does.
type inZone struct {
	s   cron.Schedule
	loc *time.Location
}

func (z inZone) Next(t time.Time) time.Time { return z.s.Next(t.In(z.loc)) }

func (f *fixture) sweep(t *testing.T, at time.Time) []SweepAction {
	t.Helper()
	a, err := f.e.Sweep(context.Background(), at, false)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mailTo returns the decoded subject and text body of the mails sent to
// addr, in order.
func mailTo(t *testing.T, ms []sunk, addr string) (subjects, bodies []string, raws []string) {
	t.Helper()
	dec := mime.WordDecoder{}
	for _, m := range ms {
		if m.to[0] != addr {
			continue
		}
		msg, err := mail.ReadMessage(strings.NewReader(m.raw))
		if err != nil {
			t.Fatal(err)
		}
		subj, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
		subjects, raws = append(subjects, subj), append(raws, m.raw)
		body, _ := io.ReadAll(msg.Body)
		bodies = append(bodies, string(body))
	}
	return subjects, bodies, raws
}

// parts splits a multipart/mixed mail into its parts: content type and
// (decoded) bytes, and the file name for attachments.
type part struct {
	contentType, filename string
	data                  []byte
}

func parts(t *testing.T, raw string) []part {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q, want multipart/mixed", msg.Header.Get("Content-Type"))
	}
	var out []part
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p) // multipart decodes quoted-printable, not base64
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, err = decodeBase64(b)
			if err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, part{contentType: p.Header.Get("Content-Type"), filename: p.FileName(), data: b})
	}
}

func TestOverview(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	day := 24 * time.Hour
	start := f.now
	// A: received two weeks ago and never assessed: overdue.
	f.now = start.Add(-14 * day)
	a := f.ingest(t, report("ada@example.org", "Old XSS", "a@example.org", "")).CaseID
	// B: waits for the reporter (#info).
	f.now = start.Add(-time.Hour)
	b := f.ingest(t, report("bob@example.org", "CSRF in settings", "b@example.org", "")).CaseID
	f.ingest(t, staffMail(b, "#info", "Which browser?", ""))
	// C: hostile subject, resolved with a reward and a publication date.
	c := f.ingest(t, report("eve@example.org", "Open\r\n redirect [CS-2026-9999] Done:", "c@example.org", "")).CaseID
	f.ingest(t, staffMail(c, "#assess low 2027-01-15 #reward 150", "ok", ""))
	f.ingest(t, staffMail(c, "#resolved", "Fixed.", ""))
	f.ingest(t, staffMail(c, "#publish 2027-02-01", "", ""))
	// D: rejected: not in the overview at all.
	d := f.ingest(t, report("mallory@example.org", "spam", "d@example.org", "")).CaseID
	f.ingest(t, staffMail(d, "#reject out-of-scope", "No.", ""))
	f.flush(t)

	ov, err := f.e.Overview(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Open) != 2 || ov.Open[0].ID != a || ov.Open[1].ID != b {
		t.Fatalf("open = %+v, want %s (overdue) then %s", ov.Open, a, b)
	}
	if o := ov.Open[0]; !o.Overdue || o.Timer != TimerAssess || o.Used < 100 || o.WaitsFor != WaitsForUs {
		t.Errorf("overdue case = %+v, want assess overdue, waiting for us", o)
	}
	if o := ov.Open[1]; o.Overdue || o.WaitsFor != WaitsForReporter || o.Timer == "" {
		t.Errorf("paused case = %+v, want waiting for the reporter with a next deadline", o)
	}
	if len(ov.Publishing) != 1 || ov.Publishing[0].ID != c || ov.Publishing[0].PublishAt != "2027-02-01" {
		t.Fatalf("publishing = %+v, want %s on 2027-02-01", ov.Publishing, c)
	}
	// A was received before the week; B, C, D in it. C got a reward and was resolved.
	if w := ov.Week; w.Opened != 3 || w.Resolved != 1 || w.Rewards != 1 || w.RewardTotal["EUR"] != 150 {
		t.Errorf("week = %+v, want 3 opened, 1 resolved, 1 reward of 150 EUR", w)
	}

	o, err := f.e.overviewMail(start)
	if err != nil {
		t.Fatal(err)
	}
	subj, body, err := f.e.tmpl.Load().Render(o.kind.template(), o.lang, o.data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[disclosured] Overview: 2 open, 1 overdue, 1 to publish"; subj != want {
		t.Errorf("subject = %q, want %q", subj, want)
	}
	ia, ib, ic := strings.Index(body, "["+a+"] Old XSS"), strings.Index(body, "["+b+"] CSRF"), strings.Index(body, "["+c+"] Open redirect")
	if ia < 0 || ib < ia || ic < ib {
		t.Errorf("body does not list %s, %s, then %s:\n%s", a, b, c, body)
	}
	for _, want := range []string{"OVERDUE - not assessed, acknowledged, waits for us; assess due",
		"waits for reporter", "to be published Mon 1 Feb 2027", "New cases: 3", "Rewards offered: 1 (150 EUR)"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	// The hostile subject stays on its line: no line of the body starts
	// with a tag or a prefix the subject carried.
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "redirect") || strings.Contains(line, "Done:") && !strings.Contains(line, "["+c+"]") {
			t.Errorf("subject broke out of its line: %q", line)
		}
	}
	if strings.Contains(body, d) {
		t.Errorf("the rejected case %s is listed:\n%s", d, body)
	}
}

func TestScheduledMailOncePerDueTime(t *testing.T) {
	f := newFixture(t)
	f.withSchedules(t)
	f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", ""))
	_, mark := f.sentSince(t, 0)
	ams := f.e.opts().Calendar.Location()

	// The first sweep only arms the schedules.
	if a := f.sweep(t, f.now); len(a) != 0 {
		t.Fatalf("first sweep did %+v, want nothing", a)
	}
	monday := time.Date(2026, 11, 23, 8, 0, 30, 0, ams)
	a := f.sweep(t, monday)
	if len(a) != 1 || a[0].Kind != JobOverview || !a[0].Due.Equal(time.Date(2026, 11, 23, 8, 0, 0, 0, ams)) {
		t.Fatalf("Monday sweep = %+v, want one overview due 08:00", a)
	}
	if a := f.sweep(t, monday.Add(time.Minute)); len(a) != 0 {
		t.Fatalf("second sweep = %+v, want nothing", a)
	}
	var ms []sunk
	ms, mark = f.sentSince(t, mark)
	subj, body, _ := mailTo(t, ms, "digest@example.test")
	if len(ms) != 1 || len(subj) != 1 || !strings.HasPrefix(subj[0], "[disclosured] Overview: 1 open") || !strings.Contains(body[0], "[CS-2026-0001] XSS") {
		t.Fatalf("mail = %v %v, want one overview listing CS-2026-0001", subj, body)
	}

	// Down from Tuesday to 10 Dec: three Mondays and the 1st of December
	// missed; the catch-up sends one overview and one report.
	// (The case's own deadlines are swept too; they are not counted here.)
	var jobs []SweepAction
	for _, x := range f.sweep(t, time.Date(2026, 12, 10, 12, 0, 0, 0, ams)) {
		if x.CaseID == "" {
			jobs = append(jobs, x)
		}
	}
	if len(jobs) != 2 || jobs[0].Kind != JobOverview || jobs[1].Kind != JobReport {
		t.Fatalf("catch-up = %+v, want one overview and one report", jobs)
	}
	for _, x := range f.sweep(t, time.Date(2026, 12, 10, 12, 1, 0, 0, ams)) {
		if x.CaseID == "" {
			t.Fatalf("after catch-up: %+v", x)
		}
	}
	ms, _ = f.sentSince(t, mark)
	if s, _, _ := mailTo(t, ms, "digest@example.test"); len(s) != 1 {
		t.Fatalf("catch-up sent %d overviews, want 1", len(s))
	}
	subj, body, raws := mailTo(t, ms, "boss@example.test")
	if len(subj) != 1 || subj[0] != "[disclosured] Report: SLA compliance Sun 1 Nov 2026 - Mon 30 Nov 2026" {
		t.Fatalf("report subject = %v", subj)
	}
	ps := parts(t, raws[0])
	if len(ps) != 2 || !strings.Contains(string(ps[0].data), "TIMER") || !strings.Contains(string(ps[0].data), "acknowledge") {
		t.Fatalf("report parts = %d, text %q", len(ps), body)
	}
	if ps[1].contentType != "image/png" || ps[1].filename != "sla-2026-11.png" {
		t.Errorf("attachment = %s %q, want image/png sla-2026-11.png", ps[1].contentType, ps[1].filename)
	}
	img, err := png.Decode(bytes.NewReader(ps[1].data))
	if err != nil {
		t.Fatalf("attached chart: %v", err)
	}
	if img.Bounds().Dx() < 600 {
		t.Errorf("chart is %v", img.Bounds())
	}

	// A changed schedule re-arms without sending.
	o := *f.e.opts()
	o.Overview.Spec = "0 9 * * 1"
	f.e.Reload(o, f.e.tmpl.Load())
	if a := f.sweep(t, time.Date(2026, 12, 10, 12, 2, 0, 0, ams)); len(a) != 0 {
		t.Fatalf("re-armed schedule sent %+v", a)
	}
	var job store.Job
	_ = f.db.View(func(tx *store.Tx) (err error) { job, err = tx.Job(JobOverview); return })
	if job.Spec != "0 9 * * 1" || !job.Next.After(time.Date(2026, 12, 10, 12, 2, 0, 0, ams)) {
		t.Errorf("job = %+v", job)
	}
}

// decodeBase64 decodes a MIME base64 body with line breaks.
func decodeBase64(b []byte) ([]byte, error) {
	return io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b)))
}

func TestPublicationDay(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	ams := f.e.opts().Calendar.Location()
	id := f.ingest(t, report("ada@example.org", "XSS in login", "r1@example.org", "")).CaseID
	answer := "In-Reply-To: <" + f.ackID(t, id) + ">\r\n"
	// The reporter agrees to be named and to the mention of the reward.
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] Received: XSS #credit Ada L. #publicreward", "r2@example.org", answer))
	f.ingest(t, staffMail(id, "#assess high 2027-01-15 #reward 250", "Confirmed.", ""))
	f.ingest(t, staffMail(id, "#resolved", "Fixed.", ""))
	f.ingest(t, staffMail(id, "#publish 2026-12-14 #cve cve-2026-4242", "", ""))
	_, mark := f.sentSince(t, 0)

	c := f.caseOf(t, id)
	p := c.Publication
	// Monday 14 Dec 2026; seven working days before is Thursday 3 Dec.
	if p == nil || !p.Due.Equal(time.Date(2026, 12, 14, 9, 0, 0, 0, ams)) || !p.RemindAt.Equal(time.Date(2026, 12, 3, 9, 0, 0, 0, ams)) || c.CVE != "CVE-2026-4242" {
		t.Fatalf("publication = %+v, CVE %q", p, c.CVE)
	}

	// Before the reminder nothing; at it, one reminder; again, nothing.
	if a := f.sweep(t, time.Date(2026, 12, 3, 8, 59, 0, 0, ams)); len(a) != 0 {
		t.Fatalf("early sweep: %+v", a)
	}
	a := f.sweep(t, time.Date(2026, 12, 3, 9, 0, 0, 0, ams))
	if len(a) != 1 || a[0].Kind != string(MailPublishReminder) {
		t.Fatalf("reminder sweep: %+v", a)
	}
	if a := f.sweep(t, time.Date(2026, 12, 3, 9, 5, 0, 0, ams)); len(a) != 0 {
		t.Fatalf("second sweep: %+v", a)
	}
	var ms []sunk
	ms, mark = f.sentSince(t, mark)
	subj, body, _ := mailTo(t, ms, staffAddr)
	if len(ms) != 1 || len(subj) != 1 || subj[0] != "["+id+"] Reminder: publication on Mon 14 Dec 2026" ||
		!strings.Contains(body[0], "Security advisory "+id) {
		t.Fatalf("reminder = %v\n%v", subj, body)
	}

	// The day: staff get the draft, text and CSAF attached; the reporter is told.
	a = f.sweep(t, time.Date(2026, 12, 14, 9, 30, 0, 0, ams))
	if len(a) != 1 || a[0].Kind != string(MailPublishToday) {
		t.Fatalf("day sweep: %+v", a)
	}
	if a := f.sweep(t, time.Date(2026, 12, 15, 9, 30, 0, 0, ams)); len(a) != 0 {
		t.Fatalf("after the day: %+v", a)
	}
	ms, _ = f.sentSince(t, mark)
	subj, _, raws := mailTo(t, ms, staffAddr)
	if len(subj) != 1 || subj[0] != "["+id+"] Publish today: XSS in login" {
		t.Fatalf("staff mail = %v", subj)
	}
	ps := parts(t, raws[0])
	if len(ps) != 3 || ps[1].filename != "cs-2026-0001.txt" || ps[2].filename != "cs-2026-0001.json" {
		t.Fatalf("parts = %+v", ps)
	}
	text, csafDoc := string(ps[1].data), string(ps[2].data)
	for _, want := range []string{"Severity:        high", "CVE:             CVE-2026-4242", "Published:       2026-12-14",
		"thanks Ada L.", "Reward: 250 EUR.",
		// The report's host is not on our domain (example.test): it may be
		// the reporter's, so the organisation stands in.
		"Affected system: CloudSphere"} {
		if !strings.Contains(text, want) {
			t.Errorf("advisory text lacks %q:\n%s", want, text)
		}
	}
	// Nothing else about the reporter: not their address, not their name
	// as the From header had it.
	for _, leak := range []string{"ada@example.org", "Ada <", "example.org"} {
		if strings.Contains(text, leak) || strings.Contains(csafDoc, leak) {
			t.Errorf("the advisory carries %q", leak)
		}
	}
	if !strings.Contains(csafDoc, `"csaf_version": "2.0"`) || !strings.Contains(csafDoc, `"cve": "CVE-2026-4242"`) {
		t.Errorf("CSAF attachment:\n%s", csafDoc)
	}
	rs, _, _ := mailTo(t, ms, "ada@example.org")
	if len(rs) != 1 || rs[0] != "["+id+"] Published: XSS in login" {
		t.Fatalf("reporter mail = %v", rs)
	}
	ov, err := f.e.Overview(time.Date(2026, 12, 15, 9, 30, 0, 0, ams))
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Publishing) != 0 {
		t.Errorf("published case still waits for publication: %+v", ov.Publishing)
	}
}

func TestNoPublishCancels(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	ams := f.e.opts().Calendar.Location()
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	f.ingest(t, staffMail(id, "#resolved", "Fixed.", ""))
	f.ingest(t, staffMail(id, "#publish 2026-12-14", "", ""))
	f.ingest(t, staffMail(id, "#nopublish", "", ""))
	for _, at := range []time.Time{time.Date(2026, 12, 3, 9, 0, 0, 0, ams), time.Date(2026, 12, 14, 9, 0, 0, 0, ams)} {
		for _, a := range f.sweep(t, at) {
			if a.Timer == store.TimerPublish {
				t.Fatalf("cancelled publication swept: %+v", a)
			}
		}
	}
	// Without the reporter's consent the advisory names nobody and no reward.
	f.ingest(t, staffMail(id, "#reward 300", "", ""))
	d, err := f.e.Advisory(id, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Reward != "" || d.Credit != "" || !d.Published.IsZero() {
		t.Errorf("draft = %+v, want no reward, no credit, no date", d)
	}
}

// #show answers with the case summary and no Done.
func TestShowKeyword(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	_, mark := f.sentSince(t, 0)
	f.ingest(t, staffMail(id, "#show", "", ""))
	ms, _ := f.sentSince(t, mark)
	subj, body, _ := mailTo(t, ms, staffAddr)
	if len(ms) != 1 || len(subj) != 1 || subj[0] != "["+id+"] Case: XSS" {
		t.Fatalf("mails = %v", subjects(ms))
	}
	for _, want := range []string{"Case:      " + id, "Reporter:  Ada <ada@example.org>", "Deadlines:", "acknowledge", "Events:"} {
		if !strings.Contains(body[0], want) {
			t.Errorf("summary lacks %q:\n%s", want, body[0])
		}
	}
}

func (f *fixture) caseOf(t *testing.T, id string) *store.Case {
	t.Helper()
	var c *store.Case
	if err := f.db.View(func(tx *store.Tx) (err error) { c, err = tx.Case(id); return }); err != nil {
		t.Fatal(err)
	}
	return c
}

// #overview from staff gets the overview back, once; from anyone else it
// is stored as a case like any mail but not answered or acknowledged.
func TestOverviewOnRequest(t *testing.T) {
	f := newFixture(t)
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	_, mark := f.sentSince(t, 0)
	ask := func(from, extra string) []byte {
		return []byte(fmt.Sprintf("From: <%s>\r\nTo: security@example.test\r\nSubject: #overview\r\nMessage-ID: <ov-%s@example.test>\r\n%s\r\nplease\r\n", from, from, extra))
	}
	pass := "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n"
	f.e.opts().AuthservID = "mx.example.test"

	raw := ask(staffAddr, pass)
	out := f.ingest(t, raw)
	if out.New || out.CaseID != "" {
		t.Fatalf("staff #overview opened a case: %+v", out)
	}
	if again := f.ingest(t, raw); !again.Duplicate {
		t.Fatalf("the same request again: %+v, want a duplicate", again)
	}
	ms, mark := f.sentSince(t, mark)
	subj, body, raws := mailTo(t, ms, staffAddr)
	if len(ms) != 1 || len(subj) != 1 || !strings.HasPrefix(subj[0], "[disclosured] Overview: 1 open") || !strings.Contains(body[0], "["+id+"] XSS") {
		t.Fatalf("answer = %v", subjects(ms))
	}
	if !strings.Contains(raws[0], "In-Reply-To: <ov-"+staffAddr+"@example.test>") {
		t.Errorf("the answer does not reply to the request:\n%s", raws[0])
	}

	// Not staff, and staff without authentication: a case, no answer, no ack.
	for _, tc := range []struct{ from, extra, why string }{
		{"mallory@example.org", pass, "not from staff"},
		{staffAddr, "", "unauthenticated #overview"},
	} {
		out := f.ingest(t, ask(tc.from, tc.extra))
		if !out.New {
			t.Fatalf("%s: %+v, want a new case", tc.from, out)
		}
		var ms []sunk
		ms, mark = f.sentSince(t, mark)
		// Staff are told of the new case (New report:); the sender gets
		// neither an overview nor an acknowledgment.
		for _, s := range subjects(ms) {
			if strings.Contains(s, "Overview:") || strings.Contains(s, "Received:") || !strings.HasPrefix(s, staffAddr+" ") {
				t.Errorf("%s: mail %q", tc.from, s)
			}
		}
		v := f.show(t, out.CaseID)
		if v.State != StateNew || len(v.Deadlines) != 0 {
			t.Errorf("%s: state %s, deadlines %v; want new, no timers", tc.from, v.State, v.Deadlines)
		}
		found := false
		for _, ev := range v.Events {
			found = found || ev.Type == string(EventNoReply) && strings.Contains(ev.Detail, tc.why)
		}
		if !found {
			t.Errorf("%s: no no_reply event saying %q: %+v", tc.from, tc.why, v.Events)
		}
	}
}
