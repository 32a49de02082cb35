package workflow

import (
	"fmt"
	"regexp"
	"strings"

	"disclosured/parser"
	"disclosured/redact"
	"disclosured/store"
	"disclosured/templates"
)

// htmlOnlyWithheld stands in the owner's mail for the text of a report
// that came as HTML only. HTML can hide text from its reader (display:none,
// zero-size fonts, white on white) and the text the parser gives staff
// does not yet tell hidden from visible, so none of it is forwarded; staff
// are told and can send the visible part themselves.
const htmlOnlyWithheld = "(The report was written in HTML only. Its text is withheld from this mail;\nwe will send you the relevant parts separately.)"

// ownerData is the template data of the mail to a third-party owner
// (#thirdparty), made from the case's first message: unless the reporter
// consented to sharing, with the reporter's identity removed by redact
// (name, addresses, domains, handles, phone numbers, the signature; also
// from the staff message that goes with it),
// attachment names withheld and contact cards (vCard) left out
// altogether. It also returns what was removed, for staff.
//
// Fields the owner's mail has no use for and that carry the reporter's
// words (URLs, hosts, IPs, parse problems) are emptied, so even a local
// template override cannot print them.
func (e *Engine) ownerData(tx *store.Tx, c *store.Case, first *store.Message, msg string) (templates.Data, []string) {
	shared := consented(c)
	d := e.caseData(c, first)
	d.Message, d.Shared = msg, shared
	d.URLs, d.IPs, d.Hosts, d.Problems, d.Notes = nil, nil, nil, nil, nil
	var removed []string

	text := parser.StripQuoted(first.Text)
	id := redact.Identity{Name: c.Reporter.Name, Addrs: []string{c.Reporter.Addr}, Terms: []string{c.Credit, first.FromName}}
	if first.From != "" && !parser.SameAddress(first.From, c.Reporter.Addr) {
		id.Addrs = append(id.Addrs, first.From)
	}
	for _, cs := range c.Consents {
		if cs.Kind == "credit" {
			id.Terms = append(id.Terms, cs.Value)
		}
	}
	raw, err := tx.Raw(first.Key)
	if err != nil && strings.TrimSpace(text) != "" {
		// Without the raw message there is no telling whether the text
		// came from HTML.
		text = htmlOnlyWithheld
		removed = append(removed, "the report's text (its raw message is not in the store)")
	}
	if err == nil {
		p := parser.Parse(raw, parser.Limits{})
		for _, a := range p.ReplyTo {
			id.Addrs = append(id.Addrs, a.Addr)
			id.Terms = append(id.Terms, a.Name)
		}
		if p.HTMLOnly && strings.TrimSpace(text) != "" {
			text = htmlOnlyWithheld
			removed = append(removed, "the report's text (HTML-only mail, which can hide text; forward the visible part yourself if the owner needs it)")
		}
	}

	d.Attachments = nil
	cards := 0
	for i, a := range first.Attachments {
		if isVCard(a) {
			cards++
			continue
		}
		if shared {
			d.Attachments = append(d.Attachments, fmt.Sprintf("%s (%s, %s)", a.Filename, a.ContentType, humanSize(a.Size)))
		} else {
			d.Attachments = append(d.Attachments, fmt.Sprintf("attachment %d (%s, %s)", i+1, safeType(a.ContentType), humanSize(a.Size)))
		}
	}
	if cards > 0 {
		removed = append(removed, fmt.Sprintf("%d contact card(s) (vCard attachments, not even listed)", cards))
	}
	if !shared && len(d.Attachments) > 0 {
		removed = append(removed, "attachment names")
	}

	if shared {
		d.Text = text
		return d, removed
	}
	r := redact.Text(text, id)
	d.Text = r.Text
	if s := r.Summary(); s != "" {
		removed = append(removed, "from the report: "+s)
	}
	// Staff's message goes through the same redaction: they may have
	// pasted the reporter's details, and when in doubt we redact (their
	// own number too; the Done mail says so). What was just removed from
	// the report goes wherever it appears.
	id.Exact = r.Found
	if m := redact.Text(msg, id); m.Summary() != "" {
		d.Message = m.Text
		removed = append(removed, "from your message: "+m.Summary())
	}
	d.Subject = redact.Text(c.Subject, id).Text
	d.ReporterName, d.ReporterAddr = "", ""
	return d, removed
}

// isVCard reports whether an attachment is a contact card (RFC 6350).
func isVCard(a store.Attachment) bool {
	ct := strings.ToLower(a.ContentType)
	name := strings.ToLower(strings.TrimSpace(a.Filename))
	return strings.Contains(ct, "vcard") || ct == "text/directory" ||
		strings.HasSuffix(name, ".vcf") || strings.HasSuffix(name, ".vcard")
}

var mediaTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$`)

// safeType is a media type as the owner may see it: a plain type/subtype,
// or "unknown type" for anything else the sender wrote there.
func safeType(ct string) string {
	ct = strings.ToLower(strings.TrimSpace(ct))
	if !mediaTypeRE.MatchString(ct) || strings.ContainsAny(ct, "@") {
		return "unknown type"
	}
	return ct
}
