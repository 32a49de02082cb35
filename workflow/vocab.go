package workflow

// The workflow's vocabulary, one spelling per word. Each type's values are
// the strings the store has always held (store records are plain strings,
// so the leaf store needs no workflow import): a store written by an older
// build reads the same, and nothing needs migrating.

import (
	"disclosured/store"
	"disclosured/templates"
)

// State is a case state (SPEC §3).
type State string

// Case states.
const (
	StateNew          State = "new"
	StateAcknowledged State = "acknowledged"
	StateAssessed     State = "assessed"
	StateResolved     State = "resolved"
	StateClosed       State = "closed"
	StateRejected     State = "rejected"
	StateDuplicate    State = "duplicate"
)

// States lists every case state, in the order of a case's life.
var States = []State{StateNew, StateAcknowledged, StateAssessed, StateResolved,
	StateClosed, StateRejected, StateDuplicate}

// stateOf is c's state.
func stateOf(c *store.Case) State { return State(c.State) }

// TimerName names one of the policy's promises (SPEC §1, §6); it keys
// store.Case.Deadlines.
type TimerName string

// Timer names.
const (
	TimerAcknowledge TimerName = "acknowledge"
	TimerAssess      TimerName = "assess"
	TimerProgress    TimerName = "progress"
	TimerResolve     TimerName = "resolve"
	TimerThirdParty  TimerName = "third_party"
)

// Timers lists every timer, in the order of a case's life; reports and
// the CLI list them in this order.
var Timers = []TimerName{TimerAcknowledge, TimerAssess, TimerProgress, TimerResolve, TimerThirdParty}

// deadline is c's deadline for timer name, or nil.
func deadline(c *store.Case, name TimerName) *store.Deadline { return c.Deadlines[string(name)] }

// EventType is the type of a case event in the store's log.
type EventType string

// Event types.
const (
	EventOpened          EventType = "opened"
	EventState           EventType = "state"
	EventNote            EventType = "note"
	EventCommand         EventType = "command"
	EventCommandRefused  EventType = "command_refused"
	EventUnauthenticated EventType = "unauthenticated"
	EventConsent         EventType = "consent"
	EventNoReply         EventType = "no_reply"
	EventReporterReplied EventType = "reporter_replied"
	EventOwnerReplied    EventType = "owner_replied"
	EventOtherReplied    EventType = "other_replied"
	EventTimersResumed   EventType = "timers_resumed"
	EventTimerMet        EventType = "timer_met"
	EventTimerReminder   EventType = "timer_reminder"
	EventTimerBreached   EventType = "timer_breached"
	EventStatusUpdate    EventType = "status_update"
	EventMailQueued      EventType = "mail_queued"
	EventMailFailed      EventType = "mail_failed"
	EventErased          EventType = "erased"
	// EventIngestFailed: processing the message failed; it was stored as
	// is, with the error, and staff were told.
	EventIngestFailed EventType = "ingest_failed"
)

// MailKind is the kind of an outgoing mail. Its value is also the name of
// the template that renders it.
type MailKind string

// Mail kinds.
const (
	// To the reporter.
	MailAck                MailKind = "ack"
	MailReply              MailKind = "reply"
	MailAssessment         MailKind = "assessment"
	MailProgress           MailKind = "progress"
	MailInfo               MailKind = "info"
	MailResolved           MailKind = "resolved"
	MailRejected           MailKind = "rejected"
	MailDuplicate          MailKind = "duplicate"
	MailReward             MailKind = "reward"
	MailStatus             MailKind = "status"
	MailStatusUpdate       MailKind = "status-update"
	MailThirdPartyReporter MailKind = "thirdparty-reporter"
	// To a third-party owner.
	MailThirdPartyOwner MailKind = "thirdparty-owner"
	// To staff.
	MailNewReport       MailKind = "new-report"
	MailReporterReplied MailKind = "reporter-replied"
	MailOwnerReplied    MailKind = "owner-replied"
	MailFlood           MailKind = "flood"
	MailDone            MailKind = "done"
	MailRefused         MailKind = "refused"
	MailUnauthenticated MailKind = "unauthenticated"
	MailReminder        MailKind = "reminder"
	MailOverdue         MailKind = "overdue"
	MailFailed          MailKind = "mail-failed"
)

// template is the name of the template that renders mail of kind k.
func (k MailKind) template() string { return string(k) }

// staffKinds are the mails that go to staff. They go out after the
// reporters' mail in a backlog, and a failure of one of them is recorded
// but not announced by mail, which could only fail again.
var staffKinds = map[MailKind]bool{MailNewReport: true, MailReporterReplied: true, MailOwnerReplied: true,
	MailFlood: true, MailDone: true, MailRefused: true, MailUnauthenticated: true, MailReminder: true,
	MailOverdue: true, MailFailed: true,
	MailOverview: true, MailShow: true, MailReport: true, MailPublishReminder: true, MailPublishToday: true}

// toStaff is mail of kind k to staff (staff.notify) in the staff's
// language; nobody asked for it.
func (o *Options) toStaff(k MailKind, d templates.Data) outgoing {
	return outgoing{kind: k, lang: o.Languages[0], to: o.StaffNotify, data: d, autoSubmitted: "auto-generated"}
}

// toSender is mail of kind k to staff member from, answering their
// message msgID.
func (o *Options) toSender(k MailKind, from, msgID string, refs []string, d templates.Data) outgoing {
	return outgoing{kind: k, lang: o.Languages[0], to: []string{from}, data: d, inReplyTo: msgID,
		refs: refs, autoSubmitted: "auto-replied"}
}

// toReporter is mail of kind k to c's reporter, in their language and in
// their thread, which moves to it.
func toReporter(c *store.Case, k MailKind, d templates.Data) outgoing {
	return outgoing{kind: k, lang: c.Language, to: []string{c.Reporter.Addr}, data: d,
		inReplyTo: c.Thread, toReporter: true, autoSubmitted: "auto-replied"}
}
