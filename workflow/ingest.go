package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"disclosured/mailbox"
	"disclosured/parser"
	"disclosured/pgp"
	"disclosured/store"
	"disclosured/templates"
)

// Incoming is one message to ingest.
type Incoming struct {
	Raw []byte
	// ReceivedAt is the IMAP INTERNALDATE, or the import time.
	ReceivedAt time.Time
	// Truncated is set when the mailbox cut the message at the size limit.
	Truncated bool
	// Size is the original size, when it is known to differ from len(Raw).
	Size int64
}

// Outcome says what became of one ingested message.
type Outcome struct {
	CaseID string
	// New is true when the message opened a case.
	New bool
	// Duplicate is true when the same bytes were ingested before.
	Duplicate bool
	Class     string
	// Failed is true when processing the message failed and it was
	// stored as is, with a note for staff.
	Failed bool
}

// HandleBatch is the mailbox.Handler: it ingests a batch from IMAP in one
// transaction, so the intake may mark the messages processed once it
// returns nil.
//
// While the intake works through a backlog (more batches of the same scan
// to come), the outbox holds back, for at most maxCatchUpHold: the backlog
// is committed and off the server sooner when sending and the mail server
// do not compete with it for the CPU and the store's writer lock, and the
// acknowledgments it queued go out right after, in order.
func (e *Engine) HandleBatch(ctx context.Context, b mailbox.Batch) error {
	if b.Remaining > 0 {
		e.holdUntil.CompareAndSwap(0, time.Now().Add(maxCatchUpHold).UnixNano())
	}
	in := make([]Incoming, len(b.Messages))
	for i, m := range b.Messages {
		in[i] = Incoming{Raw: m.Raw, ReceivedAt: m.InternalDate, Truncated: m.Truncated, Size: m.Size}
	}
	_, err := e.Ingest(ctx, in)
	if b.Remaining == 0 || err != nil {
		if e.holdUntil.Swap(0) != 0 {
			e.kickOutbox()
		}
	}
	return err
}

// maxCatchUpHold bounds how long a backlog may hold the outbox back, so a
// huge backlog delays the first acknowledgment by this much at most.
const maxCatchUpHold = 30 * time.Second

// outboxHeld is how much longer the outbox must wait for the intake to
// catch up; zero when it may send.
func (e *Engine) outboxHeld() time.Duration {
	until := e.holdUntil.Load()
	if until == 0 {
		return 0
	}
	return max(time.Until(time.Unix(0, until)), 0)
}

// Ingest stores messages as cases or follow-ups in one transaction, with the
// mail they cause queued in the outbox. A message whose processing fails is
// stored as a failed message (Outcome.Failed) instead of failing the rest;
// only the store itself can make Ingest fail. When it fails part way (a
// full disk), the outcomes of the committed prefix are returned with an
// error wrapping a *mailbox.PartialError and a *store.WriteError.
func (e *Engine) Ingest(ctx context.Context, msgs []Incoming) ([]Outcome, error) {
	e = e.pin()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Parsing is the CPU-heavy part of ingesting a backlog and needs no
	// store, so it runs on every core before the one write transaction.
	parsed := make([]*parser.Message, len(msgs))
	opened := make([]*pgp.Result, len(msgs))
	sums := make([]string, len(msgs))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(msgs)) {
		wg.Go(func() {
			for i := range work {
				sum := sha256.Sum256(msgs[i].Raw)
				sums[i] = hex.EncodeToString(sum[:])
				parsed[i], opened[i] = e.parseOpen(msgs[i].Raw)
			}
		})
	}
	for i := range msgs {
		work <- i
	}
	close(work)
	wg.Wait()
	all := make([]int, len(msgs))
	for i := range all {
		all[i] = i
	}
	b := &batch{msgs: msgs, parsed: parsed, opened: opened, sums: sums, failed: map[int]error{}}
	out, err := e.commitSplit(b, all)
	e.report(out)
	if len(out) > 0 {
		e.kickOutbox()
	}
	if err != nil {
		if len(out) > 0 {
			// The mailbox may mark the committed prefix processed.
			err = &mailbox.PartialError{Done: len(out), Err: err}
		}
		return out, fmt.Errorf("ingest %d messages: %w", len(msgs), err)
	}
	return out, nil
}

