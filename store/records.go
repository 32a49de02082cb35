package store

import "time"

// Address is a mailbox with an optional display name.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr"`
}

// Case is one report and everything decided about it.
type Case struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	Reporter   Address   `json:"reporter"`
	Subject    string    `json:"subject"`
	ReceivedAt time.Time `json:"received_at"`
	// Language is the language mail to the reporter is written in.
	Language string `json:"language"`
	// Class is the parser's classification of the opening message
	// (human, bounce, autoreply, list).
	Class     string    `json:"class"`
	Severity  string    `json:"severity,omitempty"`
	FixBy     string    `json:"fix_by,omitempty"`
	Reward    *Reward   `json:"reward,omitempty"`
	Credit    string    `json:"credit,omitempty"`
	Consents  []Consent `json:"consents,omitempty"`
	PublishAt string    `json:"publish_at,omitempty"`
	// Publication schedules the mails of the agreed publication day;
	// nil when none is agreed.
	Publication *Publication `json:"publication,omitempty"`
	// CVE is the CVE identifier recorded for the advisory (#cve).
	CVE        string               `json:"cve,omitempty"`
	ThirdParty string               `json:"third_party,omitempty"`
	Deadlines  map[string]*Deadline `json:"deadlines,omitempty"`
	// RefersTo is a case tag a stranger's mail carried; the new case
	// records it instead of joining that case (SPEC §3).
	RefersTo string `json:"refers_to,omitempty"`
	// PausedAt is set while the case waits for the reporter (#info); the
	// open deadlines move by the paused business time when they reply.
	PausedAt *time.Time `json:"paused_at,omitempty"`
	// Pauses are the ended pauses, for the record.
	Pauses []Pause `json:"pauses,omitempty"`
	// Thread is the Message-ID of the last mail in the conversation with
	// the reporter, which the next reply answers.
	Thread    string    `json:"thread,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// ErasedAt is set when the personal data was erased; the case is
	// then an anonymous tombstone.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
	// Encrypted is set when a message of the reporter came encrypted: its
	// content then reaches nobody in the clear (see workflow/pgp.go).
	Encrypted bool `json:"encrypted,omitempty"`
	// Keys are the reporter's OpenPGP keys found in their mail.
	Keys []ReporterKey `json:"keys,omitempty"`
}

// ReporterKey is an OpenPGP public key a reporter sent (an attached key
// or an Autocrypt: header).
type ReporterKey struct {
	Addr        string    `json:"addr"`
	Fingerprint string    `json:"fingerprint"`
	Armored     string    `json:"armored"`
	Source      string    `json:"source"`
	AddedAt     time.Time `json:"added_at"`
	// Accepted keys are used; a key that came after another one was
	// accepted for the same address waits for staff's #key.
	Accepted bool `json:"accepted"`
}

// PGP is what OpenPGP processing found in one incoming message.
type PGP struct {
	Encrypted      bool     `json:"encrypted"`
	Decrypted      bool     `json:"decrypted"`
	Form           string   `json:"form,omitempty"`
	DecryptedWith  string   `json:"decrypted_with,omitempty"`
	EncryptedTo    []string `json:"encrypted_to,omitempty"`
	Signed         bool     `json:"signed"`
	SignedBy       string   `json:"signed_by,omitempty"`
	SignatureValid bool     `json:"signature_valid"`
	// SignatureKey: "known" (the case's or the staff's key) or "attached"
	// (a key the same message carried: trust on first use).
	SignatureKey string `json:"signature_key,omitempty"`
	SignedAll    bool   `json:"signed_all,omitempty"`
	// ProtectedSubject: the subject came from inside the encrypted or
	// signed part.
	ProtectedSubject bool     `json:"protected_subject,omitempty"`
	Error            string   `json:"error,omitempty"`
	KeyNotes         []string `json:"key_notes,omitempty"`
}

// Publication is the schedule of an agreed publication (#publish): a
// reminder to staff some working days before, and on the day the advisory
// draft to staff and the notice to the reporter.
type Publication struct {
	// Date is the agreed day, YYYY-MM-DD in the organisation's zone.
	Date string `json:"date"`
	// RemindAt is when staff are reminded; Due is when the day's mail goes.
	RemindAt time.Time `json:"remind_at"`
	Due      time.Time `json:"due"`
	// Reminded is set once the reminder went (or was skipped because the
	// day was agreed too late for it).
	Reminded bool `json:"reminded,omitempty"`
	// DoneAt is when the day's mail was queued.
	DoneAt *time.Time `json:"done_at,omitempty"`
	// Next is when the sweep must next look at it; zero when done. It is
	// indexed in the due bucket under TimerPublish.
	Next time.Time `json:"next,omitzero"`
}

// Pause is one interval in which a case's timers waited for the reporter.
type Pause struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Business is the working time it moved the open deadlines by.
	Business time.Duration `json:"business_ns"`
}

// Reward is a reward offered to the reporter.
type Reward struct {
	Amount   int    `json:"amount"`
	Currency string `json:"currency"`
}

// Consent is a reporter's recorded choice (credit, anonymous, share).
type Consent struct {
	Kind  string    `json:"kind"`
	Value string    `json:"value,omitempty"`
	At    time.Time `json:"at"`
}

// Deadline is one promise of the policy for one case.
type Deadline struct {
	Start    time.Time  `json:"start"`
	Due      time.Time  `json:"due"`
	MetAt    *time.Time `json:"met_at"`
	Breached bool       `json:"breached"`
	// Paused is the business time the deadline was moved by pauses.
	Paused time.Duration `json:"paused,omitempty"`
	// Reminders is how many of the configured reminder fractions were
	// sent (or skipped when the sweep caught up past them).
	Reminders int `json:"reminders,omitempty"`
	// Next is when the sweep must next look at this deadline (a reminder
	// or the due time); zero when nothing more will happen. It is indexed
	// in the due bucket so a sweep touches only what is due.
	Next time.Time `json:"next,omitzero"`
}

// Event is one entry of a case's append-only log.
type Event struct {
	Seq       uint64    `json:"seq"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Attachment describes one attachment of an incoming message; its bytes
