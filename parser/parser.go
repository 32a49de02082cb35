// Package parser turns the raw bytes of one incoming mail into a Message:
// the decoded header fields the workflow needs for threading and commands,
// the best readable UTF-8 text, a list of attachments, the URLs, IP
// addresses and host names a reporter mentioned, the language of the report
// and a classification (human, bounce, auto-reply, mailing list) that
// decides whether the daemon may answer at all (SPEC §4).
//
// The package owns no state and does no I/O: it never opens a file, never
// resolves a name and never fetches a URL that appears in a message.
//
// Invariants:
//
//   - Parse never fails, never returns nil and never panics. Anything that
//     goes wrong is recorded in Message.Problems, and the parser keeps what
//     it already has; a panic inside is recovered and recorded the same way
//     (SPEC §8: malformed input is stored and shown, never crashes the
//     daemon).
//   - Every string in a Message is valid UTF-8. Unknown charsets keep their
//     raw bytes with invalid sequences replaced.
//   - Work is bounded by Limits: nesting depth, number of MIME parts and
//     header size. The whole message is already in memory (the mailbox
//     package caps its size), so the parser works on byte slices and splits
//     multipart bodies itself instead of streaming them; this makes it
//     tolerant of missing or clashing boundaries that a streaming reader
//     treats as fatal.
//
// Header fields are read with go-message's textproto reader after a
// lenient clean-up pass (mbox From_ lines, bare-CR line endings, leading
// whitespace, lines that are not header fields); encoded words (RFC 2047)
// and body charsets are decoded through go-message/charset.
package parser

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Class is the kind of sender a message comes from. Only ClassHuman may be
// answered automatically (SPEC §4).
type Class string

// The classes Parse assigns.
const (
	ClassHuman     Class = "human"
	ClassBounce    Class = "bounce"
	ClassAutoreply Class = "autoreply"
	ClassList      Class = "list"
)

// Address is a mailbox from an address header. Addr is kept as written;
// callers compare it lowercased. Both are cleaned: one line, bounded
// (MaxNameBytes, MaxAddrBytes), no encoded-word syntax. Addr is not
// validated for SMTP: check it before using it as an envelope address.
type Address struct {
	Name, Addr string
	// Guessed is set when the field did not parse as RFC 5322 and Addr
	// was picked out of its text, possibly out of a display name: such an
	// address must never be written to automatically.
	Guessed bool
}

// Attachment describes one non-text part of a message. Filename is for
// display only: it is decoded and stripped of path separators and control
// characters, and must never be used as a path.
type Attachment struct {
	Filename    string
	ContentType string
	Size        int64  // decoded size in bytes
	SHA256      string // hex digest of the decoded content
}

// Limits bound the work Parse does on one message. A zero field means the
// default.
type Limits struct {
	MaxDepth       int // MIME nesting depth, default 20
	MaxParts       int // number of MIME entities, default 500
	MaxHeaderBytes int // size of one header block, default 1 MiB
}

// Default limits, and the cap on Message.Text.
const (
	DefaultMaxDepth       = 20
	DefaultMaxParts       = 500
	DefaultMaxHeaderBytes = 1 << 20
	MaxTextBytes          = 1 << 20
	maxListItems          = 100
	maxMsgIDs             = 200
)