// batch is what Ingest commits: the messages, their parse, OpenPGP result and digest, and
// the processing errors met so far, by index.
type batch struct {
	msgs   []Incoming
	parsed []*parser.Message
	opened []*pgp.Result // the OpenPGP result of each message, nil if none
	sums   []string
	failed map[int]error
}

// commitSplit commits the messages idx of b. When the store itself fails
// (a full disk), it retries with halves, down to single messages, so that
// every message that fits is committed (issue 12): the outcomes returned
// are those of a committed prefix of idx, and the error is that of the
// first message that could not be. Failures of processing never get here:
// commitBatch isolates them.
func (e *Engine) commitSplit(b *batch, idx []int) ([]Outcome, error) {
	out, err := e.commitBatch(b, idx)
	if err == nil || len(idx) == 1 || !store.IsWriteError(err) {
		return out, err
	}
	e.log.Warn("store write failed; retrying the batch in halves", "messages", len(idx), "err", err)
	half := len(idx) / 2
	first, err := e.commitSplit(b, idx[:half])
	if err != nil {
		return first, err
	}
	second, err := e.commitSplit(b, idx[half:])
	return append(first, second...), err
}

// messageError is the failure of one message of a batch, which rolls the
// transaction back so commitBatch can try again without it.
type messageError struct {
	i   int
	err error
}

func (m *messageError) Error() string { return m.err.Error() }
func (m *messageError) Unwrap() error { return m.err }

// commitBatch ingests the messages idx of b in one transaction. A message whose
// processing fails, for any reason but the store itself (a template that
// cannot render its fields, a key too large for the store, a panic), rolls
// the transaction back and is then ingested as a failed message instead
// (ingestFailed), so it cannot hold back the rest of the batch (SPEC §8).
// Each message can fail once, so this ends after at most len(idx)+1
// transactions.
func (e *Engine) commitBatch(b *batch, idx []int) ([]Outcome, error) {
	for {
		var out []Outcome
		err := e.db.Update(func(tx *store.Tx) error {
			out = out[:0]
			for _, i := range idx {
				o, err := e.ingestIsolated(tx, b, i)
				if err != nil {
					return &messageError{i: i, err: err}
				}
				out = append(out, o)
			}
			return nil
		})
		var me *messageError
		if !errors.As(err, &me) {
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		if _, again := b.failed[me.i]; again {
			// Even the minimal record failed: nothing of this message can
			// be stored, which only the store itself can cause.
			return nil, fmt.Errorf("store failed message: %w", me.err)
		}
		e.log.Error("message could not be processed; storing it as a failed message", "sha256", b.sums[me.i], "err", me.err)
		b.failed[me.i] = me.err
	}
}

// ingestIsolated ingests message i of b, or stores it as failed when an
// earlier attempt failed; a panic becomes an error.
func (e *Engine) ingestIsolated(tx *store.Tx, b *batch, i int) (o Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = e.recovered("ingest", r)
		}
	}()
	// Messages of a batch are ingested one after another on this pinned
	// engine, so the OpenPGP result can ride along with it.
	e.inPGP = b.opened[i]
	if perr, ok := b.failed[i]; ok {
		return e.ingestFailed(tx, b.msgs[i], b.parsed[i], b.sums[i], perr)
	}
	return e.ingestOne(tx, b.msgs[i], b.parsed[i], b.sums[i])
}

// report logs and counts the committed outcomes.
func (e *Engine) report(out []Outcome) {
	for _, o := range out {
		if o.Duplicate {
			e.log.Debug("message already ingested", "case_id", o.CaseID)
			continue
		}
		if f := e.opts().Observer.Ingested; f != nil {
			f(o.Class)
		}
		e.log.Info("message ingested", "case_id", o.CaseID, "new_case", o.New, "class", o.Class, "failed", o.Failed)
	}
}

