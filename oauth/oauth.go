// Package oauth fetches the OAuth 2.0 access tokens with which the daemon
// logs in to IMAP and SMTP by SASL XOAUTH2 or OAUTHBEARER (RFC 7628), from
// Microsoft Entra ID (Microsoft 365), Google (Workspace service accounts) or
// any RFC 6749 token endpoint.
//
// It is built on golang.org/x/oauth2: the clientcredentials package for the
// client-credentials grant (RFC 6749 §4.4), google + jwt for the
// service-account JWT-bearer grant (RFC 7523 §2.1) and oauth2.Config for a
// refresh token (RFC 6749 §6). Microsoft's certificate credential is a JWT
// client assertion (RFC 7523 §2.2; PS256 with the certificate's SHA-256
// thumbprint as "x5t#S256", as Entra ID documents it) sent through
// clientcredentials'
// EndpointParams, rather than Microsoft's MSAL for Go: MSAL resolves its
// authority through instance discovery and OpenID metadata at
// login.microsoftonline.com before it asks for a token, so oauth2.token_url
// could not point it at a test issuer, and it would add a second token cache
// and half a dozen modules for one signed JWT.
//
// Invariants:
//
//   - Tokens live only in memory, in one Source, and are never logged, never
//     put in an error and never written anywhere.
//   - A token is renewed before it expires: when less than Margin (default
//     5 minutes) or a quarter of its lifetime is left, whichever is less, so
//     short-lived tokens are reused too.
//   - Token(ctx, true) never returns the token it had cached: a server that
//     refused a token gets a new one on the next attempt.
//   - Errors name the configuration keys an operator should check (the
//     oauth2.* keys, which the Options fields mirror) and carry the token
//     endpoint's RFC 6749 §5.2 error code and description, cleaned of control
//     characters and cut to a sane length, never a request parameter.
//
// The package imports no other disclosured package.
package oauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/microsoft"
)

// Providers.
const (
	Microsoft = "microsoft"
	Google    = "google"
	Generic   = "generic"
)

// Default scopes per provider (SPEC §7a).
const (
	MicrosoftScope = "https://outlook.office365.com/.default"
	GoogleScope    = "https://mail.google.com/"
)

// DefaultMargin is how long before its expiry a token is renewed at most.
const DefaultMargin = 5 * time.Minute

// Options say where tokens come from. The field names follow the oauth2.*
// configuration keys; cmd reads the *_file keys and passes their contents.
type Options struct {
	// Provider is Microsoft, Google or Generic.
	Provider string
	// Tenant is the Entra ID tenant (ID or primary domain), for Microsoft.
	Tenant string
	// ClientID and ClientSecret are the client credentials (Microsoft,
	// Generic). With RefreshToken they are optional.
	ClientID, ClientSecret string
	// Certificate is a PEM certificate and its RSA private key: Microsoft's
	// certificate credential, instead of ClientSecret.
	Certificate []byte
	// ServiceAccount is a Google service-account JSON key (Google).
	ServiceAccount []byte
	// Subject is the mailbox a Google service account acts for (domain-wide
	// delegation).
	Subject string
	// RefreshToken is a refresh token obtained elsewhere (Generic), used
	// instead of the client-credentials grant.
	RefreshToken string
	// TokenURL overrides the provider's token endpoint; required for Generic.
	TokenURL string
	// Scopes default to MicrosoftScope or GoogleScope; Generic has none.
	Scopes []string
	// Margin bounds how early a token is renewed; 0 means DefaultMargin.
	Margin time.Duration
	// HTTPClient talks to the token endpoint; nil means a client with a 30s
	// timeout and the system's TLS roots.
	HTTPClient *http.Client
}

// Source hands out access tokens, fetching and caching them. It is safe
// for concurrent use; concurrent callers share one fetch.
type Source struct {
	provider string
	grant    string // "client credentials", "certificate", "service account", "refresh token"
	endpoint string
	margin   time.Duration
	client   *http.Client
	fetch    func(ctx context.Context) (*oauth2.Token, error)

	now func() time.Time // the clock for renewal; tests move it

	mu      sync.Mutex
	tok     *oauth2.Token
	renewAt time.Time
	refresh string // the newest refresh token, for the refresh-token grant
}

