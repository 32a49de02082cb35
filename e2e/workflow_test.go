package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// Staff workflow end to end: reports and staff replies go through Postfix,
// the daemon answers through Postfix, and the tests read the users'
// INBOXes over IMAP.

// fullView is the part of `show --json` the workflow tests look at.
type fullView struct {
	ID         string  `json:"id"`
	State      string  `json:"state"`
	Reporter   string  `json:"reporter"`
	Subject    string  `json:"subject"`
	ReceivedAt string  `json:"received_at"`
	Severity   *string `json:"severity"`
	FixBy      *string `json:"fix_by"`
	Reward     *struct {
		Amount   int    `json:"amount"`
		Currency string `json:"currency"`
	} `json:"reward"`
	PublishAt  *string `json:"publish_at"`
	ThirdParty *string `json:"third_party"`
	Deadlines  map[string]struct {
		Due      time.Time  `json:"due"`
		MetAt    *time.Time `json:"met_at"`
		Breached bool       `json:"breached"`
	} `json:"deadlines"`
	Messages []struct {
		Direction string   `json:"direction"`
		Kind      string   `json:"kind"`
		From      string   `json:"from"`
		To        []string `json:"to"`
		Subject   string   `json:"subject"`
		Status    string   `json:"status"`
	} `json:"messages"`
	Events []struct {
		Type   string `json:"type"`
		Actor  string `json:"actor"`
		Detail string `json:"detail"`
	} `json:"events"`
}

func showFull(t *testing.T, cfg, id string) fullView {
	t.Helper()
	out, code := runCLI(t, cfg, "show", id, "--json")
	if code != 0 {
		t.Fatalf("show %s --json: exit %d", id, code)
	}
	var v fullView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("show %s --json: %v\n%s", id, err, out)
	}
	return v
}