// ingestFailed stores a message whose processing failed with perr as a
// case of its own: its raw bytes, its class, and a note with the error,
// with nothing derived from it that could fail again (no threading, no
// sender count, no acknowledgment, no Message-ID index). Staff are told
// with a new-report notice; if even that cannot be rendered the case says
// so. Only a failure of the store can make this fail.
func (e *Engine) ingestFailed(tx *store.Tx, in Incoming, p *parser.Message, sum string, perr error) (Outcome, error) {
	if key, ok := tx.MessageByHash(sum); ok {
		caseID, _, _ := strings.Cut(key, "/")
		return Outcome{CaseID: caseID, Duplicate: true, Class: string(p.Class)}, nil
	}
	size := in.Size
	if size == 0 {
		size = int64(len(in.Raw))
	}
	note := "processing failed, stored as is: " + parser.CleanValue(perr.Error(), 500)
	from := parser.Address{Name: parser.CleanValue(p.From.Name, parser.MaxNameBytes),
		Addr: parser.CleanValue(p.From.Addr, parser.MaxAddrBytes)}
	rec := &store.Message{Direction: "in", Kind: "report", From: from.Addr, FromName: from.Name,
		Subject: parser.CleanValue(p.Subject, parser.MaxSubjectBytes), At: in.ReceivedAt,
		Class: string(p.Class), Size: size, Truncated: in.Truncated, SHA256: sum, Text: p.Text,
		Problems: append(append([]string(nil), p.Problems...), note)}
	local := in.ReceivedAt.In(e.opts().Calendar.Location())
	id, err := tx.NextCaseID(e.opts().CasePrefix, local.Year())
	if err != nil {
		return Outcome{}, err
	}
	subject := rec.Subject
	if subject == "" {
		subject = "(no subject)"
	}
	c := &store.Case{ID: id, State: string(StateNew), Reporter: store.Address{Name: from.Name, Addr: from.Addr},
		Subject: subject, ReceivedAt: in.ReceivedAt, Language: e.opts().Languages[0], Class: rec.Class,
		UpdatedAt: in.ReceivedAt, Deadlines: map[string]*store.Deadline{}}
	rec.CaseID = id
	if err := tx.AddMessage(rec, in.Raw); err != nil {
		return Outcome{}, err
	}
	if err := tx.AppendEvent(id, store.Event{At: in.ReceivedAt, Type: string(EventIngestFailed), Detail: note}); err != nil {
		return Outcome{}, err
	}
	data := e.caseData(c, rec)
	data.Notes = append(data.Notes, note, "no acknowledgment was sent: the message could not be processed")
	if e.isOwnAddress(from.Addr) || hasLoopHeader(in.Raw) {
		// Telling anyone would loop.
	} else if _, err := e.queue(tx, c, e.opts().toStaff(MailNewReport, data), in.ReceivedAt); err != nil {
		// queue renders before it writes, so a failure leaves nothing
		// behind; the case records that staff were not told by mail.
		e.log.Error("staff notice for a failed message could not be composed", "case_id", id, "err", err)
		if err := tx.AppendEvent(id, store.Event{At: in.ReceivedAt, Type: string(EventNote),
			Detail: "staff could not be told by mail: " + parser.CleanValue(err.Error(), 300)}); err != nil {
			return Outcome{}, err
		}
	}
	if err := e.putCase(tx, c); err != nil {
		return Outcome{}, err
	}
	return Outcome{CaseID: id, New: true, Class: rec.Class, Failed: true}, nil
}

// parse never fails; a panic in the parser becomes a parse problem so one
// hostile message cannot stop the batch.
func (e *Engine) parse(raw []byte) (p *parser.Message) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("parser panicked", "panic", fmt.Sprint(r))
			e.panicked("parser")
			p = &parser.Message{Class: parser.ClassHuman, Problems: []string{fmt.Sprintf("parser failed: %v", r)},
				Text: strings.ToValidUTF8(string(raw[:min(len(raw), 64<<10)]), "\uFFFD")}
		}
	}()
	return parser.Parse(raw, e.opts().ParseLimits)
}

var tagRE = regexp.MustCompile(`\[([A-Z0-9]{1,10}-\d{4}-\d{4,})\]`)