// New checks o and returns a Source. It does no network I/O; the first
// Token call fetches. Its errors name the oauth2.* key at fault.
func New(o Options) (*Source, error) {
	s := &Source{provider: o.Provider, margin: o.Margin, client: o.HTTPClient, now: time.Now}
	if s.margin <= 0 {
		s.margin = DefaultMargin
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
				TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	}
	var err error
	switch o.Provider {
	case Microsoft:
		err = s.microsoft(o)
	case Google:
		err = s.google(o)
	case Generic:
		err = s.generic(o)
	default:
		err = fmt.Errorf("oauth2.provider: want microsoft, google or generic, got %q", o.Provider)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Provider returns the provider the source was built for.
func (s *Source) Provider() string { return s.provider }

// Endpoint returns the token endpoint URL.
func (s *Source) Endpoint() string { return s.endpoint }

// Grant names the grant in use, for logs: "client credentials",
// "certificate", "service account" or "refresh token".
func (s *Source) Grant() string { return s.grant }

func scopesOr(scopes []string, def string) []string {
	if len(scopes) > 0 {
		return scopes
	}
	if def == "" {
		return nil
	}
	return []string{def}
}

func (s *Source) microsoft(o Options) error {
	if o.Tenant == "" && o.TokenURL == "" {
		return errors.New("oauth2.tenant: required for provider microsoft")
	}
	if o.ClientID == "" {
		return errors.New("oauth2.client_id: required for provider microsoft")
	}
	s.endpoint = o.TokenURL
	if s.endpoint == "" {
		// Path-escaped: a tenant is a GUID or a domain, never a path.
		s.endpoint = microsoft.AzureADEndpoint(url.PathEscape(o.Tenant)).TokenURL
	}
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: s.endpoint,
		Scopes: scopesOr(o.Scopes, MicrosoftScope), AuthStyle: oauth2.AuthStyleInParams}
	switch {
	case len(o.Certificate) > 0 && o.ClientSecret != "":
		return errors.New("oauth2.certificate_file: set either oauth2.client_secret or oauth2.certificate_file, not both")
	case len(o.Certificate) > 0:
		cert, key, err := parseCertificate(o.Certificate)
		if err != nil {
			return fmt.Errorf("oauth2.certificate_file: %w", err)
		}
		s.grant = "certificate"
		s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			assertion, err := ClientAssertion(o.ClientID, s.endpoint, cert, key, time.Now())
			if err != nil {
				return nil, fmt.Errorf("sign client assertion: %w", err)
			}
			c := cc
			// RFC 7523 §2.2 and §3; Entra ID's "certificate credentials".
			c.EndpointParams = url.Values{
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {assertion},
			}
			return c.Token(ctx)
		}
	case o.ClientSecret != "":
		s.grant = "client credentials"
		s.fetch = cc.Token
	default:
		return errors.New("oauth2.client_secret: provider microsoft needs oauth2.client_secret, oauth2.client_secret_file or oauth2.certificate_file")
	}
	return nil
}

func (s *Source) google(o Options) error {
	if len(o.ServiceAccount) == 0 {
		return errors.New("oauth2.service_account_file: required for provider google")
	}
	if o.Subject == "" {
		return errors.New("imap.username: provider google needs the mailbox address to act for")
	}
	jc, err := google.JWTConfigFromJSON(o.ServiceAccount, scopesOr(o.Scopes, GoogleScope)...)
	if err != nil {
		return fmt.Errorf("oauth2.service_account_file: want a Google service-account JSON key: %w", err)
	}
	if jc.Email == "" || len(jc.PrivateKey) == 0 {
		return errors.New("oauth2.service_account_file: the key lacks client_email or private_key")
	}
	if b, _ := pem.Decode(jc.PrivateKey); b == nil {
		return errors.New("oauth2.service_account_file: private_key holds no PEM key")
	}
	jc.Subject = o.Subject
	if o.TokenURL != "" {
		jc.TokenURL = o.TokenURL
	}
	s.endpoint = jc.TokenURL
	s.grant = "service account"
	s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
		return jc.TokenSource(ctx).Token()
	}
	return nil
}

