package parser

import (
	"regexp"
	"strings"
)

// Classification decides whether the daemon may answer a message (SPEC
// §4): it never acknowledges a bounce, an auto-reply or a mailing list.
// The rules run in order and the first that fires wins; its description
// becomes Message.ClassReason. Structural signals (report types, MIME
// parts, null senders) come first, then subject and header conventions,
// and body wording only together with a machine-looking sender, so a
// person who pastes an SMTP error into a report is still a person.
//
//  1. challenge-response systems (Boxbe, Bluebottle) are auto-replies,
//     although Boxbe dresses its challenges as delivery-status reports;
//  2. RFC 6522 multipart/report: report-type feedback-report (RFC 5965
//     ARF) and delivery-status (RFC 3464 DSN) are bounces,
//     disposition-notification (RFC 8098 read receipt) is an auto-reply;
//     the same for a message/feedback-report, message/delivery-status or
//     message/disposition-notification part anywhere outside a forwarded
//     message;
//  3. a mailer-daemon sender (From, Sender or Return-Path) or a null From
//     is a bounce;
//  4. a subject in the wording MTAs use ("Undeliverable:", "Delivery
//     Status Notification", "Mail delivery failed", "failure notice", …)
//     is a bounce;
//  5. a postmaster sender with a null Return-Path or bounce wording is a
//     bounce (a postmaster writing as a person is not);
//  6. RFC 3834 Auto-Submitted other than "no", X-Autoreply, X-Autorespond,
//     X-Apple-Action: VACATION, Precedence bulk or junk, and the
//     out-of-office subjects of common clients and languages are
//     auto-replies;
//  7. bounce wording in the body ("could not be delivered", "This is the
//     mail system at host", …) from a machine-looking sender, a null
//     Return-Path or list software is a bounce;
//  8. List-Id, List-Unsubscribe, Mailing-List or Precedence: list is a
//     mailing list;
//  9. a null Return-Path (RFC 5321 §4.5.5) alone is an auto-reply: people
//     do not send with one;
//  10. everything else is human.
//
// Rule 2 also covers the notices big senders write without a proper
// report (rule 2a, see machineNotice): provider complaint loops
// (Outlook.com/Hotmail JMRP, Yahoo, AOL) and Amazon SES notifications
// delivered through SNS are bounces, like the RFC 5965 reports they
// stand for; list managers' admin mail (fml loop alerts, Mailman,
// Majordomo, Sympa, LISTSERV notices) is list mail; ticket systems'
// acknowledgments (Request Tracker, Zendesk, Freshdesk, OTRS, ServiceNow,
// Jira Service Management, Help Scout) are auto-replies.
func (p *parser) classify() (Class, string) {
	h := p.hdr
	get := func(k string) string { return strings.ToLower(strings.TrimSpace(h.Get(k))) }
	from, sender, returnPath := get("From"), get("Sender"), get("Return-Path")
	subject := strings.ToLower(strings.TrimSpace(p.msg.Subject))
	fromAddr := strings.ToLower(p.msg.From.Addr)
	local := fromAddr
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	nullRP := h.Has("Return-Path") && (returnPath == "" || returnPath == "<>" || returnPath == "<null>")

	// 1. Challenge-response.
	if strings.Contains(from, "@boxbe.com") || strings.Contains(returnPath, "boxbe.com") {
		return ClassAutoreply, "challenge-response (Boxbe)"
	}
	if hasFieldPrefix(p, "X-Bluebottle-") {
		return ClassAutoreply, "challenge-response (X-Bluebottle-*)"
	}

	// 2. Reports.
	for _, rt := range p.reportTypes {
		switch rt {
		case "feedback-report":
			return ClassBounce, "multipart/report feedback-report"
		case "delivery-status", "global-delivery-status":
			return ClassBounce, "multipart/report delivery-status"
		}
	}
	switch {
	case p.types["message/feedback-report"]:
		return ClassBounce, "message/feedback-report part"
	case p.types["message/delivery-status"] || p.types["message/global-delivery-status"]:
		return ClassBounce, "message/delivery-status part"
	}
	for _, rt := range p.reportTypes {
		if rt == "disposition-notification" {
			return ClassAutoreply, "multipart/report disposition-notification (read receipt)"
		}
	}
	if p.types["message/disposition-notification"] {
		return ClassAutoreply, "message/disposition-notification part (read receipt)"
	}

	// 2a. Known automatic notices without a report.
	if c, why := p.machineNotice(fromAddr, local, subject); c != "" {
		return c, why
	}

	// 3. Mailer-daemon and null senders.
	for _, f := range []struct{ name, v string }{{"From", from}, {"Sender", sender}, {"Return-Path", returnPath}} {
		if isMailerDaemon(f.v) {
			return ClassBounce, f.name + ": mailer-daemon"
		}
	}
	if h.Has("From") && fromAddr == "" && strings.Contains(from, "<>") {
		return ClassBounce, "From: <> (null sender)"
	}

	// 4. Bounce subjects.
	if m := bounceSubjectRe.FindString(subject); m != "" {
		return ClassBounce, "bounce subject: " + strings.TrimSpace(m)
	}

	bodyBounce := findBounceText(strings.ToLower(head(p.msg.Text, 8<<10)))

	// 5. Postmaster.
	if postmasterRe.MatchString(local) && (nullRP || bodyBounce != "") {
		return ClassBounce, "From: postmaster with bounce signals"
	}

	// 6. Auto-replies.
	if v := get("Auto-Submitted"); v != "" && !strings.HasPrefix(v, "no") {
		return ClassAutoreply, "Auto-Submitted: " + head(v, 40)
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated"} {
		if h.Has(k) {
			return ClassAutoreply, k + " header"
		}
	}
	if strings.Contains(get("X-Apple-Action"), "vacation") {
		return ClassAutoreply, "X-Apple-Action: VACATION"
	}
	switch prec := get("Precedence"); prec {
	case "bulk", "junk", "auto_reply", "auto-reply":
		return ClassAutoreply, "Precedence: " + prec
	}
	if m := autoreplySubjectRe.FindString(subject); m != "" {
		if h.Has("X-Auto-Response-Suppress") {
			return ClassAutoreply, "X-Auto-Response-Suppress with subject: " + strings.TrimSpace(m)
		}
		return ClassAutoreply, "auto-reply subject: " + strings.TrimSpace(m)
	}

	// 7. Non-standard bounces.
	if bodyBounce != "" {
		switch {
		case automatedSenderRe.MatchString(local):
			return ClassBounce, "bounce text from " + local + "@"
		case nullRP:
			return ClassBounce, "bounce text with Return-Path: <>"
		case h.Has("Mailing-List") || h.Has("List-Id") || h.Has("X-Mlserver"):
			return ClassBounce, "bounce text from list software"
		case !h.Has("From"):
			return ClassBounce, "bounce text without From"
		}
	}

	// 8. Mailing lists.
	for _, k := range []string{"List-Id", "List-Unsubscribe", "Mailing-List"} {
		if h.Has(k) {
			return ClassList, k + " header"
		}
	}
	if get("Precedence") == "list" {
		return ClassList, "Precedence: list"
	}

	// 9. Null reverse path.
	if nullRP {
		return ClassAutoreply, "Return-Path: <> (null sender)"
	}
	return ClassHuman, "no machine signals"
}

