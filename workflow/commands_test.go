package workflow

import (
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"disclosured/store"
)

const staffAddr = "staff@example.test"

// staffMail builds a staff member's reply to case id.
func staffMail(id, subject, body, extra string) []byte {
	return []byte(fmt.Sprintf("From: Sam Staff <%s>\r\nTo: security@example.test\r\nSubject: Re: [%s] New report: XSS %s\r\n"+
		"Message-ID: <%d@example.test>\r\n%s\r\n%s\r\n\r\nOn Fri, 20 Nov 2026 Security wrote:\r\n> quoted text #reward 1000\r\n",
		staffAddr, id, subject, time.Now().UnixNano(), extra, body))
}

// sent returns the mails the sink got since mark, and the new mark.
func (f *fixture) sentSince(t *testing.T, mark int) ([]sunk, int) {
	t.Helper()
	f.flush(t)
	all := f.sink.messages()
	return all[mark:], len(all)
}

func subjects(ms []sunk) []string {
	var out []string
	dec := mime.WordDecoder{}
	for _, m := range ms {
		msg, err := mail.ReadMessage(strings.NewReader(m.raw))
		if err != nil {
			out = append(out, m.to[0]+" unparsable: "+err.Error())
			continue
		}
		subj, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
		out = append(out, m.to[0]+" "+subj)
	}
	return out
}

func TestFullCaseLife(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	_, mark := f.sentSince(t, 0)
	steps := []struct {
		subject, body string
		state         State
		want          []string // subject prefixes of the mails it causes, "to subject"
	}{
		{"#assess high 2027-01-15", "We can reproduce it.", StateAssessed,
			[]string{"ada@example.org [CS-2026-0001] Assessment: XSS", staffAddr + " [CS-2026-0001] Done:"}},
		{"#progress", "A fix is in review.", StateAssessed,
			[]string{"ada@example.org [CS-2026-0001] Progress: XSS", staffAddr + " [CS-2026-0001] Done:"}},
		{"#resolved", "Deployed.", StateResolved,
			[]string{"ada@example.org [CS-2026-0001] Resolved: XSS", staffAddr + " [CS-2026-0001] Done:"}},
		{"#reward 250", "", StateResolved,
			[]string{"ada@example.org [CS-2026-0001] Reward: XSS", staffAddr + " [CS-2026-0001] Done:"}},
		{"#publish 2027-02-01 #credit Ada R.", "", StateResolved, []string{staffAddr + " [CS-2026-0001] Done:"}},
		{"#close", "", StateClosed, []string{staffAddr + " [CS-2026-0001] Done:"}},
	}
	for _, st := range steps {
		f.now = f.now.Add(time.Hour)
		f.ingest(t, staffMail(id, st.subject, st.body, ""))
		var got []sunk
		got, mark = f.sentSince(t, mark)
		subs := subjects(got)
		if len(subs) != len(st.want) {
			t.Fatalf("%s: mails %q, want %q", st.subject, subs, st.want)
		}
		for i, w := range st.want {
			if !strings.HasPrefix(subs[i], w) {
				t.Errorf("%s: mail %d is %q, want prefix %q", st.subject, i, subs[i], w)
			}
		}
		if st.body != "" && !strings.Contains(got[0].raw, st.body) {
			t.Errorf("%s: reporter mail lacks the staff message", st.subject)
		}
		if strings.Contains(got[0].raw, "quoted text") {
			t.Errorf("%s: quoted text leaked to the reporter", st.subject)
		}
		if v := f.show(t, id); v.State != st.state {
			t.Fatalf("%s: state %s, want %s", st.subject, v.State, st.state)
		}
	}
	v := f.show(t, id)
	if *v.Severity != "high" || *v.FixBy != "2027-01-15" || v.Reward.Amount != 250 || v.Reward.Currency != "EUR" ||
		*v.PublishAt != "2027-02-01" || *v.Credit != "Ada R." {
		t.Errorf("case after its life: %+v", v)
	}
	if v.Deadlines[TimerAssess].MetAt == nil || v.Deadlines[TimerResolve].MetAt == nil {
		t.Errorf("assess/resolve not met: %+v", v.Deadlines)
	}
	var commands int
	for _, ev := range v.Events {
		if ev.Type == "command" {
			commands++
			if ev.Actor != staffAddr || ev.MessageID == "" {
				t.Errorf("event lacks who or which message: %+v", ev)
			}
		}
	}
	if commands != 7 {
		t.Errorf("%d command events, want 7", commands)
	}
}