func (s *Source) generic(o Options) error {
	if o.TokenURL == "" {
		return errors.New("oauth2.token_url: required for provider generic")
	}
	s.endpoint = o.TokenURL
	if o.RefreshToken != "" {
		s.grant = "refresh token"
		s.refresh = o.RefreshToken
		c := &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes,
			Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL}}
		s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			// Called with s.mu held, so s.refresh is ours to read.
			return c.TokenSource(ctx, &oauth2.Token{RefreshToken: s.refresh}).Token()
		}
		return nil
	}
	if o.ClientID == "" {
		return errors.New("oauth2.client_id: provider generic needs oauth2.client_id and oauth2.client_secret, or oauth2.refresh_token_file")
	}
	if o.ClientSecret == "" {
		return errors.New("oauth2.client_secret: provider generic needs oauth2.client_secret (or oauth2.client_secret_file) with oauth2.client_id, or oauth2.refresh_token_file")
	}
	s.grant = "client credentials"
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	s.fetch = cc.Token
	return nil
}

// Token returns an access token: the cached one while it is not due for
// renewal, else a new one from the token endpoint. fresh forces a fetch and
// drops the cached token even when that fetch fails, because a server has
// just refused it. It matches mailbox.TokenFunc.
func (s *Source) Token(ctx context.Context, fresh bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fresh {
		s.tok = nil
	}
	if s.tok != nil && s.now().Before(s.renewAt) {
		return s.tok.AccessToken, nil
	}
	s.tok = nil
	// x/oauth2 sets Expiry from the real clock; the lifetime is measured
	// on it, the renewal time on s.now.
	realStart, start := time.Now(), s.now()
	tok, err := s.fetch(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return "", s.explain(err)
	}
	if tok.AccessToken == "" {
		return "", &Error{Endpoint: s.endpoint, Keys: s.keys(""), Msg: "answered without an access_token"}
	}
	if tok.RefreshToken != "" {
		// A provider that rotates refresh tokens (RFC 6749 §6) sends a new
		// one; keep the newest in memory.
		s.refresh = tok.RefreshToken
	}
	life := time.Hour // no expires_in: assume an hour rather than forever
	if !tok.Expiry.IsZero() {
		life = tok.Expiry.Sub(realStart)
	}
	s.tok, s.renewAt = tok, start.Add(life-min(s.margin, life/4))
	return tok.AccessToken, nil
}

// Error is a token endpoint's refusal or failure, with the keys to check.
type Error struct {
	Endpoint    string   // the token URL
	Keys        []string // config keys to check, e.g. "oauth2.client_secret"
	Status      int      // HTTP status, 0 if none came back
	Code        string   // RFC 6749 §5.2 "error", e.g. invalid_client
	Description string   // "error_description", cleaned
	Msg         string   // what went wrong, when not an OAuth error
	Err         error    // the cause, for errors.Is (network errors)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oauth2 token endpoint ")
	b.WriteString(e.Endpoint)
	switch {
	case e.Code != "":
		fmt.Fprintf(&b, " refused the request: %s", e.Code)
		if e.Description != "" {
			fmt.Fprintf(&b, " (%s)", e.Description)
		}
		if e.Status != 0 {
			fmt.Fprintf(&b, ", HTTP %d", e.Status)
		}
	case e.Status != 0:
		fmt.Fprintf(&b, " answered HTTP %d %s", e.Status, http.StatusText(e.Status))
		if e.Msg != "" {
			b.WriteString(": " + e.Msg)
		}
	default:
		b.WriteString(" " + e.Msg)
	}
	if len(e.Keys) > 0 {
		b.WriteString("; check " + strings.Join(e.Keys, ", "))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// explain turns an x/oauth2 error into an *Error that names the keys.
func (s *Source) explain(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Endpoint: s.endpoint, Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		if e.Code == "" {
			// The jwt package leaves the body unparsed.
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				e.Code, e.Description = body.Error, body.Description
			}
		}
		e.Code, e.Description = clean(e.Code, 64), clean(e.Description, 400)
		if e.Code == "" {
			e.Msg = "no OAuth error in the answer"
		}
		e.Keys = s.keys(e.Code)
		return e
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		// url.Error's text holds the URL and the network error, never the
		// form body.
		return &Error{Endpoint: s.endpoint, Msg: "unreachable: " + clean(rootCause(err).Error(), 300),
			Keys: s.endpointKeys(), Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Endpoint: s.endpoint, Msg: "not reached: " + err.Error(), Err: err}
	}
	// Local failures (signing, a malformed answer) name the credential.
	return &Error{Endpoint: s.endpoint, Msg: clean(err.Error(), 300), Keys: s.keys(""), Err: err}
}

