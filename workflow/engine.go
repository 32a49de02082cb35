// Package workflow turns mail into cases and cases into mail. It is the one
// package that combines the leaves: it parses incoming messages (parser),
// threads them into cases and applies every state change in one store
// transaction together with the events and the outgoing mail it causes
// (store, templates, calendar), and it runs the outbox that hands that mail
// to SMTP (mailbox).
//
// Invariants:
//   - One writer for case state: every change is one store.Update that reads
//     the case, applies the transition, appends events and queues mail.
//   - A message is ingested once: its SHA-256 is indexed with it, so the
//     same bytes seen again (after a crash before the server was told, or a
//     UIDVALIDITY change) are skipped.
//   - Time is a parameter: receipt time comes from IMAP INTERNALDATE (or
//     import), and the outbox reads its clock through Options.Now.
package workflow

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"disclosured/calendar"
	"disclosured/parser"
	"disclosured/pgp"
	"disclosured/store"
	"disclosured/templates"
)

// Options configure an Engine. cmd builds them from the config.
type Options struct {
	OrgName    string
	OrgAddress string // the security mailbox
	CasePrefix string
	// Domain is the right-hand side of generated Message-IDs.
	Domain string
	// Languages are the reporter languages offered; the first is the default.
	Languages []string

	StaffAddresses []string
	StaffNotify    []string
	StaffEscalate  []string

	AcksPerSenderPerDay int

	// StaffAuth is "authres" (default), "microsoft365" or "none" (tests
	// only); AuthservID
	// is the receiving MTA's authserv-id trusted in Authentication-Results.
	StaffAuth  string
	AuthservID string
	// TenantID, for StaffAuth "microsoft365", is the tenant that
	// X-MS-Exchange-CrossTenant-Id must name; "" skips that check.
	TenantID string

	// Reward bounds for #reward, in Currency.
	RewardMin, RewardMax int
	Currency             string

	Calendar *calendar.Calendar
	// Timers holds the duration of each promise, keyed by timer name.
	Timers map[TimerName]calendar.Duration
	// RemindAt are the fractions of each timer at which staff are
	// reminded, ascending (SPEC §6).
	RemindAt []float64

	ParseLimits parser.Limits
	// MaxMessageBytes is the most Import keeps of one message, as the
	// intake does (limits.max_message_bytes); 0 means no limit.
	MaxMessageBytes int64

	Logger *slog.Logger
	// Now is the clock for the outbox; nil means time.Now.
	Now func() time.Time

	// Observer, if set, is told what happened, for metrics.
	Observer Observer

	// PGP turns OpenPGP on (see pgp.go); nil is off.
	PGP *PGPOptions
	// Overview and MonthlyReport are the scheduled mails about the whole
	// programme (digest.go); the zero Schedule turns one off.
	Overview, MonthlyReport Schedule
}

// Observer receives counts of what the engine did. Nil funcs are skipped.
type Observer struct {
	Ingested   func(class string)
	MailSent   func(kind string)
	MailFailed func(kind string)
	Panicked   func(component string)
}

// Engine applies mail to cases. It is safe for concurrent use; store
// transactions serialise the writers.
type Engine struct {
	db   *store.DB
	cur  atomic.Pointer[Options]
	tmpl atomic.Pointer[templates.Set]
	log  *slog.Logger
	kick chan struct{}
	// holdUntil is when the outbox's catch-up hold ends (Unix nanoseconds
	// on the real clock); zero when the outbox is free to send. Shared
	// with pinned copies.
	holdUntil *atomic.Int64
	// loginHold is the outbox's hold while the submission server refuses
	// our login (outbox.go). Shared with pinned copies.
	loginHold *loginHold
	// pinned marks a copy made by pin, whose options never change.
	pinned bool
	// staffProblem is set while staff mail reaches nobody (recipients.go).
	// Shared with pinned copies.
	staffProblem *staffProblem
	// inPGP is the OpenPGP result of the message a pinned engine is
	// ingesting right now (ingestOne sets it; messages of a batch are
	// ingested one after another).
	inPGP *pgp.Result
}

// New returns an engine over db.
func New(db *store.DB, o Options, t *templates.Set) *Engine {
	o = withDefaults(o)
	e := &Engine{db: db, log: o.Logger.With("component", "workflow"), kick: make(chan struct{}, 1),
		holdUntil: new(atomic.Int64), loginHold: new(loginHold), staffProblem: new(staffProblem)}
	e.cur.Store(&o)
	e.tmpl.Store(t)
	return e
}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Languages) == 0 {
		o.Languages = []string{"en"}
	}
	if o.Domain == "" {
		_, o.Domain, _ = strings.Cut(o.OrgAddress, "@")
	}
	return o
}

// opts is the current options; a reload swaps them whole. Inside a
// transaction e is pinned, so every read sees the same options.
func (e *Engine) opts() *Options { return e.cur.Load() }

// pin returns an engine that keeps the options and templates current now
// for as long as it is used. Every entry point that runs a transaction
// (Ingest, Sweep, an outbox pass, Erase, Retain) works on a pinned engine,
// so a reload in the middle cannot mix old and new values in one
// transaction: it takes effect from the next one.
func (e *Engine) pin() *Engine {
	if e.pinned {
		return e
	}
	p := &Engine{db: e.db, log: e.log, kick: e.kick, holdUntil: e.holdUntil, loginHold: e.loginHold,
		staffProblem: e.staffProblem, pinned: true}
	p.cur.Store(e.opts())
	p.tmpl.Store(e.tmpl.Load())
	return p
}

// Reload swaps in new, already validated options and templates (SIGHUP).
// Work in progress finishes on the values it started with (see pin).
func (e *Engine) Reload(o Options, t *templates.Set) {
	o = withDefaults(o)
	e.cur.Store(&o)
	e.tmpl.Store(t)
}

// DB is the store the engine works on.
func (e *Engine) DB() *store.DB { return e.db }

// kickOutbox wakes the outbox loop without blocking.
func (e *Engine) kickOutbox() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Engine) isStaff(addr string) bool { return containsFold(e.opts().StaffAddresses, addr) }

func (e *Engine) isOwnAddress(addr string) bool {
	return addr != "" && parser.SameAddress(addr, e.opts().OrgAddress)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if parser.SameAddress(x, s) {
			return true
		}
	}
	return false
}
