package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"disclosured/e2e/issuer"
)

// oauthStack is a private Postfix + Dovecot in OAuth2 mode (SPEC §7a):
// Dovecot's oauth2 passdb asks iss's introspection endpoint about every
// XOAUTH2/OAUTHBEARER login, for IMAP and, through Dovecot SASL, for
// Postfix submission. Passwords keep working, so the harness helpers
// (clearInboxes, waitForMail) still log in with them.
type oauthStack struct {
	env map[string]string
	dir string
	iss *issuer.Issuer
	// skew moves the issuer's clock (nanoseconds), to expire tokens the
	// daemon still holds.
	skew atomic.Int64
}

// startOAuthStack opens the issuer's port first, then starts a stack that
// points at it (the README's "From a Go test" order). It never uses the
// stack CI started: that one is in password mode.
func startOAuthStack(t *testing.T) *oauthStack {
	t.Helper()
	s := &oauthStack{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := issuer.New()
	if err != nil {
		t.Fatal(err)
	}
	iss.JWTLen = 2000 // the size of a real Entra ID token
	iss.Now = func() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }
	iss.Serve(ln, "http")
	t.Cleanup(func() { iss.Close() })
	s.iss = iss

	dir, err := os.MkdirTemp("", "mso") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", startScript, dir)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAILSTACK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "MAILSTACK_PORT_BASE=auto", "MAILSTACK_OAUTH2_INTROSPECT_URL="+iss.IntrospectURL())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		os.Remove(dir)
		if os.Getenv("CI") == "" {
			t.Skipf("OAuth2 mailstack not available: %v\n%s", err, lastLines(stderr.String(), 20))
		}
		t.Fatalf("OAuth2 mailstack: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	s.dir = dir
	t.Cleanup(func() {
		stop := exec.Command("bash", stopScript, dir)
		stop.Stdout, stop.Stderr = os.Stderr, os.Stderr
		if err := stop.Run(); err != nil {
			t.Errorf("stop OAuth2 mailstack: %v", err)
		}
	})
	s.env = map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
			s.env[k] = v
		}
	}
	if err := checkStackEnv(s.env); err != nil {
		t.Fatal(err)
	}
	if s.env["MAILSTACK_OAUTH2_INTROSPECT_URL"] != iss.IntrospectURL() {
		t.Fatalf("stack is not in OAuth2 mode: %v", s.env)
	}
	return s
}

// logSince returns what was appended to a stack log (dovecot or postfix)
// after offset, and the new offset.
func (s *oauthStack) logSince(t *testing.T, name string, offset int) (string, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "log", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if offset > len(b) {
		offset = 0
	}
	return string(b[offset:]), len(b)
}

// kickIMAP disconnects every IMAP session of user, so the daemon has to log
// in again (with whatever token it holds).
func (s *oauthStack) kickIMAP(t *testing.T, user string) {
	t.Helper()
	out, err := exec.Command("doveadm", "-c", filepath.Join(s.dir, "dovecot", "dovecot.conf"), "kick", user).CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm kick %s: %v\n%s", user, err, out)
	}
}

// oauthConfig writes a daemon config that logs in with tokens only: no
// password reaches the daemon.
func oauthConfig(t *testing.T, env map[string]string, overrides map[string]any) string {
	t.Helper()
	o := map[string]any{
		"imap.auth": "oauth2", "imap.password": nil,
		"smtp.auth": "oauth2", "smtp.password": nil,
	}
	for k, v := range overrides {
		o[k] = v
	}
	return writeConfig(t, env, o)
}

func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// countAcks counts the reporter's acknowledgements of the report with
// Message-ID msgID.
func countAcks(t *testing.T, env map[string]string, msgID string) int {
	t.Helper()
	return countMail(t, env, env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_PASSWORD"], "INBOX", func(raw []byte) bool {
		return ackSubject.MatchString(subjectOf(raw)) && header(raw, "In-Reply-To") == msgID
	})
}