// stay inside the stored raw message.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Message is the metadata of one mail of a case, in or out.
type Message struct {
	Key       string    `json:"key"`
	CaseID    string    `json:"case_id"`
	Direction string    `json:"direction"` // "in" or "out"
	Kind      string    `json:"kind"`
	From      string    `json:"from"`
	FromName  string    `json:"from_name,omitempty"`
	To        []string  `json:"to"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id,omitempty"`
	At        time.Time `json:"at"`
	// Incoming only.
	Class       string       `json:"class,omitempty"`
	Size        int64        `json:"size,omitempty"`
	Truncated   bool         `json:"truncated,omitempty"`
	SHA256      string       `json:"sha256,omitempty"`
	Text        string       `json:"text,omitempty"`
	URLs        []string     `json:"urls,omitempty"`
	IPs         []string     `json:"ips,omitempty"`
	Hosts       []string     `json:"hosts,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Problems    []string     `json:"problems,omitempty"`
	// PGP is set when the message held OpenPGP; the stored raw message
	// is then the ciphertext as it came, Text the plaintext.
	PGP *PGP `json:"pgp,omitempty"`
	// Outgoing only: the outbox record that carries it.
	OutboxID uint64 `json:"outbox_id,omitempty"`
}

// Outbox states.
const (
	MailPending = "pending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// OutMail is one outgoing mail in the outbox.
type OutMail struct {
	ID     uint64   `json:"id"`
	CaseID string   `json:"case_id,omitempty"`
	Kind   string   `json:"kind"`
	From   string   `json:"from"`
	To     []string `json:"to"`
	Raw    []byte   `json:"raw"`
	Status string   `json:"status"`
	// Priority orders due mail: 0 goes before 1 (reporters before staff).
	Priority  int       `json:"priority,omitempty"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
}
