package mailbox

import (
	"bytes"
	"strings"
)

// bearerServer is the server side of XOAUTH2 and OAUTHBEARER as Dovecot and
// Exchange run it: a refused token gets a JSON error challenge, and the
// server waits for the client's answer (ack) before it refuses.
type bearerServer struct {
	mech   string // "XOAUTH2" or "OAUTHBEARER"
	ack    []byte // the answer the client owes the error challenge
	check  func(user, token string) bool
	refuse func() error
	badAck func() // called when the client answered something else
	failed bool
}

func (b *bearerServer) Next(resp []byte) ([]byte, bool, error) {
	if b.failed {
		if !bytes.Equal(resp, b.ack) && b.badAck != nil {
			b.badAck()
		}
		return nil, false, b.refuse()
	}
	if resp == nil {
		return nil, false, nil // ask for the initial response
	}
	user, token, ok := parseBearer(b.mech, string(resp))
	if ok && b.check(user, token) {
		return nil, true, nil
	}
	b.failed = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://outlook.office365.com/.default"}`), false, nil
}

// parseBearer reads an XOAUTH2 or OAUTHBEARER initial response.
func parseBearer(mech, s string) (user, token string, ok bool) {
	if !strings.HasSuffix(s, "\x01\x01") {
		return "", "", false
	}
	s = strings.TrimSuffix(s, "\x01\x01")
	switch mech {
	case "XOAUTH2":
		u, rest, found := strings.Cut(s, "\x01")
		if !found || !strings.HasPrefix(u, "user=") {
			return "", "", false
		}
		user, s = strings.TrimPrefix(u, "user="), rest
	case "OAUTHBEARER":
		gs2, rest, found := strings.Cut(s, "\x01")
		if !found || !strings.HasPrefix(gs2, "n,a=") || !strings.HasSuffix(gs2, ",") {
			return "", "", false
		}
		a := strings.TrimSuffix(strings.TrimPrefix(gs2, "n,a="), ",")
		user, s = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(a), rest
	default:
		return "", "", false
	}
	if !strings.HasPrefix(s, "auth=Bearer ") {
		return "", "", false
	}
	return user, strings.TrimPrefix(s, "auth=Bearer "), true
}

// loginServer is SASL LOGIN as servers run it: prompts for the username,
// then the password.
type loginServer struct {
	check func(user, password string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}