// thread finds the case an incoming message belongs to (SPEC §3): a case
// tag in the subject, or a Message-ID of the case in In-Reply-To or
// References. tagged reports a tag naming an existing case, whether or not
// the message may join it.
func (e *Engine) thread(tx *store.Tx, p *parser.Message) (c *store.Case, tagged string, err error) {
	for _, m := range tagRE.FindAllStringSubmatch(p.Subject, -1) {
		if !strings.HasPrefix(m[1], e.opts().CasePrefix+"-") {
			continue
		}
		c, err := tx.Case(m[1])
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if e.mayJoin(c, p.From.Addr) {
			return c, c.ID, nil
		}
		tagged = c.ID
	}
	ids := append(append([]string(nil), p.InReplyTo...), p.References...)
	for i := len(ids) - 1; i >= 0; i-- {
		if id, ok := tx.CaseByMessageID(ids[i]); ok {
			c, err := tx.Case(id)
			if err != nil {
				return nil, "", err
			}
			return c, tagged, nil
		}
	}
	return nil, tagged, nil
}

// mayJoin: only the reporter, staff, a recorded third-party owner and our
// own address (our mail coming back) may add to a case by its tag alone.
func (e *Engine) mayJoin(c *store.Case, from string) bool {
	return from != "" && (parser.SameAddress(from, c.Reporter.Addr) || e.isStaff(from) ||
		e.isOwnAddress(from) || (c.ThirdParty != "" && parser.SameAddress(from, c.ThirdParty)))
}

func (e *Engine) ingestOne(tx *store.Tx, in Incoming, p *parser.Message, sum string) (Outcome, error) {
	if key, ok := tx.MessageByHash(sum); ok {
		caseID, _, _ := strings.Cut(key, "/")
		return Outcome{CaseID: caseID, Duplicate: true, Class: string(p.Class)}, nil
	}
	size := in.Size
	if size == 0 {
		size = int64(len(in.Raw))
	}
	problems := append([]string(nil), p.Problems...)
	if in.Truncated {
		problems = append(problems, fmt.Sprintf("message of %d bytes truncated to the first %d bytes (limits.max_message_bytes)", size, len(in.Raw)))
	}
	rec := &store.Message{Direction: "in", Kind: "report", From: p.From.Addr, FromName: p.From.Name,
		Subject: p.Subject, MessageID: p.MessageID, At: in.ReceivedAt, Class: string(p.Class),
		Size: size, Truncated: in.Truncated, SHA256: sum, Text: p.Text, URLs: p.URLs, IPs: p.IPs,
		Hosts: p.Hosts, Problems: problems}
	for _, a := range p.Attachments {
		rec.Attachments = append(rec.Attachments, store.Attachment{Filename: a.Filename,
			ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256})
	}
	for _, a := range append(append([]parser.Address(nil), p.To...), p.Cc...) {
		rec.To = append(rec.To, a.Addr)
	}
	rec.PGP = pgpRecord(e.inPGP)

	if done, err := e.answerOverview(tx, p, in.Raw, sum, in.ReceivedAt); done || err != nil {
		return Outcome{CaseID: "", Class: rec.Class}, err
	}
	c, tagged, err := e.thread(tx, p)
	if err != nil {
		return Outcome{}, err
	}
	if c != nil {
		rec.CaseID, rec.Kind = c.ID, "followup"
		if err := e.followUp(tx, c, rec, p, in.Raw); err != nil {
			return Outcome{}, err
		}
		return Outcome{CaseID: c.ID, Class: rec.Class}, nil
	}
	c, err = e.open(tx, rec, p, in.Raw, tagged)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{CaseID: c.ID, New: true, Class: rec.Class}, nil
}

// noReplyReason says why a message must not be answered (SPEC §4), or "".
func (e *Engine) noReplyReason(p *parser.Message, raw []byte) string {
	switch {
	case p.From.Addr == "":
		return "no sender address"
	case e.isOwnAddress(p.From.Addr):
		return "sent from our own address"
	case p.From.Guessed:
		return "the From field does not follow RFC 5322, and the address taken from it may come from a display name"
	case mailbox.CheckEnvelopeAddress(p.From.Addr) != nil:
		return "the sender address cannot be used for mail: " + mailbox.CheckEnvelopeAddress(p.From.Addr).Error()
	case hasLoopHeader(raw):
		return "carries our own " + LoopHeader + " header"
	case p.Class != parser.ClassHuman:
		reason := string(p.Class)
		if p.ClassReason != "" {
			reason += ": " + p.ClassReason
		}
		return reason
	}
	return ""
}

