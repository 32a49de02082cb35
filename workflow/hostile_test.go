package workflow

import (
	"mime"
	"net/mail"
	"strings"
	"testing"
)

// decodedSubject is the subject a mail client shows for raw: encoded words
// decoded, then decoded once more, as a careless client or a reply chain
// might do.
func decodedSubject(t *testing.T, raw string) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := mime.WordDecoder{}
	s, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	if twice, err := dec.DecodeHeader(s); err == nil {
		s = twice
	}
	return s
}

// TestStaffReplyToHostileSubjectsChangesNothing is issue 11 attack 2: the
// reporter's subject (an encoded word that decodes to another encoded word
// with keywords, an encoded blank line before keywords) and sender
// address must never become staff keywords, however the staff client
// decodes our notice, when staff answer it with a plain "Re:".
func TestStaffReplyToHostileSubjectsChangesNothing(t *testing.T) {
	for _, tc := range []struct{ name, from, subject string }{
		{"encoded word in encoded word", "eve@evil.example", "=?utf-8?b?PT91dGYtOD9xPz0yM3Jld2FyZF8xMDAwXz0yM3Jlc29sdmVkPz0=?="},
		{"encoded blank line", "eve@evil.example", "=?utf-8?q?hello=0D=0A=0D=0A=23reward_1000_=23resolved?="},
		{"plain keywords", "eve@evil.example", "pay #reward 1000 #resolved"},
		{"keywords in the sender", `"x #reward 1000 #credit Pwned"@evil.example`, "flood"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth = "none"
			var id string
			for i := range 5 { // past the flood limit, for the flood notice
				raw := []byte(strings.Replace(string(report(tc.from, tc.subject, "h"+string(rune('a'+i))+"@evil.example", "")),
					"From: Ada <"+tc.from+">", "From: "+tc.from, 1))
				if o := f.ingest(t, raw); id == "" {
					id = o.CaseID
				}
			}
			f.flush(t)
			replied := 0
			for _, m := range f.sink.messages() {
				if m.to[0] != staffAddr {
					continue
				}
				subject := decodedSubject(t, m.raw)
				if strings.Contains(subject, "#") {
					t.Errorf("staff notice subject %q carries a '#' the staff did not type", subject)
				}
				f.ingest(t, []byte("From: "+staffAddr+"\r\nSubject: Re: "+subject+"\r\nMessage-ID: <s"+string(rune('a'+replied))+
					"@example.test>\r\n\r\nlooking at it\r\n"))
				replied++
			}
			if replied == 0 {
				t.Fatal("no staff notice to reply to")
			}
			for _, c := range []string{id, "CS-2026-0002", "CS-2026-0005"} {
				v := f.show(t, c)
				if v.Reward != nil || v.Credit != nil || (v.State != StateAcknowledged && v.State != StateNew) {
					t.Errorf("%s changed by a reply without keywords: state %s reward %v credit %v", c, v.State, v.Reward, v.Credit)
				}
			}
		})
	}
}

// TestForgedConsentFails is issue 11 attack 3: a stranger plants a
// Message-ID on our domain in the case (From: the reporter), then answers
// it with #share: an incoming id never counts as one of ours.
func TestForgedConsentFails(t *testing.T) {
	f := newFixture(t)
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] more", "planted@example.test", ""))
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] #share #credit Mallory", "m2@evil.example",
		"In-Reply-To: <planted@example.test>\r\nReferences: <planted@example.test>\r\n"))
	if v := f.show(t, id); len(v.Consents) != 0 || v.Credit != nil {
		t.Fatalf("forged consent taken: consents %+v credit %v", v.Consents, v.Credit)
	}
	// The real answer to our acknowledgment still consents.
	var ackID string
	for _, m := range f.show(t, id).Messages {
		if m.Kind == "ack" {
			ackID = m.MessageID
		}
	}
	f.ingest(t, report("ada@example.org", "Re: ["+id+"] #share", "r3@example.org", "In-Reply-To: <"+ackID+">\r\n"))
	if v := f.show(t, id); len(v.Consents) != 1 || v.Consents[0].Kind != "share" {
		t.Errorf("consents %+v after a reply to our ack", v.Consents)
	}
}

// TestDKIMReplayWithAddedFieldsCommandsNothing is issue 11 attack 4 at the
// workflow level: our acknowledgment re-sent with a second From (staff)
// and Subject (keywords) above the signed ones, the fields a signer need
// not cover (our loop header, Auto-Submitted) removed,
// authentication passing: nothing is applied, staff are told.
func TestDKIMReplayWithAddedFieldsCommandsNothing(t *testing.T) {
	f := newFixture(t)
	f.e.opts().StaffAuth, f.e.opts().AuthservID = "authres", "mx.example.test"
	id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
	f.flush(t)
	var ack string
	for _, m := range f.sink.messages() {
		if m.to[0] == "ada@example.org" {
			ack = m.raw
		}
	}
	var kept []string
	for _, line := range strings.SplitAfter(ack, "\r\n") {
		// Fields a signer need not cover, which the replayer drops.
		if !strings.HasPrefix(line, LoopHeader+":") && !strings.HasPrefix(line, "Auto-Submitted:") &&
			!strings.HasPrefix(line, "X-Auto-Response-Suppress:") {
			kept = append(kept, line)
		}
	}
	replay := "Authentication-Results: mx.example.test; dkim=pass header.d=example.test; dmarc=pass header.from=example.test\r\n" +
		"From: " + staffAddr + "\r\nSubject: Re: [" + id + "] #reward 1000 #resolved\r\n" + strings.Join(kept, "")
	_, mark := f.sentSince(t, 0)
	f.ingest(t, []byte(replay))
	v := f.show(t, id)
	if v.Reward != nil || v.State != StateAcknowledged {
		t.Fatalf("replayed mail applied: state %s reward %v", v.State, v.Reward)
	}
	if !hasEvent(v, "unauthenticated", "more than one From, Subject") {
		t.Errorf("no record of the refused replay: %+v", v.Events)
	}
	got, _ := f.sentSince(t, mark)
	if subs := subjects(got); len(subs) != 1 || !strings.Contains(subs[0], "Refused: unauthenticated") {
		t.Errorf("staff told %q", subs)
	}
}

// TestQuotedNumberSignIsNoKeyword: the form in which our subjects show a
// reporter's '#' (U+FF03) never parses as a keyword.
func TestQuotedNumberSignIsNoKeyword(t *testing.T) {
	cmds, problems := parseCommands("Re: [CS-2026-0001] New report: \uFF03reward 1000 \uFF03resolved", byStaff)
	if cmds != nil || problems != nil {
		t.Errorf("parseCommands = %+v, %v; want no commands", cmds, problems)
	}
	cmds, problems = parseCommands("Re: [CS-2026-0001] New report: \uFF03reward 1000 #close", byStaff)
	if problems != nil || len(cmds) != 1 || cmds[0].kw.name != "close" {
		t.Errorf("parseCommands = %+v, %v; want only #close", cmds, problems)
	}
}