// mailBody returns the decoded text of a single-part mail: the transfer
// encoding undone, format=flowed soft breaks joined, LF line endings.
func mailBody(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	var r io.Reader = m.Body
	switch strings.ToLower(strings.TrimSpace(m.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return ""
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	if strings.Contains(strings.ToLower(m.Header.Get("Content-Type")), "format=flowed") {
		var out strings.Builder
		for _, line := range strings.SplitAfter(s, "\n") {
			l := strings.TrimSuffix(line, "\n")
			if strings.HasSuffix(l, " ") && l != "-- " && strings.HasSuffix(line, "\n") {
				out.WriteString(l) // soft break: joins the next line
				continue
			}
			out.WriteString(line)
		}
		s = out.String()
	}
	return s
}

// subjectPrefix matches mail whose subject starts with p.
func subjectPrefix(p string) func([]byte) bool {
	return func(raw []byte) bool { return strings.HasPrefix(subjectOf(raw), p) }
}

// quotedPart is what a mail client appends below a staff member's answer;
// none of it may reach the reporter.
func quotedPart(qmark string) string {
	return "\nOn Mon, 23 Nov 2026 at 10:00, CloudSphere Security <security@example.test> wrote:\n" +
		"> quoted " + qmark + "\n> Dear reporter, this is the old mail.\n"
}

// sendAs sends a mail through Postfix's MTA port as from (an address)
// with the display name name, to security@, and returns its Message-ID.
func sendAs(t *testing.T, env map[string]string, name, from, subject, body, msgID string, extra ...[2]string) string {
	t.Helper()
	h := [][2]string{}
	h = append(h, extra...)
	fromHdr := from
	if name != "" {
		fromHdr = name + " <" + from + ">"
	}
	h = append(h,
		[2]string{"From", fromHdr},
		[2]string{"To", env["MAILSTACK_SECURITY_USER"]},
		[2]string{"Subject", subject},
		[2]string{"Message-ID", msgID},
		[2]string{"Date", time.Now().Format(time.RFC1123Z)},
		[2]string{"MIME-Version", "1.0"},
		[2]string{"Content-Type", "text/plain; charset=utf-8"},
	)
	sendMail(t, env, from, []string{env["MAILSTACK_SECURITY_USER"]}, buildMail(h, body))
	return msgID
}

// staffCommand sends, as staff, a reply to the case's New report mail
// whose subject carries keywords and whose body is message above a quoted
// part marked qmark.
func staffCommand(t *testing.T, env map[string]string, id, caseSubject, keywords, message, qmark string, extra ...[2]string) {
	t.Helper()
	subject := "Re: [" + id + "] New report: " + caseSubject + " " + keywords
	sendAs(t, env, "Sam Staff", env["MAILSTACK_STAFF_USER"], subject, message+"\n"+quotedPart(qmark),
		"<staff-"+marker(t)+"@example.test>", extra...)
}

// openCase sends a report and waits for its acknowledgement to the
// reporter and the New report notice to staff; it returns the case ID.
func openCase(t *testing.T, env map[string]string, name, subject, body string) string {
	t.Helper()
	pw := env["MAILSTACK_PASSWORD"]
	msgID := sendAs(t, env, name, env["MAILSTACK_REPORTER_USER"], subject, body, "<report-"+marker(t)+"@example.org>")
	ack := waitForMail(t, env, env["MAILSTACK_REPORTER_USER"], pw, "INBOX", func(raw []byte) bool {
		return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == msgID
	}, reactTimeout)
	id := ackSubject.FindStringSubmatch(subjectOf(ack))[1]
	waitForMail(t, env, env["MAILSTACK_STAFF_USER"], pw, "INBOX", subjectPrefix("["+id+"] New report:"), reactTimeout)
	return id
}

func TestFullCaseLife(t *testing.T) {
	env := mailstack(t)
	buildBinary(t) // fail before touching the mailboxes
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	rep, staff := env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"]
	cfg := writeConfig(t, env, nil) // staff.auth: none
	d := startDaemon(t, cfg)

	mark := marker(t)
	subject := "Stored XSS in ticket titles " + mark
	id := openCase(t, env, "Rita Reporter", subject,
		"Hello,\n\nA ticket titled <img src=x onerror=alert(1)> runs script for every agent who opens\nhttps://support.example.test/tickets/ (marker "+mark+").\n\nRita\n")

	now := time.Now()
	fixBy := now.AddDate(0, 1, 0).Format(time.DateOnly)
	publishAt := now.AddDate(0, 2, 0).Format(time.DateOnly)
	steps := []struct {
		keywords string
		message  string
		toRep    string // subject word of the mail to the reporter, "" for none
		state    string // state after the command
	}{
		{"#assess high " + fixBy, "We reproduced the problem and rate it high. (assess-" + mark + ")", "Assessment:", "assessed"},
		{"#progress", "A fix is in review and will ship next week. (progress-" + mark + ")", "Progress:", "assessed"},
		{"#resolved", "The fix is deployed to production. (resolved-" + mark + ")", "Resolved:", "resolved"},
		{"#reward 250", "Thank you, we would like to reward you. (reward-" + mark + ")", "Reward:", "resolved"},
		{"#publish " + publishAt, "Agreed with the reporter. (publish-" + mark + ")", "", "resolved"},
		{"#close", "Closing the case. (close-" + mark + ")", "", "closed"},
	}
	for i, s := range steps {
		qmark := "q" + string(rune('a'+i)) + "-" + mark
		staffCommand(t, env, id, subject, s.keywords, s.message, qmark)
		done := waitForMail(t, env, staff, pw, "INBOX", func(raw []byte) bool {
			return strings.HasPrefix(subjectOf(raw), "["+id+"] Done:") && strings.Contains(mailBody(raw), s.keywords)
		}, reactTimeout)
		if body := mailBody(done); !strings.Contains(body, "(now "+s.state+")") {
			t.Errorf("%s: Done mail does not say the case is now %s:\n%s", s.keywords, s.state, body)
		}
		if s.toRep == "" {
			continue
		}
		got := waitForMail(t, env, rep, pw, "INBOX", subjectPrefix("["+id+"] "+s.toRep), reactTimeout)
		body := mailBody(got)
		if !strings.Contains(body, s.message) {
			t.Errorf("%s: reporter's %q mail lacks the staff message %q:\n%s", s.keywords, s.toRep, s.message, body)
		}
		if strings.Contains(string(got), qmark) || strings.Contains(body, "wrote:") {
			t.Errorf("%s: reporter's %q mail carries the quoted part of the staff mail:\n%s", s.keywords, s.toRep, body)
		}
		if v := header(got, "Auto-Submitted"); !strings.HasPrefix(strings.ToLower(v), "auto-replied") {
			t.Errorf("%s: reporter's mail Auto-Submitted = %q, want auto-replied", s.keywords, v)
		}
		if header(got, "In-Reply-To") == "" {
			t.Errorf("%s: reporter's mail has no In-Reply-To", s.keywords)
		}
	}

	// No duplicates: exactly these mails, and no more arrive.
	wantRep := map[string]int{"Received:": 1, "Assessment:": 1, "Progress:": 1, "Resolved:": 1, "Reward:": 1}
	wantStaff := map[string]int{"New report:": 1, "Done:": 6}
	for who, want := range map[string]map[string]int{rep: wantRep, staff: wantStaff} {
		total := 0
		for word, n := range want {
			total += n
			if got := countMail(t, env, who, pw, "INBOX", subjectPrefix("["+id+"] "+word)); got != n {
				t.Errorf("%s has %d %q mails, want %d", who, got, word, n)
			}
		}
		expectCountStays(t, env, who, "INBOX", nil, total, quiet/2)
	}
	expectCountStays(t, env, env["MAILSTACK_CATCHALL_USER"], "INBOX", nil, 0, 0)

	d.stop(t)
	v := showFull(t, cfg, id)
	if v.State != "closed" {
		t.Errorf("state = %q, want closed", v.State)
	}
	if v.Severity == nil || *v.Severity != "high" {
		t.Errorf("severity = %v, want high", strp(v.Severity))
	}
	if v.FixBy == nil || *v.FixBy != fixBy {
		t.Errorf("fix_by = %v, want %s", strp(v.FixBy), fixBy)
	}
	if v.Reward == nil || v.Reward.Amount != 250 || v.Reward.Currency != "EUR" {
		t.Errorf("reward = %+v, want {250 EUR}", v.Reward)
	}
	if v.PublishAt == nil || *v.PublishAt != publishAt {
		t.Errorf("publish_at = %v, want %s", strp(v.PublishAt), publishAt)
	}
	for _, name := range []string{"acknowledge", "assess", "resolve"} {
		dl, ok := v.Deadlines[name]
		if !ok || dl.MetAt == nil || dl.Breached {
			t.Errorf("deadline %s = %+v (present %v), want met and not breached", name, dl, ok)
		}
	}
	kinds := map[string]int{}
	for _, m := range v.Messages {
		if m.Direction != "out" {
			continue
		}
		kinds[m.Kind]++
		if m.Status != "sent" {
			t.Errorf("outgoing %s %q has status %q, want sent", m.Kind, m.Subject, m.Status)
		}
	}
	wantKinds := map[string]int{"ack": 1, "new-report": 1, "assessment": 1, "progress": 1, "resolved": 1, "reward": 1, "done": 6}
	for k, n := range wantKinds {
		if kinds[k] != n {
			t.Errorf("show lists %d outgoing %s messages, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	if dirs := countDirections(v); dirs["in"] != 7 {
		t.Errorf("show lists %d incoming messages, want 7 (report and six staff mails)", dirs["in"])
	}
	for _, s := range steps {
		found := false
		for _, ev := range v.Events {
			if ev.Type == "command" && strings.EqualFold(ev.Actor, staff) && strings.HasPrefix(ev.Detail, s.keywords) {
				found = true
			}
		}
		if !found {
			t.Errorf("no command event %q by %s; events: %+v", s.keywords, staff, v.Events)
		}
	}
}

func strp(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

func countDirections(v fullView) map[string]int {
	n := map[string]int{}
	for _, m := range v.Messages {
		n[m.Direction]++
	}
	return n
}

// TestSpoofedStaffCommandChangesNothing: with staff.auth authres, staff
// mail that our MTA did not authenticate commands nothing. Postfix in the
// test stack adds no Authentication-Results, so no staff mail here is
// authenticated. A field forged by the sender with another authserv-id
// must be ignored. (A field forged with OUR authserv-id would pass here,
// since this MTA does not strip it: a real MTA must remove inbound
// Authentication-Results fields carrying its own authserv-id, RFC 8601 §5.)
func TestSpoofedStaffCommandChangesNothing(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	rep, staff := env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"]
	cfg := writeConfig(t, env, map[string]any{
		"staff.auth":        "authres",
		"staff.authserv_id": "mx.example.test",
	})
	d := startDaemon(t, cfg)

	mark := marker(t)
	subject := "SSRF in webhook tester " + mark
	id := openCase(t, env, "Rita Reporter", subject,
		"Hello,\n\nThe webhook tester fetches http://169.254.169.254/latest/meta-data/ (marker "+mark+").\n")

	refusedSubject := "[" + id + "] Refused: unauthenticated command from " + staff
	fixBy := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	staffCommand(t, env, id, subject, "#assess critical "+fixBy, "Critical, fix now. (spoof1-"+mark+")", "qs1-"+mark)
	waitForMail(t, env, staff, pw, "INBOX", func(raw []byte) bool {
		return subjectOf(raw) == refusedSubject && strings.Contains(mailBody(raw), "#assess critical")
	}, reactTimeout)

	staffCommand(t, env, id, subject, "#reward 1000", "Max reward. (spoof2-"+mark+")", "qs2-"+mark,
		[2]string{"Authentication-Results", "evil.example; dkim=pass header.d=example.test; dmarc=pass header.from=example.test"})
	waitForMail(t, env, staff, pw, "INBOX", func(raw []byte) bool {
		return subjectOf(raw) == refusedSubject && strings.Contains(mailBody(raw), "#reward 1000")
	}, reactTimeout)

	// Nothing reaches the reporter but the acknowledgement, and staff get
	// no Done.
	expectCountStays(t, env, rep, "INBOX", nil, 1, quiet)
	if n := countMail(t, env, rep, pw, "INBOX", subjectPrefix("["+id+"] Received:")); n != 1 {
		t.Errorf("reporter has %d acknowledgements, want 1", n)
	}
	if n := countMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] Done:")); n != 0 {
		t.Errorf("staff got %d Done mails for unauthenticated commands, want 0", n)
	}
	if n := countMail(t, env, staff, pw, "INBOX", nil); n != 3 {
		t.Errorf("staff INBOX has %d mails, want 3 (New report and two Refused)", n)
	}

	d.stop(t)
	v := showFull(t, cfg, id)
	if v.State != "acknowledged" {
		t.Errorf("state = %q, want acknowledged", v.State)
	}
	if v.Severity != nil || v.FixBy != nil || v.Reward != nil {
		t.Errorf("severity %s, fix_by %s, reward %+v: want all null", strp(v.Severity), strp(v.FixBy), v.Reward)
	}
	if dl := v.Deadlines["assess"]; dl.MetAt != nil {
		t.Errorf("assess deadline met at %v by an unauthenticated command", dl.MetAt)
	}
	unauth := 0
	for _, ev := range v.Events {
		switch ev.Type {
		case "unauthenticated":
			unauth++
			if !strings.EqualFold(ev.Actor, staff) {
				t.Errorf("unauthenticated event actor = %q, want %s", ev.Actor, staff)
			}
		case "command":
			t.Errorf("command event recorded for an unauthenticated mail: %+v", ev)
		}
	}
	if unauth != 2 {
		t.Errorf("%d unauthenticated events, want 2; events: %+v", unauth, v.Events)
	}
	for _, m := range v.Messages {
		if m.Direction == "out" && len(m.To) > 0 && strings.EqualFold(m.To[0], rep) && m.Kind != "ack" {
			t.Errorf("a %s mail to the reporter was queued: %q", m.Kind, m.Subject)
		}
	}
}

// TestThirdPartyForwardHidesReporter: #thirdparty sends the owner the
// report without the reporter's name, address or signature; the owner's
// reply reaches staff only.
func TestThirdPartyForwardHidesReporter(t *testing.T) {
	env := mailstack(t)
	buildBinary(t)
	clearInboxes(t, env)
	pw := env["MAILSTACK_PASSWORD"]
	rep, staff, catch := env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_STAFF_USER"], env["MAILSTACK_CATCHALL_USER"]
	cfg := writeConfig(t, env, nil)
	d := startDaemon(t, cfg)

	mark := marker(t)
	for strings.Contains(mark, "ada") { // the name must not occur by chance
		mark = marker(t)
	}
	subject := "Open backup bucket on partner CDN " + mark
	technical := []string{
		"https://cdn.partner.example.net/backups/ lists customer invoices without authentication",
		"curl -s 'https://cdn.partner.example.net/backups/index.json?fields=metadata'",
		"tp-" + mark,
	}
	body := "Hello,\n\n" +
		"My name is Ada Lovelace and you can reach me at reporter@example.org.\n\n" +
		technical[0] + ".\nTo reproduce:\n  " + technical[1] + "\n\nReference " + technical[2] + ".\n\n" +
		"Kind regards,\nAda Lovelace\n+31 6 1234 5678\n"
	id := openCase(t, env, "Ada Lovelace", subject, body)

	owner := "owner@partner.example.net"
	staffMsg := "The affected system belongs to Partner; please fix it. (owner-note-" + mark + ")"
	staffCommand(t, env, id, subject, "#thirdparty "+owner, staffMsg, "qt-"+mark)

	ownerMail := waitForMail(t, env, catch, pw, "INBOX", subjectPrefix("["+id+"]"), reactTimeout)
	ownerBody := mailBody(ownerMail)
	if to := header(ownerMail, "To"); !strings.Contains(to, owner) {
		t.Errorf("owner mail To = %q, want %s", to, owner)
	}
	for _, s := range technical {
		if !strings.Contains(ownerBody, s) {
			t.Errorf("owner mail lacks the report's technical content %q:\n%s", s, ownerBody)
		}
	}
	if !strings.Contains(ownerBody, staffMsg) {
		t.Errorf("owner mail lacks the staff message %q:\n%s", staffMsg, ownerBody)
	}
	lowerRaw, lowerBody := strings.ToLower(string(ownerMail)), strings.ToLower(ownerBody)
	for _, leak := range []string{"reporter@example.org", "lovelace", "1234 5678", "+31 6"} {
		if strings.Contains(lowerRaw, leak) || strings.Contains(lowerBody, leak) {
			t.Errorf("owner mail contains the reporter's identity %q:\n%s", leak, ownerMail)
		}
	}
	// "Ada" case-sensitively: hex Message-IDs may contain "ada".
	if strings.Contains(string(ownerMail), "Ada") || strings.Contains(ownerBody, "Ada") {
		t.Errorf("owner mail contains the reporter's name \"Ada\":\n%s", ownerMail)
	}
	if strings.Contains(ownerBody, "qt-"+mark) {
		t.Errorf("owner mail carries the quoted part of the staff mail:\n%s", ownerBody)
	}

	waitForMail(t, env, rep, pw, "INBOX", subjectPrefix("["+id+"] Owner contacted:"), reactTimeout)
	waitForMail(t, env, staff, pw, "INBOX", func(raw []byte) bool {
		return strings.HasPrefix(subjectOf(raw), "["+id+"] Done:") && strings.Contains(mailBody(raw), "#thirdparty")
	}, reactTimeout)

	// The owner answers, keeping the tag.
	replyMark := "owner-reply-" + mark
	sendAs(t, env, "Partner Security", owner, "Re: "+subjectOf(ownerMail),
		"Thanks, we closed the bucket. ("+replyMark+")\n\nOn Mon, CloudSphere wrote:\n> old\n",
		"<owner-"+mark+"@partner.example.net>", [2]string{"In-Reply-To", header(ownerMail, "Message-ID")})
	got := waitForMail(t, env, staff, pw, "INBOX", subjectPrefix("["+id+"] Owner replied:"), reactTimeout)
	if !strings.Contains(mailBody(got), replyMark) {
		t.Errorf("Owner replied mail lacks the owner's text %q:\n%s", replyMark, mailBody(got))
	}
	// The reporter has the acknowledgement and Owner contacted, nothing
	// more; the owner got only the report.
	expectCountStays(t, env, rep, "INBOX", nil, 2, quiet)
	expectCountStays(t, env, catch, "INBOX", nil, 1, 0)
	expectCountStays(t, env, staff, "INBOX", nil, 3, 0) // New report, Done, Owner replied

	d.stop(t)
	if list := listCases(t, cfg); len(list) != 1 {
		t.Errorf("cases --json lists %d cases, want 1 (the owner's reply joins the case): %+v", len(list), list)
	}
	v := showFull(t, cfg, id)
	if v.ThirdParty == nil || *v.ThirdParty != owner {
		t.Errorf("third_party = %s, want %s", strp(v.ThirdParty), owner)
	}
	if dl, ok := v.Deadlines["third_party"]; !ok || dl.MetAt == nil {
		t.Errorf("third_party deadline = %+v (present %v), want met", dl, ok)
	}
	replied := false
	for _, ev := range v.Events {
		if ev.Type == "owner_replied" && strings.EqualFold(ev.Actor, owner) {
			replied = true
		}
	}
	if !replied {
		t.Errorf("no owner_replied event by %s; events: %+v", owner, v.Events)
	}
}
