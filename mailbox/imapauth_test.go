package mailbox

import (
	"bytes"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

// saslSession gives the test server the SASL mechanisms in ts.mechs and
// can refuse LOGIN.
type saslSession struct {
	eagerIdleSession
	ts *testServer
}

func (ts *testServer) countAuth(mech string) {
	v, _ := ts.authUsed.LoadOrStore(mech, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (ts *testServer) authCount(mech string) int64 {
	v, ok := ts.authUsed.Load(mech)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

func (s *saslSession) Login(username, password string) error {
	s.ts.countAuth("LOGIN")
	if s.ts.noLogin {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "LOGIN failed."}
	}
	return s.eagerIdleSession.Login(username, password)
}

func (s *saslSession) AuthenticateMechanisms() []string { return s.ts.mechs }

func (s *saslSession) Authenticate(mech string) (sasl.Server, error) {
	s.ts.countAuth(mech)
	refused := &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "AUTHENTICATE failed."}
	switch mech {
	case "PLAIN":
		return emptyChallenge{sasl.NewPlainServer(func(identity, username, password string) error {
			if err := s.eagerIdleSession.Login(username, password); err != nil {
				return refused
			}
			return nil
		})}, nil
	case "XOAUTH2", "OAUTHBEARER":
		return &bearerServer{mech: mech, ack: []byte{0x01},
			check: func(user, token string) bool {
				if s.ts.token == nil || !s.ts.token(user, token) {
					return false
				}
				// imapmemserver knows only passwords: log its session in.
				return s.eagerIdleSession.Login(testUser, testPassword) == nil
			},
			refuse: func() error { return refused },
			badAck: func() { s.ts.badAcks.Add(1) },
		}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported authentication mechanism."}
}

// emptyChallenge sends an empty challenge as "+ ", as Dovecot does:
// imapserver would send go-sasl's empty PLAIN challenge as "+ =".
type emptyChallenge struct{ sasl.Server }

func (e emptyChallenge) Next(resp []byte) ([]byte, bool, error) {
	c, done, err := e.Server.Next(resp)
	if len(c) == 0 {
		c = nil
	}
	return c, done, err
}

// capRewriter replaces the capability list in every CAPABILITY response
// and [CAPABILITY …] response code the server writes, so a test server can
// advertise exactly what a real server does. It follows literals, so a
// message body is never rewritten.
type capRewriter struct {
	caps string

	mu      sync.Mutex
	pending []byte // an incomplete line
	literal int64  // literal bytes still to pass through
}

var (
	literalAtEnd = regexp.MustCompile(`~?\{(\d+)\+?\}\r\n$`)
	capCode      = regexp.MustCompile(`\[CAPABILITY [^\]]*\]`)
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
		switch {
		case bytes.HasPrefix(line, []byte("* CAPABILITY ")):
			line = []byte("* CAPABILITY " + r.caps + "\r\n")
		default:
			line = capCode.ReplaceAll(line, []byte("[CAPABILITY "+r.caps+"]"))
		}
		if m := literalAtEnd.FindSubmatch(line); m != nil {
			r.literal, _ = strconv.ParseInt(string(m[1]), 10, 64)
		}
		out = append(out, line...)
	}
	return out
}