// hasLoopHeader looks for LoopHeader in the top-level header block only.
func hasLoopHeader(raw []byte) bool {
	head := raw[:min(len(raw), 1<<20)]
	if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	}
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	}
	key := []byte(strings.ToLower(LoopHeader) + ":")
	lower := bytes.ToLower(head)
	return bytes.HasPrefix(lower, key) || bytes.Contains(lower, append([]byte("\n"), key...))
}

func (e *Engine) language(p *parser.Message) string {
	for _, l := range e.opts().Languages {
		if l == p.Language {
			return l
		}
	}
	return e.opts().Languages[0]
}

// open creates a case for a message that belongs to none.
func (e *Engine) open(tx *store.Tx, rec *store.Message, p *parser.Message, raw []byte, tagged string) (*store.Case, error) {
	at := rec.At
	local := at.In(e.opts().Calendar.Location())
	id, err := tx.NextCaseID(e.opts().CasePrefix, local.Year())
	if err != nil {
		return nil, err
	}
	subject := p.Subject
	if strings.TrimSpace(subject) == "" {
		subject = "(no subject)"
	}
	c := &store.Case{ID: id, State: string(StateNew), Reporter: store.Address{Name: p.From.Name, Addr: p.From.Addr},
		Subject: subject, ReceivedAt: at, Language: e.language(p), Class: rec.Class,
		RefersTo: tagged, Thread: p.MessageID, UpdatedAt: at, Deadlines: map[string]*store.Deadline{}}
	rec.CaseID = id
	e.pgpCase(c, rec, raw)
	if err := tx.AddMessage(rec, raw); err != nil {
		return nil, err
	}
	if err := tx.AppendEvent(id, store.Event{At: at, Type: string(EventOpened), Actor: p.From.Addr,
		MessageID: p.MessageID, Detail: "class " + rec.Class}); err != nil {
		return nil, err
	}

	// Whether the reporter is acknowledged, and what staff are told: a
	// new-report notice, one flood notice when the sender crosses the daily
	// limit, or nothing (our own mail coming back, or a flood already told).
	reason := e.noReplyReason(p, raw)
	if reason == "" && e.overviewRequest(p) {
		reason = e.overviewRefusal(p) // not staff, or not authenticated
	}
	notify := MailNewReport
	if e.isOwnAddress(p.From.Addr) || hasLoopHeader(raw) {
		notify = "" // telling anyone would loop
	}
	if reason == "" {
		n, err := tx.IncSenderCount(p.From.Addr, local.Format(time.DateOnly))
		if err != nil {
			return nil, err
		}
		if limit := e.opts().AcksPerSenderPerDay; limit > 0 && n > limit {
			reason = fmt.Sprintf("more than %d reports from this sender today", limit)
			notify = ""
			if n == limit+1 {
				notify = "flood"
			}
		}
	}
	if reason == "" {
		// The policy's promises run for reports we acknowledge; machine
		// mail, our own mail and floods are stored without timers, or they
		// would page staff about mail nobody needs to answer.
		for _, name := range []TimerName{TimerAcknowledge, TimerAssess, TimerResolve} {
			e.startTimer(c, name, at)
		}
	}
	data := e.caseData(c, rec)
	if tagged != "" {
		data.Notes = append(data.Notes, refersNote(tagged))
	}
	if reason == "" {
		o := toReporter(c, MailAck, data)
		o.refs = p.References
		msgID, err := e.queue(tx, c, o, at)
		if err != nil {
			return nil, err
		}
		c.State, c.Thread = string(StateAcknowledged), msgID
		if err := tx.AppendEvent(id, store.Event{At: at, Type: string(EventState), Detail: string(StateNew) + " -> " + string(StateAcknowledged)}); err != nil {
			return nil, err
		}
	} else {
		data.Notes = append(data.Notes, "no acknowledgment was sent: "+reason)
		if err := tx.AppendEvent(id, store.Event{At: at, Type: string(EventNoReply), Detail: reason}); err != nil {
			return nil, err
		}
	}
	if notify != "" {
		data.State, data.Count = c.State, e.opts().AcksPerSenderPerDay+1
		if _, err := e.queue(tx, c, e.opts().toStaff(notify, data), at); err != nil {
			return nil, err
		}
	}
	if err := e.putCase(tx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// followUp adds a message to an existing case. Staff mail carries
// commands; mail from anyone else is told to staff, and the reporter's own
// keywords are applied.
func (e *Engine) followUp(tx *store.Tx, c *store.Case, rec *store.Message, p *parser.Message, raw []byte) error {
	at, from := rec.At, p.From.Addr
	e.pgpCase(c, rec, raw)
	if err := tx.AddMessage(rec, raw); err != nil {
		return err
	}
	reason := e.noReplyReason(p, raw)
	if e.isStaff(from) {
		rec.Kind = "staff"
		if err := tx.UpdateMessage(rec); err != nil {
			return err
		}
		if reason != "" {
			// Our own mail, or a machine, using a staff address: never a command.
			return tx.AppendEvent(c.ID, store.Event{At: at, Type: string(EventNote), Actor: from, MessageID: p.MessageID, Detail: reason})
		}
		return e.staffMail(tx, c, rec, p)
	}
	kind, tmpl := EventReporterReplied, MailReporterReplied
	switch {
	case c.ThirdParty != "" && parser.SameAddress(from, c.ThirdParty):
		kind, tmpl = EventOwnerReplied, MailOwnerReplied
	case !parser.SameAddress(from, c.Reporter.Addr):
		kind = EventOtherReplied
	}
	if err := tx.AppendEvent(c.ID, store.Event{At: at, Type: string(kind), Actor: from, MessageID: p.MessageID}); err != nil {
		return err
	}
	var notes []string
	if kind == EventReporterReplied && reason == "" {
		if c.PausedAt != nil {
			e.resume(c, at)
			notes = append(notes, "the reporter answered; the paused deadlines run again")
			if err := tx.AppendEvent(c.ID, store.Event{At: at, Type: string(EventTimersResumed), Actor: from}); err != nil {
				return err
			}
		}
		more, err := e.reporterMail(tx, c, rec, p)
		if err != nil {
			return err
		}
		notes = append(notes, more...)
		if p.MessageID != "" {
			c.Thread = p.MessageID
		}
	}
	if reason == "" {
		data := e.caseData(c, rec)
		data.Notes = append(data.Notes, notes...)
		data.Owner = c.ThirdParty
		if kind == EventOtherReplied {
			data.Notes = append(data.Notes, "this message is not from the reporter ("+from+")")
		}
		if _, err := e.queue(tx, c, e.opts().toStaff(tmpl, data), at); err != nil {
			return err
		}
	}
	c.UpdatedAt = at
	return e.putCase(tx, c)
}

// caseData fills the template data for a case and the message at hand.
func (e *Engine) caseData(c *store.Case, m *store.Message) templates.Data {
	// Subject and ReporterAddr reach the subject lines of our mail
	// (the flood notice names the sender): both are quoted.
	d := templates.Data{OrgName: e.opts().OrgName, OrgAddress: e.opts().OrgAddress, CaseID: c.ID,
		Subject: quoteSubject(c.Subject), State: c.State, ReporterName: c.Reporter.Name, ReporterAddr: quoteSubject(c.Reporter.Addr),
		ReceivedAt: e.formatTime(m.At), Text: m.Text, Class: m.Class, URLs: m.URLs, IPs: m.IPs,
		Hosts: m.Hosts, Problems: m.Problems}
	if d.ReporterAddr == "" {
		d.ReporterAddr = "unknown sender"
	}
	if dl := deadline(c, TimerAssess); dl != nil {
		d.AssessDue = e.formatTime(dl.Due)
	}
	if dl := deadline(c, TimerResolve); dl != nil {
		d.ResolveDue = e.formatTime(dl.Due)
	}
	for _, a := range m.Attachments {
		d.Attachments = append(d.Attachments, fmt.Sprintf("%s (%s, %s)", a.Filename, a.ContentType, humanSize(a.Size)))
	}
	e.pgpData(&d, m)
	return d
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func refersNote(tagged string) string {
	return fmt.Sprintf("the subject names case %s, but the sender is neither its reporter nor staff, so it was opened as a new case", tagged)
}
