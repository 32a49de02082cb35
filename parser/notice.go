package parser

import "strings"

// Automatic notices that carry no RFC 6522 report and no Auto-Submitted
// field, recognised by the sender's own conventions. Each rule needs a
// signal a person's mail client never writes (a provider's header, a
// notification service's sender) or two weaker ones together (a ticket
// system's header and an acknowledgment subject), so that a reporter who
// writes from Hotmail or through a help desk is still a person.

// machineNotice classifies the notices above, or returns "".
func (p *parser) machineNotice(fromAddr, local, subject string) (Class, string) {
	h := p.hdr
	has := h.Has
	get := func(k string) string {
		if !h.Has(k) {
			return ""
		}
		return strings.ToLower(strings.TrimSpace(h.Get(k)))
	}

	// Provider complaint feedback loops. Outlook.com's JMRP forwards the
	// complained-about message with X-HmXmrOriginalRecipient, from
	// staff@hotmail.com, subject "complaint about message from <ip>".
	if has("X-HmXmrOriginalRecipient") {
		return ClassBounce, "complaint feedback loop (Outlook.com X-HmXmrOriginalRecipient)"
	}
	if strings.HasPrefix(subject, "complaint about message from") && fromAddr == "staff@hotmail.com" {
		return ClassBounce, "complaint feedback loop (Outlook.com JMRP)"
	}
	switch fromAddr {
	case "feedback@arf.mail.yahoo.com", "scomp@aol.net", "fbl@comcast.net", "feedbackloop@comcast.net":
		return ClassBounce, "complaint feedback loop (" + fromAddr + ")"
	}
	if automatedSenderOrFBL(local) && containsFold(head(p.msg.Text, 4<<10), "feedback-type: abuse") {
		return ClassBounce, "complaint feedback loop (Feedback-Type: abuse)"
	}

	// Amazon SES notifications delivered through Amazon SNS: a JSON body
	// with notificationType Bounce, Complaint or Delivery.
	if has("X-Amz-Sns-Message-Id") || has("X-Amz-Sns-Topic-Arn") || fromAddr == "no-reply@sns.amazonaws.com" {
		if strings.Contains(head(p.msg.Text, 8<<10), `"notificationType"`) {
			return ClassBounce, "Amazon SES notification via SNS"
		}
		return ClassBounce, "Amazon SNS notification"
	}

	// List managers' own mail: loop alerts, moderation and confirmation
	// requests, command results.
	if ml := get("X-MLServer") + get("X-ML-Server"); ml != "" && strings.Contains(ml, "fml") {
		if strings.Contains(subject, "loop alert") || strings.Contains(subject, "fml ") || strings.Contains(subject, "command status") {
			return ClassList, "list manager notice (fml " + head(subject, 30) + ")"
		}
	}
	if get("X-List-Administrivia") == "yes" {
		return ClassList, "list manager notice (X-List-Administrivia)"
	}
	switch local {
	case "majordomo", "listserv", "sympa", "mailman", "ecartis", "listproc", "lyris", "ezmlm", "fml":
		return ClassList, "list manager notice (" + local + "@)"
	}
	if strings.Contains(subject, "awaits moderator approval") || strings.Contains(subject, "loop alert") && (has("X-MLServer") || has("X-Loop")) {
		return ClassList, "list manager notice (" + head(subject, 40) + ")"
	}

	// Ticket systems' acknowledgments: a ticket system's header and an
	// acknowledgment in the subject.
	// A person answering through the help desk writes "Re: <ticket
	// subject>", which may still hold the acknowledgment's words.
	if strings.HasPrefix(subject, "re:") || strings.HasPrefix(subject, "aw:") {
		return "", ""
	}
	for _, w := range ticketAckSubjects {
		if strings.Contains(subject, w) {
			if sys := ticketSystem(p, get); sys != "" {
				return ClassAutoreply, "ticket system acknowledgment (" + sys + ", subject: " + w + ")"
			}
			break
		}
	}
	return "", ""
}

// containsFold reports whether s contains the lowercase ASCII needle,
// ignoring ASCII case, without copying s.
func containsFold(s, needle string) bool {
	for i := 0; i+len(needle) <= len(s); i++ {
		if c := s[i] | 0x20; c == needle[0] && strings.EqualFold(s[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

func automatedSenderOrFBL(local string) bool {
	return automatedSenderRe.MatchString(local) || strings.Contains(local, "fbl") || strings.Contains(local, "feedback") ||
		strings.Contains(local, "abuse") || strings.Contains(local, "arf")
}

// ticketSystem names the help-desk software that sent the mail, from its
// own header fields, or returns "".
func ticketSystem(p *parser, get func(string) string) string {
	h := p.hdr
	switch {
	case h.Has("RT-Ticket") || h.Has("X-RT-Loop-Prevention") || h.Has("RT-Originator"):
		return "Request Tracker"
	case h.Has("X-Zendesk-From-Account-Id") || strings.Contains(get("X-Mailer"), "zendesk"):
		return "Zendesk"
	case hasFieldPrefix(p, "X-Freshdesk-") || strings.Contains(get("X-Mailer"), "freshdesk"):
		return "Freshdesk"
	case hasFieldPrefix(p, "X-OTRS-") || hasFieldPrefix(p, "X-Znuny-") || strings.Contains(get("X-Mailer"), "otrs"):
		return "OTRS"
	case hasFieldPrefix(p, "X-ServiceNow-"):
		return "ServiceNow"
	case hasFieldPrefix(p, "X-JSD-") || h.Has("X-JIRA-FingerPrint") || strings.Contains(get("X-Mailer"), "jira"):
		return "Jira Service Management"
	case hasFieldPrefix(p, "X-HelpScout-") || strings.Contains(get("X-Mailer"), "help scout"):
		return "Help Scout"
	}
	return ""
}

// ticketAckSubjects are the subjects help desks give their automatic
// acknowledgments, lowercased.
var ticketAckSubjects = []string{
	"autoreply", "auto reply", "auto-reply", "request received", "ticket received", "we've received your",
	"we have received your", "has been received", "ticket created", "has been opened on your behalf",
	"your request has been", "thank you for contacting", "ticket opened", "new ticket",
}

// bounceTexts are the wordings of delivery failures in a body, lowercased.
// They are literals, searched one by one: a long alternation of literals
// costs the regexp engine far more than a few substring searches.
var bounceTexts = []string{
	"this is the mail system at host", "could not be delivered", "couldn't be delivered",
	"delivery to the following recipient failed", "delivery to the following recipients failed",
	"delivery has failed", "permanent error", "permanent fatal error", "user unknown", "no such user",
	"mailbox is full", "mailbox full", "you are not a member of this mailing list", "not a member of this list",
	"wasn't able to deliver", "was not able to deliver", "were not able to deliver", "unable to deliver",
	"undeliverable", "created automatically by mail delivery software", "delivery status notification",
	"returned mail", "requested action not taken", "invalid user address", "not a valid user",
	"recipient address rejected", "address not found", "the original message was received at",
	"failed permanently", "message delivery failed",
}

// findBounceText returns a bounce wording found in the lowercased text
// l, or "".
func findBounceText(l string) string {
	for _, s := range bounceTexts {
		if strings.Contains(l, s) {
			return s
		}
	}
	return ""
}
