package devmail

import (
	"bytes"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"
)

// Exchange makes the IMAP server behave as Exchange Online's does (issue
// 10), so tests can run the daemon against it:
//
//   - it advertises exactly Exchange Online's capabilities, before and
//     after login: IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS
//     MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+ (no CONDSTORE,
//     ESEARCH, ENABLE or SPECIAL-USE);
//   - SELECT answers PERMANENTFLAGS (\Seen \Answered \Flagged \Deleted
//     \Draft $MDNSent): no custom keywords;
//   - SEARCH and STORE naming a keyword get "BAD Command Argument Error. 11";
//   - when Token is set only SASL XOAUTH2 logs in: LOGIN and AUTHENTICATE
//     PLAIN are refused, as Exchange Online refuses password login.
//
// The server's own reads (System.Messages) use a second, plain listener.
type Exchange struct {
	// NoMove leaves out UIDPLUS and MOVE, for a server without them.
	NoMove bool
	// IgnoreKeywords, instead of Exchange's BAD, lists \* in
	// PERMANENTFLAGS, accepts keywords in STORE and SEARCH and silently
	// drops them: a server that forgets what it was told.
	IgnoreKeywords bool
	// Token, if set, accepts an XOAUTH2 bearer token for a user (its
	// address); password login is then refused. Nil allows passwords.
	Token func(user, token string) bool
}

// exchangeBad is what Exchange Online answers to a keyword in SEARCH or
// STORE.
var exchangeBad = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Command Argument Error. 11"}

// exchangePermanentFlags are Exchange Online's PERMANENTFLAGS.
var exchangePermanentFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, "$MDNSent"}

func (x *Exchange) capsLine() string {
	if x.NoMove {
		return "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+"
	}
	return "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+"
}

func (x *Exchange) serverCaps() imap.CapSet {
	caps := imap.CapSet{imap.CapIMAP4rev1: {}}
	if !x.NoMove {
		caps[imap.CapMove] = struct{}{}
		caps[imap.CapUIDPlus] = struct{}{}
	}
	return caps
}

// KeywordRefusals is the number of "BAD Command Argument Error. 11"
// answers the Exchange server gave: keywords a client sent.
func (s *System) KeywordRefusals() int64 { return s.bads.Load() }

// BodiesFetched is the number of message bodies (BODY[]) the IMAP server
// sent to clients, not counting System.Messages.
func (s *System) BodiesFetched() int64 { return s.bodies.Load() }

// exchangeSession wraps an imapmemserver session with Exchange's answers.
type exchangeSession struct {
	imapserver.Session
	sys *System
	x   *Exchange
}

func (e *exchangeSession) Login(username, password string) error {
	if e.x.Token != nil {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "LOGIN failed."}
	}
	return e.Session.Login(username, password)
}

func (e *exchangeSession) AuthenticateMechanisms() []string { return []string{"PLAIN", "XOAUTH2"} }

func (e *exchangeSession) Authenticate(mech string) (sasl.Server, error) {
	refused := &imap.Error{Type: imap.StatusResponseTypeNo, Text: "AUTHENTICATE failed."}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if e.x.Token != nil || e.Session.Login(username, password) != nil {
				return refused
			}
			return nil
		}), nil
	case "XOAUTH2":
		return &xoauth2Server{check: func(user, token string) bool {
			a := e.sys.users[strings.ToLower(user)]
			if e.x.Token == nil || a == nil || !e.x.Token(a.address, token) {
				return false
			}
			return e.Session.Login(a.address, a.password) == nil
		}, refuse: refused}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported authentication mechanism."}
}

func (e *exchangeSession) Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error) {
	data, err := e.Session.Select(mailbox, options)
	if err != nil {
		return nil, err
	}
	data.PermanentFlags = append([]imap.Flag(nil), exchangePermanentFlags...)
	if e.x.IgnoreKeywords {
		data.PermanentFlags = append(data.PermanentFlags, imap.FlagWildcard)
	}
	return data, nil
}

func (e *exchangeSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	if hasKeyword(criteria) {
		if !e.x.IgnoreKeywords {
			return nil, exchangeBad
		}
		criteria = dropKeywords(criteria)
	}
	return e.Session.Search(kind, criteria, options)
}

func (e *exchangeSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	kept := systemFlags(flags.Flags)
	if len(kept) != len(flags.Flags) {
		if !e.x.IgnoreKeywords {
			return exchangeBad
		}
		f := *flags
		f.Flags = kept
		flags = &f
	}
	return e.Session.Store(w, numSet, flags, options)
}

