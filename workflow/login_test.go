package workflow

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"disclosured/mailbox"
	"disclosured/store"
)

// authSink is a submission server that refuses every AUTH with refuse
// until it is cleared, and then takes the password "secret".
type authSink struct {
	mu     sync.Mutex
	refuse *smtp.SMTPError
	auths  int
	mail   int
	addr   string
}

func startAuthSink(t *testing.T, refuse *smtp.SMTPError) *authSink {
	t.Helper()
	s := &authSink{refuse: refuse}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &authSinkSession{s: s}, nil }))
	srv.Domain = "submission.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *authSink) counts() (auths, mail int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths, s.mail
}

type authSinkSession struct {
	s      *authSink
	authed bool
}

func (ss *authSinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *authSinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.s.mu.Lock()
		defer ss.s.mu.Unlock()
		ss.s.auths++
		if ss.s.refuse != nil {
			return ss.s.refuse
		}
		if user != "security@example.test" || pass != "secret" {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}
func (ss *authSinkSession) Mail(string, *smtp.MailOptions) error {
	if !ss.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	return nil
}
func (ss *authSinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *authSinkSession) Data(r io.Reader) error {
	if _, err := io.ReadAll(r); err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.mail++
	ss.s.mu.Unlock()
	return nil
}
func (ss *authSinkSession) Reset()        {}
func (ss *authSinkSession) Logout() error { return nil }

// TestRefusedSMTPLoginFailsNoMail is issue 10's outage: a submission
// server that refuses our login with any of the replies Exchange, Gmail
// and Postfix give leaves every mail pending, even past the give-up age,
// tries one mail per retry instead of every mail, and once the login works
// sends each mail exactly once.
func TestRefusedSMTPLoginFailsNoMail(t *testing.T) {
	e := func(code, a, b, c int, msg string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{a, b, c}, Message: msg}
	}
	for _, refuse := range []*smtp.SMTPError{
		e(535, 5, 7, 8, "Error: authentication failed"),
		e(535, 5, 7, 139, "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."),
		e(534, 5, 7, 9, "Application-specific password required"),
		e(530, 5, 7, 0, "Authentication required"),
		e(550, 5, 7, 30, "Basic authentication is not supported for Client Submission."),
		e(504, 5, 7, 4, "Unrecognized authentication type"),
	} {
		t.Run(refuse.Error(), func(t *testing.T) {
			f := newFixture(t)
			as := startAuthSink(t, refuse)
			s := mailbox.NewSender(mailbox.SMTPOptions{Address: as.addr, TLS: "none", HelloName: "example.test",
				Username: "security@example.test", Password: "secret", Timeout: 5 * time.Second}, nil)
			t.Cleanup(func() { s.Close() })
			pass := func() {
				t.Helper()
				if _, err := f.e.sendDue(context.Background(), s); err != nil {
					t.Fatal(err)
				}
			}
			for i, id := range []string{"r1@example.org", "r2@example.org", "r3@example.org"} {
				f.ingest(t, report("ada@example.org", "XSS "+string(rune('a'+i)), id, ""))
			}
			pass()
			if auths, _ := as.counts(); auths != 1 {
				t.Errorf("%d AUTH attempts in one pass, want 1: the outbox holds after the first refusal", auths)
			}
			if f.e.loginHold.left() == 0 {
				t.Error("outbox not held after the refusal")
			}
			// Past the give-up age, and a second refused retry: still
			// nothing failed.
			f.now = f.now.Add(100 * time.Hour)
			f.e.ResumeOutbox()
			pass()
			pending, failed := f.outboxCounts(t)
			if pending != 6 || failed != 0 {
				t.Fatalf("after the refused logins: %d pending, %d failed; want 6 and 0", pending, failed)
			}

			as.mu.Lock()
			as.refuse = nil
			as.mu.Unlock()
			f.e.ResumeOutbox() // as a SIGHUP does
			pass()
			f.now = f.now.Add(time.Hour)
			pass()
			pending, failed = f.outboxCounts(t)
			if _, mail := as.counts(); mail != 6 || pending != 0 || failed != 0 {
				t.Errorf("after the fix: %d mails delivered, %d pending, %d failed; want 6, 0, 0", mail, pending, failed)
			}
		})
	}
}

func (f *fixture) outboxCounts(t *testing.T) (pending, failed int) {
	t.Helper()
	if err := f.db.View(func(tx *store.Tx) error {
		pending, failed = tx.OutboxCounts()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return pending, failed
}

// TestStaffAuthMicrosoft365: staff.auth microsoft365 applies a command
// sent inside the tenant and one with Exchange's dmarc=pass, and refuses
// forged organisation fields from another tenant.
func TestStaffAuthMicrosoft365(t *testing.T) {
	const tenant = "8c3dbb3e-0b3f-4d47-9a4a-6f1f1b2f7a10"
	internal := "X-MS-Exchange-Organization-AuthAs: Internal\r\n" +
		"X-MS-Exchange-Organization-AuthSource: AM6PR04MB5123.eurprd04.prod.outlook.com\r\n" +
		"X-MS-Exchange-CrossTenant-Id: " + tenant + "\r\n"
	tests := []struct {
		name    string
		headers string
		applied bool
	}{
		{"inside the tenant", internal, true},
		{"exchange dmarc pass", "Authentication-Results: spf=pass (sender IP is 192.0.2.7) smtp.mailfrom=example.test; " +
			"dkim=pass (signature was verified) header.d=example.test;dmarc=pass action=none header.from=example.test;compauth=pass reason=100\r\n", true},
		{"another tenant", strings.ReplaceAll(internal, tenant, "0d2a1c5e-7e55-4f3c-a4f4-2b9b8a1e6c33"), false},
		{"nothing", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.e.opts().StaffAuth, f.e.opts().TenantID = "microsoft365", tenant
			id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
			f.ingest(t, staffMail(id, "#assess low 2027-01-15", "ok", tt.headers))
			v := f.show(t, id)
			if applied := v.State == StateAssessed; applied != tt.applied {
				t.Fatalf("applied = %v, want %v", applied, tt.applied)
			}
			noted := false
			for _, ev := range v.Events {
				noted = noted || ev.Type == "unauthenticated"
			}
			if noted == tt.applied {
				t.Errorf("unauthenticated event %v, want %v", noted, !tt.applied)
			}
		})
	}
}
