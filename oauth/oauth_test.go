package oauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// endpoint is an in-process token endpoint that checks every grant the way
// the real providers do and records what it saw.
type endpoint struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	expiresIn int
	requests  int
	forms     []map[string][]string
	issued    []string
	// fail, when set, is written instead of a token.
	failStatus int
	failBody   string

	secret  string            // client_credentials: the client secret
	cert    *x509.Certificate // client assertions: the uploaded certificate
	saKey   *rsa.PublicKey    // jwt-bearer: the service account's key
	refresh string            // the refresh token currently valid
	jtis    map[string]bool
}

const clientID = "11111111-2222-3333-4444-555555555555"

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{t: t, expiresIn: 3600, secret: "s3cret", jtis: map[string]bool{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) url() string { return e.srv.URL + "/tenant-x/oauth2/v2.0/token" }

func (e *endpoint) count() int { e.mu.Lock(); defer e.mu.Unlock(); return e.requests }

func (e *endpoint) lastForm() map[string][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.forms[len(e.forms)-1]
}

func (e *endpoint) oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	if err := r.ParseForm(); err != nil {
		e.oauthError(w, 400, "invalid_request", err.Error())
		return
	}
	e.forms = append(e.forms, r.PostForm)
	if e.failStatus != 0 {
		w.WriteHeader(e.failStatus)
		fmt.Fprint(w, e.failBody)
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "client_credentials":
		id, secret := f.Get("client_id"), f.Get("client_secret")
		if u, p, ok := r.BasicAuth(); ok {
			id, secret = u, p
		}
		if id != clientID {
			e.oauthError(w, 400, "unauthorized_client", "AADSTS700016: Application not found in the directory")
			return
		}
		if a := f.Get("client_assertion"); a != "" {
			if err := e.checkAssertion(f.Get("client_assertion_type"), a, r); err != nil {
				e.oauthError(w, 401, "invalid_client", "AADSTS700027: "+err.Error())
				return
			}
		} else if secret != e.secret {
			e.oauthError(w, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
			return
		}
		if f.Get("scope") == "bad" {
			e.oauthError(w, 400, "invalid_scope", "AADSTS70011: The provided value for scope bad is not valid.")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if err := e.checkServiceAccount(f.Get("assertion"), r); err != nil {
			e.oauthError(w, 400, "invalid_grant", err.Error())
			return
		}
	case "refresh_token":
		if f.Get("refresh_token") != e.refresh {
			e.oauthError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		e.refresh = fmt.Sprintf("rt-%d", e.requests) // rotate
	default:
		e.oauthError(w, 400, "unsupported_grant_type", f.Get("grant_type"))
		return
	}
	tok := fmt.Sprintf("at-%d-%s", e.requests, strings.Repeat("x", 1900))
	e.issued = append(e.issued, tok)
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": e.expiresIn}
	if f.Get("grant_type") == "refresh_token" {
		resp["refresh_token"] = e.refresh
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// decodeJWT splits and verifies a compact JWS with key: RS256, or PS256
// when pss is set.
func decodeJWT(jwt string, key *rsa.PublicKey, pss bool, hdr, claims any) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("not a JWS")
	}
	for i, dst := range []any{hdr, claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return err
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if pss {
		err = rsa.VerifyPSS(key, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		err = rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)
	}
	if err != nil {
		return errors.New("bad signature")
	}
	return nil
}

// checkAssertion verifies a client assertion as Entra ID does: the
// PS256 signature with the registered certificate's key, found by its
// x5t#S256 thumbprint, and the claims.
func (e *endpoint) checkAssertion(typ, a string, r *http.Request) error {
	if typ != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return fmt.Errorf("client_assertion_type %q", typ)
	}
	if r.PostForm.Has("client_secret") {
		return errors.New("client_secret sent with an assertion")
	}
	var hdr struct {
		Alg, Typ string
		X5t      string `json:"x5t#S256"`
	}
	var c struct {
		Aud, Iss, Sub, Jti string
		Nbf, Iat, Exp      int64
	}
	if err := decodeJWT(a, e.cert.PublicKey.(*rsa.PublicKey), true, &hdr, &c); err != nil {
		return err
	}
	thumb := sha256.Sum256(e.cert.Raw)
	now := time.Now().Unix()
	switch {
	case hdr.Alg != "PS256" || hdr.Typ != "JWT":
		return fmt.Errorf("header %+v", hdr)
	case hdr.X5t != base64.RawURLEncoding.EncodeToString(thumb[:]):
		return errors.New("unknown x5t#S256")
	case c.Aud != e.url() || c.Iss != clientID || c.Sub != clientID:
		return fmt.Errorf("claims aud=%s iss=%s sub=%s", c.Aud, c.Iss, c.Sub)
	case c.Jti == "" || e.jtis[c.Jti]:
		return errors.New("jti missing or replayed")
	case c.Nbf > now+5 || c.Exp <= now || c.Exp-c.Nbf > 3600:
		return fmt.Errorf("times nbf=%d exp=%d now=%d", c.Nbf, c.Exp, now)
	}
	e.jtis[c.Jti] = true
	return nil
}

func (e *endpoint) checkServiceAccount(a string, r *http.Request) error {
	var hdr struct{ Alg, Kid string }
	var c struct {
		Iss, Sub, Scope, Aud string
		Iat, Exp             int64
	}
	if err := decodeJWT(a, e.saKey, false, &hdr, &c); err != nil {
		return fmt.Errorf("Invalid JWT Signature: %v", err)
	}
	now := time.Now().Unix()
	switch {
	case hdr.Kid != "key-1":
		return fmt.Errorf("kid %q", hdr.Kid)
	case c.Iss != "disclosured@project.iam.gserviceaccount.com":
		return fmt.Errorf("iss %q", c.Iss)
	case c.Sub != "security@example.com":
		return errors.New("Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
	case c.Scope != GoogleScope:
		return fmt.Errorf("scope %q", c.Scope)
	case c.Aud != e.url():
		return fmt.Errorf("aud %q", c.Aud)
	case c.Exp <= now || c.Exp-c.Iat > 3600:
		return errors.New("Token must be a short-lived token")
	}
	return nil
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// certPEM makes a self-signed certificate (as `openssl req -x509` would for
// an app registration) and returns it with its key as one PEM file.
func certPEM(t *testing.T, key *rsa.PrivateKey, pkcs1 bool) (*x509.Certificate, []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "disclosured"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var keyBlock *pem.Block
	if pkcs1 {
		keyBlock = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	} else {
		b, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyBlock = &pem.Block{Type: "PRIVATE KEY", Bytes: b}
	}
	out := append(pem.EncodeToMemory(keyBlock), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	return cert, out
}

func newSource(t *testing.T, o Options) *Source {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustToken(t *testing.T, s *Source, fresh bool) string {
	t.Helper()
	tok, err := s.Token(t.Context(), fresh)
	if err != nil {
		t.Fatalf("Token(fresh=%v): %v", fresh, err)
	}
	if !strings.HasPrefix(tok, "at-") && !strings.HasPrefix(tok, "ya29.") {
		t.Fatalf("unexpected token %.20q", tok)
	}
	return tok
}

func TestMicrosoftClientSecret(t *testing.T) {
	e := newEndpoint(t)
	s := newSource(t, Options{Provider: Microsoft, Tenant: "contoso.onmicrosoft.com", ClientID: clientID,
		ClientSecret: "s3cret", TokenURL: e.url()})
	tok := mustToken(t, s, false)
	f := e.lastForm()
	if got := f["scope"]; len(got) != 1 || got[0] != MicrosoftScope {
		t.Errorf("scope = %v, want %s", got, MicrosoftScope)
	}
	// Entra ID documents the secret in the body (client_secret_post).
	if f["client_secret"][0] != "s3cret" || f["client_id"][0] != clientID {
		t.Errorf("credentials not in the form: %v", f)
	}
	if again := mustToken(t, s, false); again != tok || e.count() != 1 {
		t.Errorf("second Token fetched again (%d requests) or changed", e.count())
	}
	if s.Grant() != "client credentials" || s.Provider() != Microsoft {
		t.Errorf("grant %q provider %q", s.Grant(), s.Provider())
	}
}

func TestMicrosoftDefaultEndpoint(t *testing.T) {
	s := newSource(t, Options{Provider: Microsoft, Tenant: "contoso.onmicrosoft.com", ClientID: clientID, ClientSecret: "x"})
	if want := "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"; s.Endpoint() != want {
		t.Errorf("endpoint %s, want %s", s.Endpoint(), want)
	}
	g := newSource(t, Options{Provider: Google, Subject: "security@example.com",
		ServiceAccount: serviceAccountJSON(t, rsaKey(t), "")})
	if want := "https://oauth2.googleapis.com/token"; g.Endpoint() != want {
		t.Errorf("google endpoint %s, want %s", g.Endpoint(), want)
	}
}

func TestMicrosoftCertificate(t *testing.T) {
	for _, pkcs1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("pkcs1=%v", pkcs1), func(t *testing.T) {
			e := newEndpoint(t)
			cert, pemData := certPEM(t, rsaKey(t), pkcs1)
			e.cert = cert
			s := newSource(t, Options{Provider: Microsoft, Tenant: "tenant-x", ClientID: clientID,
				Certificate: pemData, TokenURL: e.url()})
			mustToken(t, s, false)
			// Each fetch signs a new assertion (the endpoint refuses a replayed jti).
			mustToken(t, s, true)
			if e.count() != 2 {
				t.Errorf("%d requests, want 2", e.count())
			}
			if s.Grant() != "certificate" {
				t.Errorf("grant %q", s.Grant())
			}
		})
	}
}

func TestMicrosoftCertificateRefused(t *testing.T) {
	e := newEndpoint(t)
	registered, _ := certPEM(t, rsaKey(t), false)
	e.cert = registered
	_, other := certPEM(t, rsaKey(t), false) // not the uploaded certificate
	s := newSource(t, Options{Provider: Microsoft, Tenant: "tenant-x", ClientID: clientID, Certificate: other, TokenURL: e.url()})
	_, err := s.Token(t.Context(), false)
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Fatalf("err = %v, want invalid_client", err)
	}
	if !strings.Contains(err.Error(), "oauth2.certificate_file") || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("error does not name the key and the server's description: %v", err)
	}
}

func TestCertificateFileProblems(t *testing.T) {
	key := rsaKey(t)
	_, good := certPEM(t, key, false)
	_, otherPEM := certPEM(t, rsaKey(t), false)
	certOnly := good[strings.Index(string(good), "-----BEGIN CERTIFICATE"):]
	keyOnly := good[:strings.Index(string(good), "-----BEGIN CERTIFICATE")]
	mixed := append(append([]byte{}, keyOnly...), otherPEM[strings.Index(string(otherPEM), "-----BEGIN CERTIFICATE"):]...)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":      {[]byte("not pem"), "want a PEM CERTIFICATE"},
		"no key":     {certOnly, "want a PEM PRIVATE KEY"},
		"no cert":    {keyOnly, "want a PEM CERTIFICATE"},
		"mismatch":   {mixed, "does not belong to the certificate"},
		"encrypted":  {append([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), certOnly...), "encrypted"},
		"and secret": {good, "not both"},
	} {
		t.Run(name, func(t *testing.T) {
			o := Options{Provider: Microsoft, Tenant: "t", ClientID: clientID, Certificate: tc.data}
			if name == "and secret" {
				o.ClientSecret = "x"
			}
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "oauth2.certificate_file: ") {
				t.Errorf("New: %v, want oauth2.certificate_file: …%s…", err, tc.want)
			}
		})
	}
}

func serviceAccountJSON(t *testing.T, key *rsa.PrivateKey, tokenURI string) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "project", "private_key_id": "key-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})),
		"client_email": "disclosured@project.iam.gserviceaccount.com", "client_id": "1234567890",
		"token_uri": tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestGoogleServiceAccount(t *testing.T) {
	e := newEndpoint(t)
	key := rsaKey(t)
	e.saKey = &key.PublicKey
	sa := serviceAccountJSON(t, key, "https://oauth2.googleapis.com/token")
	s := newSource(t, Options{Provider: Google, ServiceAccount: sa, Subject: "security@example.com", TokenURL: e.url()})
	mustToken(t, s, false)
	if f := e.lastForm(); f["grant_type"][0] != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Errorf("grant_type %v", f["grant_type"])
	}

	// Without delegation for the mailbox, Google says invalid_grant or
	// unauthorized_client; the error names what to check.
	s = newSource(t, Options{Provider: Google, ServiceAccount: sa, Subject: "other@example.com", TokenURL: e.url()})
	_, err := s.Token(t.Context(), false)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "domain-wide delegation") ||
		!strings.Contains(err.Error(), "Client is unauthorized") {
		t.Errorf("err = %v", err)
	}

	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"no key":    {Options{Provider: Google, Subject: "a@b"}, "oauth2.service_account_file: required"},
		"no user":   {Options{Provider: Google, ServiceAccount: sa}, "imap.username"},
		"not json":  {Options{Provider: Google, ServiceAccount: []byte("{"), Subject: "a@b"}, "oauth2.service_account_file: want a Google service-account JSON key"},
		"user cred": {Options{Provider: Google, ServiceAccount: []byte(`{"type":"authorized_user"}`), Subject: "a@b"}, "oauth2.service_account_file"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want %q", name, err, tc.want)
		}
	}
}