// isAck matches an acknowledgement of any of msgIDs.
func isAck(msgIDs ...string) func([]byte) bool {
	return func(raw []byte) bool {
		if !ackSubject.MatchString(subjectOf(raw)) {
			return false
		}
		for _, id := range msgIDs {
			if header(raw, "In-Reply-To") == id {
				return true
			}
		}
		return false
	}
}

// noTokenInLog fails if the daemon log shows a token or a secret.
func noTokenInLog(t *testing.T, d *daemon, secrets ...string) {
	t.Helper()
	log := d.log()
	for _, s := range append(secrets, "eyJ", "ya29.", "Bearer ") {
		if strings.Contains(log, s) {
			t.Errorf("the daemon log contains %q", s)
		}
	}
}

func healthz(addr string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metricValue scrapes one sample (name with labels, as exposed) from
// /metrics; it is 0 when absent.
func metricValue(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// waitHealth polls /healthz until it answers status, and returns the body.
func waitHealth(t *testing.T, addr string, status int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := healthz(addr)
		if err == nil && code == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz answered %d %q (err %v), want %d within %v", code, body, err, status, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOAuth2 runs the built daemon against a real Dovecot and Postfix that
// take only tokens from a local issuer (SPEC §7a). One stack serves all
// subtests; each clears the mailboxes it looks at.
func TestOAuth2(t *testing.T) {
	buildBinary(t) // fail before starting anything
	s := startOAuthStack(t)
	env := s.env
	sec := env["MAILSTACK_SECURITY_USER"]

	// loginRun sends one report through a daemon with cfg and checks it
	// was acknowledged, that both IMAP and SMTP logged in with mech, that
	// exactly one token was fetched for them, and that nothing secret was
	// logged.
	loginRun := func(t *testing.T, cfg, grantee, mech string, secrets ...string) {
		clearInboxes(t, env)
		before := s.iss.Grants()[grantee]
		_, dovecotAt := s.logSince(t, "dovecot", 0)
		_, postfixAt := s.logSince(t, "postfix", 0)
		d := startDaemon(t, cfg)
		mark := marker(t)
		id, _ := sendReport(t, env, mark)
		waitForMail(t, env, env["MAILSTACK_STAFF_USER"], env["MAILSTACK_PASSWORD"], "INBOX", func(raw []byte) bool {
			return strings.HasPrefix(subjectOf(raw), "["+id+"] New report:")
		}, reactTimeout)
		d.stop(t)

		if n := s.iss.Grants()[grantee] - before; n != 1 {
			t.Errorf("%d tokens fetched for %s, want 1 (cached and shared by IMAP and SMTP)", n, grantee)
		}
		dovecot, _ := s.logSince(t, "dovecot", dovecotAt)
		if !regexp.MustCompile(`imap-login: Info: Login: user=<` + regexp.QuoteMeta(sec) + `>, method=` + mech).MatchString(dovecot) {
			t.Errorf("no IMAP login as %s with %s in dovecot.log:\n%s", sec, mech, lastLines(dovecot, 20))
		}
		postfix, _ := s.logSince(t, "postfix", postfixAt)
		if !strings.Contains(postfix, "sasl_method="+mech+", sasl_username="+sec) {
			t.Errorf("no SMTP AUTH %s as %s in postfix.log:\n%s", mech, sec, lastLines(postfix, 20))
		}
		noTokenInLog(t, d, secrets...)
		if list := listCases(t, cfg); len(list) != 1 || list[0].ID != id {
			t.Errorf("cases = %+v, want only %s", list, id)
		}
	}

	t.Run("generic client credentials", func(t *testing.T) {
		s.iss.AddClient(issuer.Client{ID: "generic-app", Secret: "generic-Secr3t", User: sec})
		cfg := oauthConfig(t, env, map[string]any{
			"oauth2.provider": "generic", "oauth2.token_url": s.iss.TokenURL(),
			"oauth2.client_id": "generic-app", "oauth2.client_secret_file": writeSecret(t, "generic-Secr3t"),
			"oauth2.scopes": []string{"mail"},
		})
		loginRun(t, cfg, "generic-app", "XOAUTH2", "generic-Secr3t")
	})

	t.Run("microsoft oauthbearer", func(t *testing.T) {
		// The microsoft code path (client credentials in the form, the
		// .default scope), its endpoint moved to the issuer.
		s.iss.AddClient(issuer.Client{ID: "6731de76-14a6-49ae-97bc-6eba6914391e", Secret: "ms-Secr3t~value", User: sec})
		cfg := oauthConfig(t, env, map[string]any{
			"oauth2.provider": "microsoft", "oauth2.tenant": "contoso.onmicrosoft.com",
			"oauth2.token_url": s.iss.TokenURL(), "oauth2.client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
			"oauth2.client_secret": "ms-Secr3t~value", "oauth2.mechanism": "oauthbearer",
		})
		loginRun(t, cfg, "6731de76-14a6-49ae-97bc-6eba6914391e", "OAUTHBEARER", "ms-Secr3t~value")
	})

	t.Run("microsoft xoauth2", func(t *testing.T) {
		s.iss.AddClient(issuer.Client{ID: "0f2d8c1e-ms-xoauth2", Secret: "ms-Secr3t-2", User: sec})
		cfg := oauthConfig(t, env, map[string]any{
			"oauth2.provider": "microsoft", "oauth2.tenant": "contoso.onmicrosoft.com",
			"oauth2.token_url": s.iss.TokenURL(), "oauth2.client_id": "0f2d8c1e-ms-xoauth2",
			"oauth2.client_secret_file": writeSecret(t, "ms-Secr3t-2"),
		})
		loginRun(t, cfg, "0f2d8c1e-ms-xoauth2", "XOAUTH2", "ms-Secr3t-2")
	})

	t.Run("google service account", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		const email = "disclosured@project.iam.gserviceaccount.com"
		s.iss.AddServiceAccount(issuer.ServiceAccount{Email: email, Key: &key.PublicKey, KeyID: "k1"})
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(map[string]string{"type": "service_account", "client_email": email, "private_key_id": "k1",
			"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			"token_uri":   "https://oauth2.googleapis.com/token"})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "sa.json")
		if err := os.WriteFile(p, j, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := oauthConfig(t, env, map[string]any{
			"oauth2.provider": "google", "oauth2.service_account_file": p, "oauth2.token_url": s.iss.TokenURL(),
		})
		loginRun(t, cfg, email, "XOAUTH2")
	})

	// A token the daemon still holds expires at the server: the next login
	// is refused, the daemon fetches a fresh token once and carries on.
	t.Run("token expired at the server", func(t *testing.T) {
		clearInboxes(t, env)
		const client = "expiring-app"
		s.iss.AddClient(issuer.Client{ID: client, Secret: "x-Secr3t", User: sec})
		t.Cleanup(func() { s.skew.Store(0) })
		cfg := oauthConfig(t, env, map[string]any{
			"oauth2.provider": "generic", "oauth2.token_url": s.iss.TokenURL(),
			"oauth2.client_id": client, "oauth2.client_secret": "x-Secr3t",
		})
		d := startDaemon(t, cfg)
		m1 := marker(t)
		_, msgID1, _ := reportMail(env, m1)
		sendReport(t, env, m1)
		if n := s.iss.Grants()[client]; n != 1 {
			t.Fatalf("%d tokens before the expiry, want 1", n)
		}
		// Two hours later for the issuer: every token it gave out is dead,
		// while the daemon thinks its one is good for another hour.
		s.skew.Store(int64(2 * time.Hour))
		s.kickIMAP(t, sec)
		m2 := marker(t)
		_, msgID2, _ := reportMail(env, m2)
		sendReport(t, env, m2)
		if n := s.iss.Grants()[client]; n != 2 {
			t.Errorf("%d tokens fetched, want 2 (the first and one fresh after the refusal)", n)
		}
		waitLog(t, d, "imap server refused the oauth2 token; trying a fresh one", reactTimeout)
		expectCountStays(t, env, env["MAILSTACK_REPORTER_USER"], "INBOX", isAck(msgID1, msgID2), 2, quiet)
		d.stop(t)
		if n := len(listCases(t, cfg)); n != 2 {
			t.Errorf("%d cases, want 2", n)
		}
		noTokenInLog(t, d, "x-Secr3t")
	})

	// Short-lived tokens are renewed before they run out; sessions that
	// outlive them keep working, and new logins use the new token.
	t.Run("short-lived token renewed", func(t *testing.T) {
		clearInboxes(t, env)
		const client = "short-app"
		const ttl = 8 * time.Second
		s.iss.AddClient(issuer.Client{ID: client, Secret: "short-Secr3t", User: sec, TTL: ttl})
		cfg := oauthConfig(t, env, map[string]any{
			"oauth2.provider": "generic", "oauth2.token_url": s.iss.TokenURL(),
			"oauth2.client_id": client, "oauth2.client_secret": "short-Secr3t",
		})
		_, dovecotAt := s.logSince(t, "dovecot", 0)
		d := startDaemon(t, cfg)
		var ids []string
		for round := range 3 {
			start := time.Now()
			m := marker(t)
			_, msgID, _ := reportMail(env, m)
			ids = append(ids, msgID)
			sendReport(t, env, m)
			if round == 2 {
				break
			}
			// Let every token the daemon holds run out, then make it log
			// in again.
			<-time.After(ttl - time.Since(start) + time.Second)
			s.kickIMAP(t, sec)
		}
		expectCountStays(t, env, env["MAILSTACK_REPORTER_USER"], "INBOX", isAck(ids...), 3, quiet)
		d.stop(t)
		if n := s.iss.Grants()[client]; n < 3 {
			t.Errorf("%d tokens fetched over 3 token lifetimes, want at least 3", n)
		}
		dovecot, _ := s.logSince(t, "dovecot", dovecotAt)
		if n := strings.Count(dovecot, "imap-login: Info: Login: user=<"+sec+">, method=XOAUTH2"); n < 3 {
			t.Errorf("%d IMAP token logins, want at least 3 (one per kick)", n)
		}
		// Renewal is proactive: the daemon never offered a dead token.
		if log := d.log(); strings.Contains(log, "refused the oauth2 token") || strings.Contains(log, "login refused") {
			t.Errorf("a token was refused although it should have been renewed first:\n%s", lastLines(log, 30))
		}
		if n := len(listCases(t, cfg)); n != 3 {
			t.Errorf("%d cases, want 3", n)
		}
	})

	// An app whose secret was rotated away (the old one deleted): SMTP
	// cannot log in, so nothing goes out, nothing is marked failed, and
	// /healthz says why. With the new secret in the file and a SIGHUP,
	// every acknowledgement goes out exactly once.
	t.Run("revoked client", func(t *testing.T) {
		clearInboxes(t, env)
		const client = "rotated-app"
		s.iss.AddClient(issuer.Client{ID: client, Secret: "new-Secr3t", User: sec})
		secretFile := writeSecret(t, "old-Secr3t")
		httpAddr := freeTCPAddr(t)
		// IMAP logs in with the password here, so reports still become
		// cases while the outbox cannot log in.
		cfg := writeConfig(t, env, map[string]any{
			"smtp.auth": "oauth2", "smtp.password": nil,
			"oauth2.provider": "generic", "oauth2.token_url": s.iss.TokenURL(),
			"oauth2.client_id": client, "oauth2.client_secret_file": secretFile,
			"http.listen": httpAddr,
		})
		d := startDaemon(t, cfg)
		var ids []string
		for range 3 {
			raw, msgID, _ := reportMail(env, marker(t))
			ids = append(ids, msgID)
			sendMail(t, env, env["MAILSTACK_REPORTER_USER"], []string{sec}, raw)
		}
		deadline := time.Now().Add(reactTimeout)
		for len(listCases(t, cfg)) < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("reports did not become cases: %+v", listCases(t, cfg))
			}
			time.Sleep(200 * time.Millisecond)
		}
		body := waitHealth(t, httpAddr, http.StatusServiceUnavailable, reactTimeout)
		for _, want := range []string{"smtp", "invalid_client", "oauth2.client_secret"} {
			if !strings.Contains(body, want) {
				t.Errorf("/healthz 503 body %q lacks %q", body, want)
			}
		}
		if n := metricValue(t, httpAddr, `disclosured_login_failures_total{service="smtp"}`); n < 1 {
			t.Errorf("disclosured_login_failures_total{service=\"smtp\"} = %v, want at least 1", n)
		}
		expectCountStays(t, env, env["MAILSTACK_REPORTER_USER"], "INBOX", isAck(ids...), 0, quiet)
		if n, err := outboxPending(httpAddr); err != nil || n < 3 {
			t.Errorf("outbox pending = %d (%v), want the 3 acknowledgements and staff notices still pending", n, err)
		}
		log := d.log()
		for _, want := range []string{"invalid_client", "oauth2.client_secret"} {
			if !strings.Contains(log, want) {
				t.Errorf("daemon log does not mention %q", want)
			}
		}
		if strings.Contains(log, "failed for good") || strings.Contains(log, "mail failed") {
			t.Errorf("a mail was marked failed because of the login:\n%s", lastLines(log, 30))
		}

		// The operator puts the new secret in place and reloads.
		if err := os.WriteFile(secretFile, []byte("new-Secr3t\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(t, d, "oauth2 token source reloaded", 10*time.Second)
		for _, id := range ids {
			waitForMail(t, env, env["MAILSTACK_REPORTER_USER"], env["MAILSTACK_PASSWORD"], "INBOX", isAck(id), 3*time.Minute)
		}
		waitHealth(t, httpAddr, http.StatusOK, reactTimeout)
		expectCountStays(t, env, env["MAILSTACK_REPORTER_USER"], "INBOX", isAck(ids...), 3, quiet)
		for _, id := range ids {
			if n := countAcks(t, env, id); n != 1 {
				t.Errorf("report %s acknowledged %d times, want once", id, n)
			}
		}
		d.stop(t)
		noTokenInLog(t, d, "old-Secr3t", "new-Secr3t")
		if n := len(listCases(t, cfg)); n != 3 {
			t.Errorf("%d cases, want 3", n)
		}
	})
}

// TestOAuth2IssuerDown checks that a token endpoint that is down is an
// outage named by key, not a crash: the daemon keeps running and retrying.
func TestOAuth2IssuerDown(t *testing.T) {
	env := mailstack(t) // any stack: no token ever reaches it
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/token"
	ln.Close()
	httpAddr := freeTCPAddr(t)
	cfg := oauthConfig(t, env, map[string]any{
		"http.listen":     httpAddr,
		"oauth2.provider": "microsoft", "oauth2.tenant": "contoso.onmicrosoft.com", "oauth2.token_url": down,
		"oauth2.client_id": "app", "oauth2.client_secret": "down-Secr3t",
	})
	d := startDaemon(t, cfg)
	body := waitHealth(t, httpAddr, http.StatusServiceUnavailable, reactTimeout)
	if !strings.Contains(body, "imap") || !strings.Contains(body, "unreachable") {
		t.Errorf("/healthz 503 body %q does not name IMAP and the unreachable endpoint", body)
	}
	waitLog(t, d, "oauth2 token endpoint "+down+" unreachable", reactTimeout)
	waitLog(t, d, "check oauth2.tenant, oauth2.token_url", reactTimeout)
	if !d.running() {
		t.Fatal("daemon exited")
	}
	noTokenInLog(t, d, "down-Secr3t")
}