func hasFieldPrefix(p *parser, prefix string) bool {
	fs := p.hdr.Fields()
	for fs.Next() {
		if len(fs.Key()) >= len(prefix) && strings.EqualFold(fs.Key()[:len(prefix)], prefix) {
			return true
		}
	}
	return false
}

func isMailerDaemon(v string) bool {
	for _, s := range []string{"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon"} {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// head returns at most n bytes of s, cut at a rune boundary.
func head(s string, n int) string { return truncateUTF8(s, n) }

var (
	postmasterRe = regexp.MustCompile(`^(postmaster|post_master|post-master)$`)

	automatedSenderRe = regexp.MustCompile(`^(no-?reply|do-?not-?reply|donotreply|postmaster|post_master|mailer-daemon|mail-daemon|mdaemon|daemon|bounces?|mail\.delivery\.system|mailadmin|sysadmin|administrator|root|system|.+-(admin|owner|bounces?|request))$`)

	bounceSubjectRe = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)?(?:undeliverable|undelivered mail|undelivered message|delivery status notification|delivery notification|delivery status|delivery report|delivery failure|delivery failed|delivery has failed|mail delivery (?:failed|failure|problem|error)|email delivery failure|message delivery (?:has )?failed|returned mail|returned message|failure notice|non-?delivery|nondeliverable|message status - undeliverable|mail system error|warning: could not send message|warning: message .{0,80} delayed|there was an error sending your mail|email bounce notification|notice: mail delivery status|sorry, your message could not be delivered|message not delivered|mail could not be delivered|could not send message|delivery notification: delivery has failed)|メールエラー通知|配信できません|配信エラー|undeliverable mail|mail delivery failed|delivery status notification \(failure\)`)

	autoreplySubjectRe = regexp.MustCompile(`^(?:re:\s*)?(?:auto:|auto reply|auto-reply|autoreply|automatic reply|automatic response|auto response|autoresponse|autorespons|out of (?:the )?office|ooo:|on vacation|vacation reply|away from (?:the )?office|autosvar|abwesenheitsnotiz|automatische antwort|réponse automatique|reponse automatique|automatisch antwoord|afwezigheidsmelding|respuesta automática|risposta automatica|odpowiedź automatyczna|automatyczna odpowied)|\((?:automatic response|auto-reply|autoreply|out of office)\)|\[(?:automatyczna odpowied|auto-?reply|out of office)`)
)