func TestRefusedCommandsChangeNothing(t *testing.T) {
	tests := []struct {
		name, subject, want string
	}{
		{"unknown keyword", "#frobnicate", "unknown keyword"},
		{"bad severity", "#assess hihg 2027-01-15", "hihg"},
		{"date in the past", "#assess high 2020-01-01", "in the past"},
		{"reward too high", "#reward 5000", "outside 50..1000"},
		{"reward too low", "#reward 10", "outside 50..1000"},
		{"reward in another currency", "#reward 250 USD", "paid in EUR, not USD"},
		{"transition not allowed", "#publish 2027-03-01", "not allowed in state acknowledged"},
		{"unknown duplicate", "#duplicate CS-2026-0999", "unknown case CS-2026-0999"},
		{"all or nothing", "#assess high 2027-01-15 #reward 5000", "outside"},
		{"reply without message", "#reply", "needs a message"},
		{"reject bad reason", "#reject boring", "boring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth = "none"
			id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
			_, mark := f.sentSince(t, 0)
			before := f.show(t, id)
			body := ""
			if tt.name != "reply without message" {
				body = "some text"
			}
			f.ingest(t, staffMail(id, tt.subject, body, ""))
			got, _ := f.sentSince(t, mark)
			subs := subjects(got)
			if len(subs) != 1 || !strings.HasPrefix(subs[0], staffAddr+" [CS-2026-0001] Refused:") {
				t.Fatalf("mails %q, want one Refused to staff", subs)
			}
			if !strings.Contains(got[0].raw, tt.want) || !strings.Contains(got[0].raw, "#assess") {
				t.Errorf("refusal does not say %q or list keywords:\n%s", tt.want, got[0].raw)
			}
			after := f.show(t, id)
			if after.State != before.State || after.Severity != nil || after.Reward != nil {
				t.Errorf("refused mail changed the case: %+v", after)
			}
		})
	}
}

func TestReporterSubjectCannotCommand(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	id := f.ingest(t, report("ada@example.org", "pay me #reward 1000 #close", "r1@example.org", "")).CaseID
	f.ingest(t, []byte("From: staff@example.test\r\nSubject: Re: ["+id+"] New report: pay me #reward 1000 #close\r\nMessage-ID: <s1@x>\r\n\r\nlooking\r\n"))
	if v := f.show(t, id); v.Reward != nil || v.State != StateAcknowledged {
		t.Errorf("keywords from the reporter's subject were applied: %+v", v)
	}
}

func TestStaffAuthentication(t *testing.T) {
	pass := "Authentication-Results: mx.example.test; dkim=pass header.d=example.test; dmarc=pass header.from=example.test\r\n"
	tests := []struct {
		name    string
		headers string
		applied bool
	}{
		{"dmarc pass", pass, true},
		{"missing header", "", false},
		{"foreign authserv-id", "Authentication-Results: evil.example; dmarc=pass header.from=example.test\r\n", false},
		{"dmarc fail", "Authentication-Results: mx.example.test; dmarc=fail header.from=example.test\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth, f.e.opts().AuthservID = "authres", "mx.example.test"
			id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
			_, mark := f.sentSince(t, 0)
			f.ingest(t, staffMail(id, "#assess low 2027-01-15", "ok", tt.headers))
			got, _ := f.sentSince(t, mark)
			v := f.show(t, id)
			if applied := v.State == StateAssessed; applied != tt.applied {
				t.Fatalf("applied = %v, want %v", applied, tt.applied)
			}
			if !tt.applied {
				subs := subjects(got)
				if len(subs) != 1 || !strings.Contains(subs[0], "Refused: unauthenticated command from "+staffAddr) {
					t.Errorf("staff not told: %q", subs)
				}
				var noted bool
				for _, ev := range v.Events {
					noted = noted || ev.Type == "unauthenticated"
				}
				if !noted {
					t.Error("no unauthenticated event")
				}
			}
		})
	}
}

func TestReporterKeywords(t *testing.T) {
	f := newFixture(t)
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	_, mark := f.sentSince(t, 0)
	var ackID string
	for _, m := range f.show(t, id).Messages {
		if m.Kind == "ack" {
			ackID = m.MessageID
		}
	}
	answer := "In-Reply-To: <" + ackID + ">\r\n"
	// Forged: the right From and tag, but no reference to our mail.
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] Received: XSS #share", "forged@x", ""))
	if v := f.show(t, id); len(v.Consents) != 0 {
		t.Fatalf("consent taken from a mail that answers none of ours: %+v", v.Consents)
	}
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] Received: XSS #credit Ada Lovelace #share", "r2@x", answer))
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] #status", "r3@x", ""))
	got, _ := f.sentSince(t, mark)
	subs := subjects(got)
	var status bool
	for _, s := range subs {
		status = status || strings.HasPrefix(s, "ada@example.org [CS-2026-0001] Status:")
	}
	if !status {
		t.Errorf("no status answer in %q", subs)
	}
	v := f.show(t, id)
	if v.Credit == nil || *v.Credit != "Ada Lovelace" || len(v.Consents) != 2 || v.Consents[1].Kind != "share" {
		t.Errorf("credit %v consents %+v", v.Credit, v.Consents)
	}
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] #anonymous", "r4@x", answer))
	if v := f.show(t, id); v.Credit != nil || len(v.Consents) != 3 {
		t.Errorf("#anonymous did not revoke credit: %v %+v", v.Credit, v.Consents)
	}
}