func TestGenericClientCredentials(t *testing.T) {
	e := newEndpoint(t)
	s := newSource(t, Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret", TokenURL: e.url(), Scopes: []string{"mail"}})
	mustToken(t, s, false)
	if f := e.lastForm(); f["scope"][0] != "mail" || f["grant_type"][0] != "client_credentials" {
		t.Errorf("form %v", f)
	}
	for name, o := range map[string]Options{
		"oauth2.token_url: required":   {Provider: Generic, ClientID: "a", ClientSecret: "b"},
		"oauth2.client_id: provider":   {Provider: Generic, TokenURL: e.url(), ClientSecret: "b"},
		"oauth2.client_secret: provi":  {Provider: Generic, TokenURL: e.url(), ClientID: "a"},
		"oauth2.provider: want":        {Provider: "yahoo"},
		"oauth2.tenant: required":      {Provider: Microsoft, ClientID: "a", ClientSecret: "b"},
		"oauth2.client_id: required":   {Provider: Microsoft, Tenant: "t", ClientSecret: "b"},
		"oauth2.client_secret: provid": {Provider: Microsoft, Tenant: "t", ClientID: "a"},
	} {
		if _, err := New(o); err == nil || !strings.HasPrefix(err.Error(), name) {
			t.Errorf("New(%+v) = %v, want %q…", o, err, name)
		}
	}
}

func TestRefreshToken(t *testing.T) {
	e := newEndpoint(t)
	e.refresh = "rt-0"
	s := newSource(t, Options{Provider: Generic, RefreshToken: "rt-0", TokenURL: e.url()})
	first := mustToken(t, s, false)
	if f := e.lastForm(); f["grant_type"][0] != "refresh_token" || f["refresh_token"][0] != "rt-0" {
		t.Errorf("form %v", f)
	}
	// The endpoint rotated the refresh token: the next fetch must use the
	// new one, or it would be refused.
	second := mustToken(t, s, true)
	if first == second || e.lastForm()["refresh_token"][0] != "rt-1" {
		t.Errorf("second fetch used %v", e.lastForm()["refresh_token"])
	}

	e.mu.Lock()
	e.refresh = "revoked-by-user"
	e.mu.Unlock()
	_, err := s.Token(t.Context(), true)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "oauth2.refresh_token_file") {
		t.Errorf("err = %v", err)
	}
}