// exchangeMoveSession adds MOVE when the profile has it.
type exchangeMoveSession struct{ *exchangeSession }

func (e exchangeMoveSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	return e.Session.(imapserver.SessionMove).Move(w, numSet, dest)
}

func isKeyword(f imap.Flag) bool { return !strings.HasPrefix(string(f), `\`) }

func systemFlags(flags []imap.Flag) []imap.Flag {
	var out []imap.Flag
	for _, f := range flags {
		if !isKeyword(f) {
			out = append(out, f)
		}
	}
	return out
}

func hasKeyword(c *imap.SearchCriteria) bool {
	if c == nil {
		return false
	}
	for _, f := range append(append([]imap.Flag(nil), c.Flag...), c.NotFlag...) {
		if isKeyword(f) {
			return true
		}
	}
	for i := range c.Not {
		if hasKeyword(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if hasKeyword(&c.Or[i][0]) || hasKeyword(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// dropKeywords returns c without its keyword conditions (top level only,
// which is all a server that ignores keywords needs to look at here).
func dropKeywords(c *imap.SearchCriteria) *imap.SearchCriteria {
	d := *c
	d.Flag, d.NotFlag = systemFlags(c.Flag), systemFlags(c.NotFlag)
	return &d
}

// xoauth2Server is the server side of XOAUTH2: a refused token gets the
// JSON error challenge, and the refusal follows the client's answer.
type xoauth2Server struct {
	check  func(user, token string) bool
	refuse error
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, false, x.refuse
	}
	if resp == nil {
		return nil, false, nil // ask for the initial response
	}
	s, ok := strings.CutSuffix(string(resp), "\x01\x01")
	u, auth, found := strings.Cut(s, "\x01")
	user, uok := strings.CutPrefix(u, "user=")
	token, tok := strings.CutPrefix(auth, "auth=Bearer ")
	if ok && found && uok && tok && x.check(user, token) {
		return nil, true, nil
	}
	x.failed = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://outlook.office365.com/.default"}`), false, nil
}

// exchangeListener rewrites capabilities and counts bodies on every
// connection.
type exchangeListener struct {
	net.Listener
	sys  *System
	caps string
}

func (l *exchangeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &exchangeConn{Conn: c, rw: &capRewriter{caps: l.caps, bodies: &l.sys.bodies, bads: &l.sys.bads}}, nil
}

type exchangeConn struct {
	net.Conn
	rw *capRewriter
}

func (c *exchangeConn) Write(p []byte) (int, error) {
	if _, err := c.Conn.Write(c.rw.rewrite(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// capRewriter replaces the list in every CAPABILITY response and
// [CAPABILITY …] response code the server writes, following literals so
// that no message body is touched, and counts BODY[] literals.
type capRewriter struct {
	caps   string
	bodies *atomic.Int64
	bads   *atomic.Int64

	mu      sync.Mutex
	pending []byte // an incomplete line
	literal int64  // literal bytes still to pass through
}

var (
	literalAtEnd = regexp.MustCompile(`~?\{(\d+)\+?\}\r\n$`)
	capCode      = regexp.MustCompile(`\[CAPABILITY [^\]]*\]`)
	bodyLiteral  = regexp.MustCompile(`BODY\[\] \{\d+\}\r\n$`)
)

func (r *capRewriter) rewrite(p []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []byte
	for len(p) > 0 {
		if r.literal > 0 {
			n := min(r.literal, int64(len(p)))
			out = append(out, p[:n]...)
			p, r.literal = p[n:], r.literal-n
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.pending = append(r.pending, p...)
			break
		}
		line := append(r.pending, p[:i+1]...)
		r.pending, p = nil, p[i+1:]
		if bytes.HasPrefix(line, []byte("* CAPABILITY ")) {
			line = []byte("* CAPABILITY " + r.caps + "\r\n")
		} else {
			line = capCode.ReplaceAll(line, []byte("[CAPABILITY "+r.caps+"]"))
		}
		if bytes.Contains(line, []byte(" BAD "+exchangeBad.Text)) {
			r.bads.Add(1)
		}
		if m := literalAtEnd.FindSubmatch(line); m != nil {
			r.literal, _ = strconv.ParseInt(string(m[1]), 10, 64)
			if bodyLiteral.Match(line) {
				r.bodies.Add(1)
			}
		}
		out = append(out, line...)
	}
	return out
}
