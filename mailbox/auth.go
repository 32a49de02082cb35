package mailbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TokenFunc returns an OAuth 2.0 access token. After a server refused a token the
// caller asks once more with fresh=true, and the source must not return its cached token.
type TokenFunc func(ctx context.Context, fresh bool) (string, error)

// SASL mechanisms for bearer tokens (IMAPOptions.Mechanism,
// SMTPOptions.Mechanism).
const (
	// MechXOAUTH2 is Google's and Microsoft's XOAUTH2.
	MechXOAUTH2 = "xoauth2"
	// MechOAuthBearer is OAUTHBEARER (RFC 7628).
	MechOAuthBearer = "oauthbearer"
)

// LoginError is a login that the server refused, or one that could not be
// tried because no token could be had. It is an outage of our account, never
// a fault of a message: a Sender returns it from Send and no mail may be
// settled as failed because of it.
type LoginError struct {
	// Service is "imap" or "smtp".
	Service string
	// Err is the server's answer (an *imap.Error or *smtp.SMTPError) or
	// the token source's error.
	Err error
}

func (e *LoginError) Error() string { return e.Service + " login refused: " + e.Err.Error() }
func (e *LoginError) Unwrap() error { return e.Err }

// IsLoginError reports whether err is or wraps a *LoginError.
func IsLoginError(err error) bool {
	var le *LoginError
	return errors.As(err, &le)
}

// tokenError wraps a failure of the TokenFunc.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get oauth2 token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// bearerClient is a SASL client for XOAUTH2 and OAUTHBEARER that always
// finishes the exchange. On a refused token the server sends a JSON error
// challenge (RFC 7628 §3.2.2) and waits for one more client response before
// it answers NO or 535: leaving that unanswered (as go-sasl's OAUTHBEARER
// client does) leaves the command pending. The reply is %x01, which Dovecot
// accepts for both mechanisms; over SMTP XOAUTH2 gets the empty reply Google
// documents, as go-smtp can send one (go-imap v2 sends an empty reply as "=",
// which Dovecot answers with BAD and a disconnect, emersion/go-imap#760).
type bearerClient struct {
	mech     string // MechXOAUTH2 or MechOAuthBearer
	user     string
	token    string
	emptyAck bool // reply to the error challenge with an empty response
	// refusal is the server's JSON error challenge, if one came.
	refusal string
	replies int
}

func newBearerClient(mech, user, token string, emptyAck bool) (*bearerClient, error) {
	if strings.ContainsAny(token, "\x00\x01\r\n ") || token == "" {
		return nil, errors.New("oauth2 token is empty or holds control characters")
	}
	if strings.ContainsAny(user, "\x00\x01\r\n") {
		return nil, errors.New("username holds control characters")
	}
	switch mech {
	case "", MechXOAUTH2:
		mech = MechXOAUTH2
	case MechOAuthBearer:
	default:
		return nil, fmt.Errorf("unknown sasl mechanism %q (want %s or %s)", mech, MechXOAUTH2, MechOAuthBearer)
	}
	return &bearerClient{mech: mech, user: user, token: token, emptyAck: emptyAck}, nil
}

func (b *bearerClient) Start() (string, []byte, error) {
	if b.mech == MechOAuthBearer {
		// RFC 7628 §3.1: gs2-header "n,a=<authzid>," then key/value pairs
		// separated by %x01; RFC 5801 §4 escapes ',' and '=' in authzid.
		a := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(b.user)
		return "OAUTHBEARER", []byte("n,a=" + a + ",\x01auth=Bearer " + b.token + "\x01\x01"), nil
	}
	return "XOAUTH2", []byte("user=" + b.user + "\x01auth=Bearer " + b.token + "\x01\x01"), nil
}