// rootCause unwraps to the innermost error of a chain.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func (s *Source) endpointKeys() []string {
	switch s.provider {
	case Microsoft:
		return []string{"oauth2.tenant", "oauth2.token_url"}
	default:
		return []string{"oauth2.token_url"}
	}
}

// keys lists the configuration keys behind an OAuth error code.
func (s *Source) keys(code string) []string {
	if code == "invalid_scope" {
		return []string{"oauth2.scopes"}
	}
	switch s.grant {
	case "certificate":
		return []string{"oauth2.tenant", "oauth2.client_id", "oauth2.certificate_file (the certificate must be uploaded to the app registration)"}
	case "service account":
		return []string{"oauth2.service_account_file", "domain-wide delegation of the client for oauth2.scopes", "imap.username"}
	case "refresh token":
		if code == "invalid_client" || code == "unauthorized_client" {
			return []string{"oauth2.client_id", "oauth2.client_secret"}
		}
		return []string{"oauth2.refresh_token_file"}
	}
	if s.provider == Microsoft {
		return []string{"oauth2.tenant", "oauth2.client_id", "oauth2.client_secret"}
	}
	return []string{"oauth2.client_id", "oauth2.client_secret"}
}

// clean drops control characters from server text and cuts it to n bytes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// parseCertificate reads the first certificate and the RSA private key
// (PKCS #8 or PKCS #1) from PEM, and checks that they belong together.
func parseCertificate(data []byte) (*x509.Certificate, *rsa.PrivateKey, error) {
	var cert *x509.Certificate
	var key *rsa.PrivateKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if cert != nil {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("parse certificate: %w", err)
			}
			cert = c
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("parse private key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("want an RSA private key (Entra ID takes PS256 client assertions), got %T", k)
			}
			key = rk
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("parse private key: %w", err)
			}
			key = k
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, errors.New("the private key is encrypted; store it unencrypted (and readable only by the daemon)")
		}
	}
	switch {
	case cert == nil:
		return nil, nil, errors.New("want a PEM CERTIFICATE block (and the private key) in the file")
	case key == nil:
		return nil, nil, errors.New("want a PEM PRIVATE KEY or RSA PRIVATE KEY block (and the certificate) in the file")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("the private key does not belong to the certificate")
	}
	return cert, key, nil
}

// ClientAssertion builds the signed JWT with which a confidential client
// proves that it holds the certificate's key (RFC 7523 §2.2 and §3, in the
// form Entra ID documents: PS256 (RFC 7518 §3.5), "x5t#S256" = base64url
// SHA-256 thumbprint of the DER certificate (RFC 7515 §4.1.8), iss = sub =
// client ID, aud = the token endpoint, a unique jti, valid for 10 minutes
// from now).
func ClientAssertion(clientID, audience string, cert *x509.Certificate, key *rsa.PrivateKey, now time.Time) (string, error) {
	thumb := sha256.Sum256(cert.Raw)
	hdr, err := json.Marshal(map[string]string{"alg": "PS256", "typ": "JWT",
		"x5t#S256": base64.RawURLEncoding.EncodeToString(thumb[:])})
	if err != nil {
		return "", err
	}
	jti, err := randomID()
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{"aud": audience, "iss": clientID, "sub": clientID,
		"jti": jti, "nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	if err != nil {
		return "", err
	}
	signed := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sig, err := signPS256(key, signed)
	if err != nil {
		return "", err
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// signPS256 is RSASSA-PSS with SHA-256 and a 32-byte salt (RFC 7518 §3.5).
func signPS256(key *rsa.PrivateKey, signed string) ([]byte, error) {
	sum := sha256.Sum256([]byte(signed))
	return rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}

// randomID returns a random RFC 9562 version 4 UUID, the jti form Entra ID
// documents.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}