// Bounds on cleaned header values, in bytes. A subject or name longer than
// its bound is cut (an ellipsis marks it); a Message-ID longer than
// MaxMsgIDBytes is dropped. MaxAddrBytes is RFC 5321 §4.5.3.1's 64-byte
// local part, "@" and 255-byte domain: a longer address cannot be mailed.
const (
	MaxSubjectBytes = 500
	MaxNameBytes    = 200
	MaxAddrBytes    = 320
	MaxMsgIDBytes   = 500
)

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// Message is the parsed form of one mail.
type Message struct {
	From                  Address
	ReplyTo, To, Cc       []Address
	Subject, MessageID    string   // decoded subject; id without <>
	InReplyTo, References []string // ids without <>
	Date                  time.Time
	// Text is the best readable UTF-8 text: text/plain preferred, else
	// HTML converted to text (HTMLOnly is then true).
	Text     string
	HTMLOnly bool
	// HiddenText is the text of an HTML body that a reader does not see
	// (display:none, white on white, zero size, <template>, …; see
	// html.go). Staff are shown it marked as hidden; it is never
	// forwarded, never parsed for commands and not in URLs, IPs or Hosts.
	HiddenText  string
	Attachments []Attachment
	// URLs, IPs and Hosts are extracted from subject and text,
	// deduplicated, in order of appearance, at most 100 each.
	URLs, IPs, Hosts []string
	Class            Class
	ClassReason      string // which rule fired, e.g. "Auto-Submitted: auto-replied"
	Language         string // "en", "nl" or "" when unsure
	// Duplicates names the fields of singleFields (From, Sender,
	// Subject, To, Message-Id, In-Reply-To, References) that occur more
	// than once. Such a mail is malformed (RFC 5322 §3.6) and is what a
	// replayed DKIM-signed mail with fields added above the signed ones
	// looks like: it is stored and shown, but must never command or
	// consent.
	Duplicates []string
	// AuthResults holds the unfolded raw values of every
	// Authentication-Results field, top-down.
	AuthResults []string
	// Exchange holds Exchange Online's organisation fields, for
	// CheckMicrosoft365.
	Exchange ExchangeHeaders
	// Problems lists non-fatal parse problems; staff see them.
	Problems []string
}

// Parse parses one raw message. It never returns nil, never panics and
// never fails; see the package documentation.
func Parse(raw []byte, lim Limits) (m *Message) {
	m = &Message{Class: ClassHuman}
	p := &parser{lim: lim.withDefaults(), msg: m}
	defer func() {
		if r := recover(); r != nil {
			// Keep whatever was parsed, make sure the invariants hold and
			// let staff see that something went wrong. The stack is not
			// recorded: it may hold message bytes.
			p.problemf("internal parser error: %v", r)
			if m.Class == "" {
				m.Class = ClassHuman
			}
			sanitise(m)
		}
	}()
	p.parse(raw)
	sanitise(m)
	return m
}

// problemf records a non-fatal problem, once per distinct text.
func (p *parser) problemf(format string, args ...any) {
	s := validUTF8(fmt.Sprintf(format, args...))
	if len(s) > 300 {
		s = truncateUTF8(s, 300) + "…"
	}
	for _, q := range p.msg.Problems {
		if q == s {
			return
		}
	}
	if len(p.msg.Problems) >= 50 {
		return
	}
	p.msg.Problems = append(p.msg.Problems, s)
}

// sanitise enforces the UTF-8 invariant on every string of m.
func sanitise(m *Message) {
	fix := func(s *string) { *s = validUTF8(*s) }
	fixAddrs := func(as []Address) {
		for i := range as {
			fix(&as[i].Name)
			fix(&as[i].Addr)
		}
	}
	fix(&m.From.Name)
	fix(&m.From.Addr)
	fixAddrs(m.ReplyTo)
	fixAddrs(m.To)
	fixAddrs(m.Cc)
	fix(&m.Subject)
	m.Subject, m.From.Name = oneLine(m.Subject), oneLine(m.From.Name)
	fix(&m.MessageID)
	for _, l := range [][]string{m.InReplyTo, m.References, m.URLs, m.IPs, m.Hosts, m.AuthResults, m.Problems} {
		for i := range l {
			fix(&l[i])
		}
	}
	fix(&m.Text)
	fix(&m.HiddenText)
	for i := range m.Attachments {
		fix(&m.Attachments[i].Filename)
		fix(&m.Attachments[i].ContentType)
	}
	fix(&m.ClassReason)
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