func (b *bearerClient) Next(challenge []byte) ([]byte, error) {
	b.replies++
	if b.replies == 1 {
		b.refusal = describeRefusal(challenge)
	}
	if b.emptyAck && b.mech == MechXOAUTH2 {
		return []byte{}, nil
	}
	return []byte{0x01}, nil
}

// describeRefusal turns a JSON error challenge into a short, safe text:
// only the status and scope members, never the raw bytes.
func describeRefusal(challenge []byte) string {
	var v struct {
		Status string `json:"status"`
		Scope  string `json:"scope"`
	}
	if json.Unmarshal(challenge, &v) != nil {
		return ""
	}
	clean := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, s)
		if len(s) > 200 {
			s = s[:200]
		}
		return s
	}
	out := "status " + clean(v.Status)
	if v.Scope != "" {
		out += ", scope " + clean(v.Scope)
	}
	return out
}

// loginClient is SASL LOGIN for SMTP servers that offer nothing else. It
// answers the server's prompts by what they ask ("Username:" or
// "Password:") instead of sending the username as an initial response,
// which not every server takes.
type loginClient struct {
	user, password string
	step           int
}

func (l *loginClient) Start() (string, []byte, error) { return sasl.Login, nil, nil }

func (l *loginClient) Next(challenge []byte) ([]byte, error) {
	l.step++
	if l.step > 2 {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	if strings.Contains(strings.ToLower(string(challenge)), "user") {
		return []byte(l.user), nil
	}
	if strings.Contains(strings.ToLower(string(challenge)), "pass") || l.step == 2 {
		return []byte(l.password), nil
	}
	return []byte(l.user), nil
}

// authenticate logs in with the token or the password and reports the
// outcome to OnLogin. A refusal is a *LoginError.
func (in *Intake) authenticate(ctx context.Context, c *imapclient.Client) error {
	var err error
	if in.o.Token == nil {
		err = in.passwordLogin(c)
	} else {
		err = in.tokenLogin(ctx, c, in.tokenRefused)
		var te *tokenError
		if IsLoginError(err) && !in.tokenRefused && !errors.As(err, &te) {
			in.log.Info("imap server refused the oauth2 token; trying a fresh one", "err", err)
			in.tokenRefused = true
			// If the server dropped the connection after refusing, keep
			// the refusal: the next session starts with a fresh token.
			if err2 := in.tokenLogin(ctx, c, true); err2 == nil || IsLoginError(err2) {
				err = err2
			}
		}
		in.tokenRefused = IsLoginError(err)
	}
	if (err == nil || IsLoginError(err)) && in.o.OnLogin != nil {
		in.callOnLogin(err)
	}
	return err
}

// passwordLogin uses LOGIN, or AUTHENTICATE PLAIN when the server
// advertises AUTH=PLAIN or forbids LOGIN (RFC 3501 §6.2.3 LOGINDISABLED).
func (in *Intake) passwordLogin(c *imapclient.Client) error {
	stop := in.guard(c, "login")
	defer stop()
	caps := c.Caps()
	var err error
	if caps.Has(imap.CapLoginDisabled) || caps.Has(imap.Cap("AUTH=PLAIN")) {
		err = c.Authenticate(sasl.NewPlainClient("", in.o.Username, in.o.Password))
	} else {
		err = c.Login(in.o.Username, in.o.Password).Wait()
	}
	return imapLoginError(err)
}

// tokenLogin gets a token and authenticates with it.
func (in *Intake) tokenLogin(ctx context.Context, c *imapclient.Client, fresh bool) error {
	tok, err := in.o.Token(ctx, fresh)
	if err != nil {
		return &LoginError{Service: "imap", Err: &tokenError{err: err}}
	}
	sc, err := newBearerClient(in.o.Mechanism, in.o.Username, tok, false)
	if err != nil {
		return &LoginError{Service: "imap", Err: &tokenError{err: err}}
	}
	stop := in.guard(c, "authenticate")
	defer stop()
	// imapclient sends the initial response inline when the server has
	// SASL-IR (RFC 4959), else after the server's empty challenge.
	err = imapLoginError(c.Authenticate(sc))
	if err != nil && sc.refusal != "" {
		err = fmt.Errorf("%w (%s)", err, sc.refusal)
	}
	return err
}

// imapLoginError makes a server's NO or BAD answer a *LoginError; other
// errors (the connection broke) stay as they are.
func imapLoginError(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return &LoginError{Service: "imap", Err: err}
	}
	return err
}