func TestInfoPausesTimers(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	due := f.show(t, id).Deadlines[TimerAssess].Due
	f.now = time.Date(2026, 11, 23, 10, 0, 0, 0, f.now.Location()) // Monday 10:00
	f.ingest(t, staffMail(id, "#info", "Which browser?", ""))
	f.now = time.Date(2026, 11, 24, 10, 0, 0, 0, f.now.Location()) // one working day later
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] More information needed", "r2@x", ""))
	v := f.show(t, id)
	got := v.Deadlines[TimerAssess].Due
	if want := due.Add(24 * time.Hour); !got.Equal(want) {
		t.Errorf("assess due %s after the pause, want %s", got, want)
	}
	if v.PausedAt != nil || len(v.Pauses) != 1 || v.Pauses[0].Business != 8*time.Hour {
		t.Errorf("pause record: paused_at %v, pauses %+v; want one ended pause of 8 working hours", v.PausedAt, v.Pauses)
	}
}

func TestThirdPartyForwardHidesReporter(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth = "none"
	raw := []byte("From: Ada Lovelace <ada.lovelace@example.org>\r\nTo: security@example.test\r\nSubject: Open admin panel\r\n" +
		"Message-ID: <tp1@example.org>\r\n\r\nHi, I am Ada Lovelace (ada.lovelace@example.org).\r\n" +
		"The admin panel at https://partner.example.net/admin has no password.\r\n\r\nKind regards,\r\nAda Lovelace\r\n+31 6 1234 5678\r\n")
	id := f.ingest(t, raw).CaseID
	_, mark := f.sentSince(t, 0)
	f.ingest(t, staffMail(id, "#thirdparty security@partner.example.net", "This is your system.", ""))
	got, mark := f.sentSince(t, mark)
	var owner *sunk
	for i := range got {
		if got[i].to[0] == "security@partner.example.net" {
			owner = &got[i]
		}
	}
	if owner == nil {
		t.Fatalf("no mail to the owner: %q", subjects(got))
	}
	for _, leak := range []string{"ada", "Lovelace", "1234 5678"} {
		if strings.Contains(strings.ToLower(owner.raw), strings.ToLower(leak)) {
			t.Errorf("owner mail leaks %q:\n%s", leak, owner.raw)
		}
	}
	if !strings.Contains(owner.raw, "partner.example.net/admin") {
		t.Errorf("owner mail lacks the report:\n%s", owner.raw)
	}
	if subs := subjects(got); !strings.Contains(strings.Join(subs, "\n"), "ada.lovelace@example.org [CS-2026-0001] Owner contacted:") {
		t.Errorf("reporter not told: %q", subs)
	}
	v := f.show(t, id)
	if v.ThirdParty == nil || v.Deadlines[TimerThirdParty].MetAt == nil {
		t.Errorf("third party %v, deadline %+v", v.ThirdParty, v.Deadlines[TimerThirdParty])
	}
	// The owner's reply joins the case and goes to staff only.
	f.ingest(t, []byte("From: security@partner.example.net\r\nSubject: Re: ["+id+"] Security report about your system\r\nMessage-ID: <o1@x>\r\n\r\nThanks, fixing.\r\n"))
	got, _ = f.sentSince(t, mark)
	if subs := subjects(got); len(subs) != 1 || !strings.HasPrefix(subs[0], staffAddr+" [CS-2026-0001] Owner replied:") {
		t.Errorf("owner reply mails: %q", subs)
	}
}

func TestScrubIdentityKeepsTechnicalContent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ada wrote: fields=metadata in Canada", "[reporter] wrote: fields=metadata in Canada"},
		{"mail ada.l@example.org or ada.l", "mail [reporter] or [reporter]"},
		{"Zoë Ada Ada.", "[reporter] [reporter]."},
		{"https://x.example/ada_l/ada", "https://x.example/ada_l/[reporter]"},
	}
	for _, tt := range tests {
		got := scrubIdentity(tt.in, store.Address{Name: "Zoë Ada", Addr: "ada.l@example.org"})
		if got != tt.want {
			t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommandSubject(t *testing.T) {
	tests := []struct{ subject, caseSubject, want string }{
		{"Re: [CS-2026-0001] New report: pay #reward 1000 #assess high 2027-01-15", "pay #reward 1000", "Re: [CS-2026-0001] New report: #assess high 2027-01-15"},
		{"Re: [CS-2026-0001] New report: s #assess high 2027-01-15", "s", "Re: [CS-2026-0001] New report: #assess high 2027-01-15"},
		{"Re: [CS-2026-0001] Done:  a\t #close  #note", "a #close", "Re: [CS-2026-0001] Done: #note"},
		{"[CS-2026-0001] #progress", "XSS", "[CS-2026-0001] #progress"},
	}
	for _, tt := range tests {
		if got := commandSubject(tt.subject, tt.caseSubject); got != tt.want {
			t.Errorf("commandSubject(%q, %q) = %q, want %q", tt.subject, tt.caseSubject, got, tt.want)
		}
	}
}
