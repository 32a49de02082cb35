package workflow

import (
	"strings"
	"time"

	"disclosured/parser"
	"disclosured/store"
)

// #overview: a staff member writes to the security address with
// "#overview" in a subject that carries no case tag and gets the overview
// back. It is a staff command like any other: only an allow-listed sender
// whose mail authenticates is answered. Anyone else's such mail becomes a
// case like any mail, but is not acknowledged: the overview is not theirs,
// and an acknowledgment would tell them the keyword exists.

// overviewRequest reports whether p asks for the overview.
func (e *Engine) overviewRequest(p *parser.Message) bool {
	for _, m := range tagRE.FindAllStringSubmatch(p.Subject, -1) {
		if strings.HasPrefix(m[1], e.opts().CasePrefix+"-") {
			return false
		}
	}
	for _, cmd := range parser.SplitCommands(p.Subject) {
		if cmd.Keyword == "overview" {
			return true
		}
	}
	return false
}

// overviewRefusal says why an overview request is not answered, or "" when
// it is: from staff, and authenticated.
func (e *Engine) overviewRefusal(p *parser.Message) string {
	o := e.opts()
	if !e.isStaff(p.From.Addr) {
		return "asks for the staff overview (#overview) but is not from staff"
	}
	if o.StaffAuth != "none" {
		if res := parser.CheckAuth(p.AuthResults, p.From.Addr, o.AuthservID); !res.OK {
			return "an unauthenticated #overview: " + res.Reason
		}
	}
	return ""
}

// answerOverview answers an authenticated staff member's #overview with
// the overview as of the mail's receipt. It reports whether it did; the
// message's bytes are then marked ingested, so it is answered once.
func (e *Engine) answerOverview(tx *store.Tx, p *parser.Message, raw []byte, sum string, at time.Time) (bool, error) {
	if !e.overviewRequest(p) || e.noReplyReason(p, raw) != "" || e.overviewRefusal(p) != "" {
		return false, nil
	}
	ov, err := e.overviewTx(tx, at)
	if err != nil {
		return false, err
	}
	o := e.opts().toSender(MailOverview, p.From.Addr, p.MessageID, p.References, e.overviewData(ov))
	msgID, err := e.queueProgramme(tx, o)
	if err != nil {
		return false, err
	}
	e.log.Info("overview sent on request", "to", p.From.Addr)
	return true, tx.MarkIngested(sum, "overview/"+msgID)
}