func TestRenewal(t *testing.T) {
	e := newEndpoint(t)
	s := newSource(t, Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret", TokenURL: e.url()})
	now := time.Now()
	s.now = func() time.Time { return now }

	first := mustToken(t, s, false)
	now = now.Add(54 * time.Minute) // 6 minutes left: still reused
	if mustToken(t, s, false) != first || e.count() != 1 {
		t.Fatalf("token renewed too early (%d requests)", e.count())
	}
	now = now.Add(2 * time.Minute) // 4 minutes left: inside the 5-minute margin
	second := mustToken(t, s, false)
	if second == first || e.count() != 2 {
		t.Fatalf("token not renewed inside the margin (%d requests)", e.count())
	}

	// A 60-second token is reused for three quarters of its life, not
	// fetched on every call because of the 5-minute margin.
	e.mu.Lock()
	e.expiresIn = 60
	e.mu.Unlock()
	short := mustToken(t, s, true)
	now = now.Add(40 * time.Second)
	if mustToken(t, s, false) != short {
		t.Errorf("short token not reused after 40s")
	}
	now = now.Add(6 * time.Second) // 46s: past 45s
	if mustToken(t, s, false) == short {
		t.Errorf("short token reused after 46s of 60")
	}
}

func TestFreshDropsCachedToken(t *testing.T) {
	e := newEndpoint(t)
	s := newSource(t, Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret", TokenURL: e.url()})
	first := mustToken(t, s, false)
	if fresh := mustToken(t, s, true); fresh == first {
		t.Fatal("fresh=true returned the cached token")
	}
	// A failed fresh fetch must not leave the refused token behind.
	e.mu.Lock()
	e.failStatus, e.failBody = 503, "<html>Service Unavailable</html>"
	e.mu.Unlock()
	if tok, err := s.Token(t.Context(), true); err == nil {
		t.Fatalf("fresh fetch against a failing endpoint returned %.10q", tok)
	}
	if tok, err := s.Token(t.Context(), false); err == nil {
		t.Fatalf("after a failed fresh fetch, Token returned a cached %.10q", tok)
	}
	e.mu.Lock()
	e.failStatus = 0
	e.mu.Unlock()
	mustToken(t, s, false)
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEndpoint(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/token"
	down.Close() // nothing listens there now

	cases := []struct {
		name     string
		o        Options
		status   int
		body     string
		want     []string
		notWant  []string
		wantCode string
	}{
		{name: "wrong secret", o: Options{Provider: Microsoft, Tenant: "tenant-x", ClientID: clientID, ClientSecret: "wrong-Secr3t"},
			want:    []string{"invalid_client", "AADSTS7000215: Invalid client secret provided.", "HTTP 401", "check oauth2.tenant, oauth2.client_id, oauth2.client_secret"},
			notWant: []string{"wrong-Secr3t"}, wantCode: "invalid_client"},
		{name: "unknown app", o: Options{Provider: Generic, ClientID: "nope", ClientSecret: "s3cret"},
			want: []string{"unauthorized_client", "AADSTS700016", "check oauth2.client_id, oauth2.client_secret"}, wantCode: "unauthorized_client"},
		{name: "bad scope", o: Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret", Scopes: []string{"bad"}},
			want: []string{"invalid_scope", "check oauth2.scopes"}, wantCode: "invalid_scope"},
		{name: "html 502", o: Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret"}, status: 502, body: "<html>\r\nBad gateway</html>",
			want: []string{"HTTP 502"}},
		{name: "control chars", o: Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret"}, status: 400,
			body: `{"error":"invalid_request","error_description":"line1\r\nFAKE: log line\u001b[31m` + strings.Repeat("y", 600) + `"}`,
			want: []string{"invalid_request", "line1  FAKE: log line", "…"}, notWant: []string{"\n", "\x1b", strings.Repeat("y", 450)}, wantCode: "invalid_request"},
		{name: "unreachable", o: Options{Provider: Microsoft, Tenant: "t", ClientID: clientID, ClientSecret: "s3cret", TokenURL: downURL},
			want: []string{"unreachable", "connection refused", "check oauth2.tenant, oauth2.token_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.mu.Lock()
			e.failStatus, e.failBody = tc.status, tc.body
			e.mu.Unlock()
			if tc.o.TokenURL == "" {
				tc.o.TokenURL = e.url()
			}
			s := newSource(t, tc.o)
			_, err := s.Token(t.Context(), false)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("error %q contains %q", msg, w)
				}
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != tc.wantCode {
				t.Errorf("Error.Code = %+v, want %q", oe, tc.wantCode)
			}
		})
	}
}

func TestTokenHonoursContext(t *testing.T) {
	// A token endpoint that accepts the connection and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	s := newSource(t, Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret", TokenURL: "http://" + ln.Addr().String() + "/token"})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Token(ctx, false)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Token took %v after its context expired", d)
	}
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	e := newEndpoint(t)
	s := newSource(t, Options{Provider: Generic, ClientID: clientID, ClientSecret: "s3cret", TokenURL: e.url()})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Token(context.Background(), false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if e.count() != 1 {
		t.Errorf("%d fetches for 8 concurrent callers, want 1", e.count())
	}
}
