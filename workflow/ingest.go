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
// mail they cause queued in the outbox.
func (e *Engine) Ingest(ctx context.Context, msgs []Incoming) ([]Outcome, error) {
	e = e.pin()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Parsing is the CPU-heavy part of ingesting a backlog and needs no
	// store, so it runs on every core before the one write transaction.
	parsed := make([]*parser.Message, len(msgs))
	sums := make([]string, len(msgs))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(msgs)) {
		wg.Go(func() {
			for i := range work {
				sum := sha256.Sum256(msgs[i].Raw)
				sums[i] = hex.EncodeToString(sum[:])
				parsed[i] = e.parse(msgs[i].Raw)
			}
		})
	}
	for i := range msgs {
		work <- i
	}
	close(work)
	wg.Wait()
	var out []Outcome
	err := e.db.Update(func(tx *store.Tx) error {
		out = out[:0]
		for i, m := range msgs {
			o, err := e.ingestOne(tx, m, parsed[i], sums[i])
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest %d messages: %w", len(msgs), err)
	}
	for _, o := range out {
		if o.Duplicate {
			e.log.Debug("message already ingested", "case_id", o.CaseID)
			continue
		}
		if f := e.opts().Observer.Ingested; f != nil {
			f(o.Class)
		}
		e.log.Info("message ingested", "case_id", o.CaseID, "new_case", o.New, "class", o.Class)
	}
	e.kickOutbox()
	return out, nil
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
	return from != "" && (strings.EqualFold(from, c.Reporter.Addr) || e.isStaff(from) ||
		e.isOwnAddress(from) || (c.ThirdParty != "" && strings.EqualFold(from, c.ThirdParty)))
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
	case c.ThirdParty != "" && strings.EqualFold(from, c.ThirdParty):
		kind, tmpl = EventOwnerReplied, MailOwnerReplied
	case !strings.EqualFold(from, c.Reporter.Addr):
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
	d := templates.Data{OrgName: e.opts().OrgName, OrgAddress: e.opts().OrgAddress, CaseID: c.ID,
		Subject: c.Subject, State: c.State, ReporterName: c.Reporter.Name, ReporterAddr: c.Reporter.Addr,
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