func (in *Intake) callOnLogin(err error) {
	defer in.recoverGoroutine("on login callback")
	in.o.OnLogin(err)
}

// authenticate runs AUTH with the token or the password and reports the
// outcome to OnLogin. A refusal is a *LoginError.
func (s *Sender) authenticate(ctx context.Context, c *smtp.Client) error {
	var err error
	if s.o.Token == nil {
		var sc sasl.Client = sasl.NewPlainClient("", s.o.Username, s.o.Password)
		if c.SupportsAuth(sasl.Login) && !c.SupportsAuth(sasl.Plain) {
			sc = &loginClient{user: s.o.Username, password: s.o.Password}
		}
		err = smtpLoginError(c.Auth(sc))
	} else {
		err = s.tokenAuth(ctx, c, s.tokenRefused)
		var te *tokenError
		if IsLoginError(err) && !s.tokenRefused && !errors.As(err, &te) {
			s.log.Info("smtp server refused the oauth2 token; trying a fresh one", "err", err)
			s.tokenRefused = true
			if err2 := s.tokenAuth(ctx, c, true); err2 == nil || IsLoginError(err2) {
				err = err2
			}
		}
		s.tokenRefused = IsLoginError(err)
	}
	if err == nil || IsLoginError(err) {
		s.onLogin(err)
	}
	return err
}

// tokenAuth gets a token and runs AUTH with it.
func (s *Sender) tokenAuth(ctx context.Context, c *smtp.Client, fresh bool) error {
	tok, err := s.o.Token(ctx, fresh)
	if err != nil {
		return &LoginError{Service: "smtp", Err: &tokenError{err: err}}
	}
	// go-smtp sends an empty response as an empty line, which is what
	// XOAUTH2 wants after the error challenge.
	sc, err := newBearerClient(s.o.Mechanism, s.o.Username, tok, true)
	if err != nil {
		return &LoginError{Service: "smtp", Err: &tokenError{err: err}}
	}
	err = smtpLoginError(c.Auth(sc))
	if err != nil && sc.refusal != "" {
		err = fmt.Errorf("%w (%s)", err, sc.refusal)
	}
	return err
}

func (s *Sender) onLogin(err error) {
	if s.o.OnLogin == nil {
		return
	}
	defer recoverLog(s.log, "on login callback")
	s.o.OnLogin(err)
}

// smtpLoginError makes any SMTP reply refusing AUTH (530, 534, 535, 5.7.x,
// 550 5.7.30, 504 5.7.4 …) a *LoginError; other errors (the connection
// broke) stay as they are.
func smtpLoginError(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &LoginError{Service: "smtp", Err: err}
	}
	return err
}

// smtpMailLoginError returns a *LoginError when a transaction failed
// because our account may not send: 530 (authentication required, RFC
// 4954 §6) at any step, 5.7.57 (Exchange's "client not authenticated"), or
// any 534/535/5.7.x refusal of MAIL FROM, which names only our own
// address. A refused recipient or message stays what it is.
func smtpMailLoginError(ph phase, err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return nil
	}
	ec := se.EnhancedCode
	switch {
	case se.Code == 530, ec == smtp.EnhancedCode{5, 7, 57}:
	case ph == phaseMail && (se.Code == 534 || se.Code == 535 || (ec[0] == 5 && ec[1] == 7)):
	default:
		return nil
	}
	return &LoginError{Service: "smtp", Err: err}
}
