package workflow

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"disclosured/pgp"
	"disclosured/store"
	"disclosured/templates"
)

// LoopHeader marks every mail disclosured sends. A message carrying it is
// our own mail coming back and never gets a reply.
const LoopHeader = "X-Disclosured-Case"

// outgoing describes one mail to queue.
type outgoing struct {
	kind MailKind
	lang string
	to   []string
	data templates.Data
	// inReplyTo is the Message-ID answered; refs the References chain
	// before it.
	inReplyTo string
	refs      []string
	// toReporter marks mail in the conversation with the reporter; the
	// case's thread moves to it.
	toReporter bool
	// autoSubmitted is the RFC 3834 value: auto-replied for answers to a
	// message, auto-generated for mail nobody asked for.
	autoSubmitted string
	// encryptTo are the OpenPGP keys the mail is encrypted to (pgp.go).
	encryptTo []*pgp.PublicKey
	// attach are files sent with the text (multipart/mixed when set).
	attach []attachment
}

// attachment is one file attached to an outgoing mail.
type attachment struct {
	name, contentType string
	data              []byte
}

// queue renders o, writes it to the outbox and records it as an outgoing
// message of case c, all inside tx. It returns the new Message-ID. at is
// the time of the event that causes the mail (a receipt time, or the time
// a sweep runs as); the mail itself is due at once on the real clock, or a
// future-dated event would hold it back.
func (e *Engine) queue(tx *store.Tx, c *store.Case, o outgoing, at time.Time) (string, error) {
	now := e.opts().Now()
	e.pgpOutgoing(c, &o)
	subject, body, err := e.tmpl.Load().Render(o.kind.template(), o.lang, o.data)
	if err != nil {
		return "", fmt.Errorf("compose %s for %s: %w", o.kind, c.ID, err)
	}
	msgID := e.newMessageID()
	raw, err := e.build(c.ID, o, subject, body, msgID, now)
	if err == nil {
		raw, err = e.pgpSeal(o, subject, o.data.Subject, raw)
	}
	if err != nil {
		return "", fmt.Errorf("compose %s for %s: %w", o.kind, c.ID, err)
	}
	m := &store.OutMail{CaseID: c.ID, Kind: string(o.kind), From: e.opts().OrgAddress, To: o.to,
		Raw: raw, NextAt: now, CreatedAt: now}
	if staffKinds[o.kind] {
		// Reporters first: in a backlog, acknowledgments must not queue
		// behind as many staff notices.
		m.Priority = 1
	}
	if err := tx.Enqueue(m); err != nil {
		return "", fmt.Errorf("queue %s for %s: %w", o.kind, c.ID, err)
	}
	rec := &store.Message{CaseID: c.ID, Direction: "out", Kind: string(o.kind), From: e.opts().OrgAddress,
		To: o.to, Subject: subject, MessageID: msgID, At: at, OutboxID: m.ID}
	if err := tx.AddMessage(rec, nil); err != nil {
		return "", err
	}
	if err := tx.RecordSent(msgID, c.ID); err != nil {
		return "", err
	}
	err = tx.AppendEvent(c.ID, store.Event{At: at, Type: string(EventMailQueued), MessageID: msgID,
		Detail: string(o.kind) + " to " + strings.Join(o.to, ", ")})
	return msgID, err
}

func (e *Engine) newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + e.opts().Domain
}

// headerMsgID reports whether a Message-ID from incoming mail may go into
// our In-Reply-To and References: printable ASCII without spaces or angle
// brackets (RFC 5322 §3.6.4 msg-id), at most 250 bytes. Anything else,
// raw UTF-8 included, is left out rather than written into a header
// verbatim; threading survives on the IDs that remain.
func headerMsgID(id string) bool {
	if id == "" || len(id) > 250 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// build writes a single-part text/plain mail with the headers SPEC §3 and
// §4 require.
func (e *Engine) build(caseID string, o outgoing, subject, body, msgID string, now time.Time) ([]byte, error) {
	var h mail.Header
	h.SetDate(now)
	h.SetAddressList("From", []*mail.Address{{Name: e.opts().OrgName, Address: e.opts().OrgAddress}})
	var to []*mail.Address
	for _, a := range o.to {
		to = append(to, &mail.Address{Address: a})
	}
	h.SetAddressList("To", to)
	h.SetSubject(subject)
	h.SetMessageID(msgID)
	if o.inReplyTo != "" && headerMsgID(o.inReplyTo) {
		var refs []string
		for _, r := range o.refs {
			if headerMsgID(r) {
				refs = append(refs, r)
			}
		}
		h.SetMsgIDList("In-Reply-To", []string{o.inReplyTo})
		h.SetMsgIDList("References", append(refs, o.inReplyTo))
	}
	h.Set("Auto-Submitted", o.autoSubmitted)
	// RFC 3834 §5: ask other responders not to answer us.
	h.Set("X-Auto-Response-Suppress", "All")
	h.Set(LoopHeader, caseID)
	h.Set("MIME-Version", "1.0")
	if len(o.attach) > 0 {
		return buildMixed(h, body, o.attach)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8; format=flowed")
	var buf bytes.Buffer
	w, err := mail.CreateSingleInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// formatTime renders t for people, in the organisation's zone, zone shown.
func (e *Engine) formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(e.opts().Calendar.Location()).Format("Mon 2 Jan 2006 15:04 MST")
}

// buildMixed writes the text and the attachments as multipart/mixed
// (RFC 2046 §5.1.3), the text first and inline.
func buildMixed(h mail.Header, body string, files []attachment) ([]byte, error) {
	var buf bytes.Buffer
	mw, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	var ih mail.InlineHeader
	ih.Set("Content-Type", "text/plain; charset=utf-8; format=flowed")
	w, err := mw.CreateSingleInline(ih)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	for _, f := range files {
		var ah mail.AttachmentHeader
		ah.Set("Content-Type", f.contentType)
		ah.SetFilename(f.name)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// queueProgramme renders o and writes it to the outbox as mail about the
// whole programme (the overview, the monthly report): it belongs to no
// case, so it is recorded only in the outbox. It returns the Message-ID.
func (e *Engine) queueProgramme(tx *store.Tx, o outgoing) (string, error) {
	now := e.opts().Now()
	subject, body, err := e.tmpl.Load().Render(o.kind.template(), o.lang, o.data)
	if err != nil {
		return "", fmt.Errorf("compose %s: %w", o.kind, err)
	}
	msgID := e.newMessageID()
	// The loop header names no case; its presence alone marks our mail.
	raw, err := e.build(string(o.kind), o, subject, body, msgID, now)
	if err != nil {
		return "", fmt.Errorf("compose %s: %w", o.kind, err)
	}
	m := &store.OutMail{Kind: string(o.kind), From: e.opts().OrgAddress, To: o.to, Raw: raw, NextAt: now,
		CreatedAt: now, Priority: 1}
	if err := tx.Enqueue(m); err != nil {
		return "", fmt.Errorf("queue %s: %w", o.kind, err)
	}
	return msgID, nil
}
