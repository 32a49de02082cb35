// Package issuer is a tiny OAuth 2.0 authorization server for end-to-end
// tests against mailstack in OAuth2 mode (Dovecot's oauth2 passdb).
//
//	POST /token       RFC 6749 client-credentials grant (Microsoft 365 style:
//	                  the answer is a signed JWT access token) and the RFC 7523
//	                  JWT-bearer grant (Google service-account style: the
//	                  assertion is a JWT signed with the service account's RSA
//	                  key; "sub" names the mailbox; the answer is an opaque
//	                  "ya29." token).
//	/introspect       RFC 7662 token introspection, the endpoint Dovecot asks
//	                  about every XOAUTH2/OAUTHBEARER login: POST token=...
//	                  (introspection_mode = post), GET ?token=... (get) or GET
//	                  with "Authorization: Bearer ..." (auth).
//
// Every issued token maps to one mailbox user and an expiry. Introspection
// answers {"active": false} for unknown, expired and revoked tokens, and
// otherwise {"active": true, "username": <user>, ...}: Dovecot 2.3 does not
// look at "exp" itself. Only the standard library is used, so the file can be
// copied into a test helper as is.
//
// Copied from the shared mailstack's probe/issuer for disclosured's e2e
// tests; the one addition is Grants, which counts issued tokens.
package issuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Grant types understood by /token.
const (
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// GoogleTokenURL is accepted as a JWT-bearer "aud" besides TokenURL(),
	// because some Google client libraries hard-code it.
	GoogleTokenURL = "https://oauth2.googleapis.com/token"
)

// Client is a registered OAuth2 client for the client-credentials grant. Its
// tokens log in as User (Microsoft 365 app-only tokens carry no user; here
// each client stands for one mailbox).
type Client struct {
	ID, Secret, User string
	TTL              time.Duration // token lifetime; 0 = 1 hour
}

// ServiceAccount is a Google-style service account for the JWT-bearer grant.
// Its tokens log in as the assertion's "sub" (domain-wide delegation), or as
// Email when there is no "sub".
type ServiceAccount struct {
	Email string
	Key   *rsa.PublicKey
	KeyID string        // if set, an assertion's "kid" header must match it
	TTL   time.Duration // token lifetime; 0 = 1 hour
}

// Token is what the issuer remembers about an access token.
type Token struct {
	User, ClientID, Scope string
	Issued, Expires       time.Time
	Revoked               bool
}

// Issuer is the server. The zero value is not usable: call New.
type Issuer struct {
	// JWTLen pads client-credentials (JWT) access tokens to about this many
	// characters; real Entra ID tokens are 1.5-2.5 KB. 0 = no padding.
	JWTLen int
	// Now is the clock (tests may move it); defaults to time.Now.
	Now func() time.Time

	mu       sync.Mutex
	url      string
	key      *rsa.PrivateKey
	kid      string
	clients  map[string]Client
	accounts map[string]ServiceAccount
	tokens   map[string]*Token
	asked    map[string]int // introspection requests by mode
	granted  map[string]int // tokens issued, by client ID or service account
	srv      *http.Server
}

// New makes an issuer with a fresh RSA key for signing its JWT access tokens.
func New() (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Issuer{
		Now:      time.Now,
		key:      key,
		kid:      randomString(8),
		clients:  map[string]Client{},
		accounts: map[string]ServiceAccount{},
		tokens:   map[string]*Token{},
		asked:    map[string]int{},
		granted:  map[string]int{},
	}, nil
}

// Serve answers on ln (wrap it with tls.NewListener for https) until Close.
// scheme is "http" or "https"; it only affects URL().
func (s *Issuer) Serve(ln net.Listener, scheme string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.handleToken)
	mux.HandleFunc("/introspect", s.handleIntrospect)
	s.mu.Lock()
	s.url = scheme + "://" + ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Close stops the server.
func (s *Issuer) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// URL is the base URL, e.g. http://127.0.0.1:12080.
func (s *Issuer) URL() string { s.mu.Lock(); defer s.mu.Unlock(); return s.url }

// TokenURL is the token endpoint (also the JWT-bearer "aud").
func (s *Issuer) TokenURL() string { return s.URL() + "/token" }

// IntrospectURL is what MAILSTACK_OAUTH2_INTROSPECT_URL should be.
func (s *Issuer) IntrospectURL() string { return s.URL() + "/introspect" }

// AddClient registers a client-credentials client.
func (s *Issuer) AddClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
}

// AddServiceAccount registers a JWT-bearer service account.
func (s *Issuer) AddServiceAccount(a ServiceAccount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[a.Email] = a
}

// Mint issues an opaque token for user directly, without a grant. A negative
// ttl gives a token that is already expired.
func (s *Issuer) Mint(user, clientID, scope string, ttl time.Duration) string {
	tok := "mst." + randomString(32)
	s.remember(tok, user, clientID, scope, ttl)
	return tok
}

// Revoke makes a token inactive.
func (s *Issuer) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[token]; t != nil {
		t.Revoked = true
	}
}

// Lookup returns what the issuer knows about a token.
func (s *Issuer) Lookup(token string) (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[token]
	if t == nil {
		return Token{}, false
	}
	return *t, true
}

// Grants counts the tokens /token issued so far, by client ID (client
// credentials) or service-account email (JWT bearer).
func (s *Issuer) Grants() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.granted {
		out[k] = v
	}
	return out
}

// Introspections counts the introspection requests so far, by mode
// ("post", "get", "auth").
func (s *Issuer) Introspections() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.asked {
		out[k] = v
	}
	return out
}

func (s *Issuer) remember(tok, user, clientID, scope string, ttl time.Duration) {
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &Token{User: user, ClientID: clientID, Scope: scope, Issued: now, Expires: now.Add(ttl)}
}

// grant counts a token issued by /token.
func (s *Issuer) grant(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.granted[clientID]++
}

// ---------------------------------------------------------------- /token

type oauthError struct {
	status int
	code   string // RFC 6749 section 5.2 error code
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func fail(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status, code, fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "POST only"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	var resp map[string]any
	var err *oauthError
	switch gt := r.PostForm.Get("grant_type"); gt {
	case GrantClientCredentials:
		resp, err = s.clientCredentials(r)
	case GrantJWTBearer:
		resp, err = s.jwtBearer(r.PostForm.Get("assertion"))
	case "":
		err = fail(http.StatusBadRequest, "invalid_request", "missing grant_type")
	default:
		err = fail(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q is not supported", gt)
	}
	if err != nil {
		if err.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="mailstack-issuer"`)
		}
		writeJSON(w, err.status, map[string]string{"error": err.code, "error_description": err.desc})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientCredentials: client_id/client_secret in the form (client_secret_post)
// or as HTTP Basic (client_secret_basic, form-urlencoded per RFC 6749 2.3.1).
func (s *Issuer) clientCredentials(r *http.Request) (map[string]any, *oauthError) {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	s.mu.Lock()
	c, known := s.clients[id]
	s.mu.Unlock()
	if id == "" || !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return nil, fail(http.StatusUnauthorized, "invalid_client", "unknown client or wrong client_secret")
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	scope := r.PostForm.Get("scope")
	tok, err := s.accessJWT(c, scope, ttl)
	if err != nil {
		return nil, fail(http.StatusInternalServerError, "server_error", "%v", err)
	}
	s.remember(tok, c.User, c.ID, scope, ttl)
	s.grant(c.ID)
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl / time.Second)}
	if scope != "" {
		resp["scope"] = scope
	}
	return resp, nil
}

// accessJWT makes a Microsoft-365-like access token: a JWT signed by the
// issuer. Dovecot never parses it (it asks /introspect); its size matters,
// because it has to fit through IMAP and SMTP AUTH lines.
func (s *Issuer) accessJWT(c Client, scope string, ttl time.Duration) (string, error) {
	now := s.Now()
	claims := map[string]any{
		"iss": s.URL() + "/", "aud": "https://outlook.office365.com", "sub": c.User,
		"appid": c.ID, "scp": scope, "upn": c.User,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"jti": randomString(16),
	}
	tok, err := signRS256(s.key, s.kid, claims)
	if err != nil || s.JWTLen <= len(tok) {
		return tok, err
	}
	// Pad with a claim; base64 grows 4/3, so aim a little short.
	claims["pad"] = strings.Repeat("x", (s.JWTLen-len(tok))*3/4)
	return signRS256(s.key, s.kid, claims)
}

// jwtBearer checks a Google-style service-account assertion: RS256, a
// registered "iss", our token URL as "aud", a non-empty "scope", and
// iat/exp no more than an hour apart around now.
func (s *Issuer) jwtBearer(assertion string) (map[string]any, *oauthError) {
	bad := func(format string, args ...any) (map[string]any, *oauthError) {
		return nil, fail(http.StatusBadRequest, "invalid_grant", format, args...)
	}
	var hdr struct{ Alg, Kid, Typ string }
	var claims struct {
		Iss, Sub, Scope string
		Aud             any
		Iat, Exp        int64
	}
	signed, sig, err := parseJWT(assertion, &hdr, &claims)
	if err != nil {
		return bad("Invalid JWT: %v", err)
	}
	if hdr.Alg != "RS256" {
		return bad("Invalid JWT: alg %q, want RS256", hdr.Alg)
	}
	s.mu.Lock()
	sa, known := s.accounts[claims.Iss]
	tokenURL := s.url + "/token"
	s.mu.Unlock()
	if !known {
		return bad("Invalid JWT: unknown issuer (service account) %q", claims.Iss)
	}
	if sa.KeyID != "" && hdr.Kid != "" && hdr.Kid != sa.KeyID {
		return bad("Invalid JWT Signature: unknown kid %q", hdr.Kid)
	}
	h := sha256.Sum256([]byte(signed))
	if rsa.VerifyPKCS1v15(sa.Key, crypto.SHA256, h[:], sig) != nil {
		return bad("Invalid JWT Signature.")
	}
	if !audHas(claims.Aud, tokenURL, GoogleTokenURL) {
		return bad("Invalid JWT: aud %v, want %s", claims.Aud, tokenURL)
	}
	if claims.Scope == "" {
		return bad("Invalid JWT: no scope")
	}
	now := s.Now().Unix()
	if claims.Exp <= now || claims.Iat > now+60 || claims.Exp-claims.Iat > 3600 {
		return bad("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	user := claims.Sub
	if user == "" {
		user = claims.Iss
	}
	ttl := sa.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	tok := "ya29." + randomString(120)
	s.remember(tok, user, claims.Iss, claims.Scope, ttl)
	s.grant(claims.Iss)
	return map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl / time.Second)}, nil
}

func audHas(aud any, want ...string) bool {
	var auds []string
	switch a := aud.(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	for _, a := range auds {
		for _, w := range want {
			if a == w {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------- /introspect

func (s *Issuer) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	var tok, mode string
	switch {
	case r.Method == http.MethodPost:
		r.ParseForm()
		tok, mode = r.PostForm.Get("token"), "post"
	case r.Method == http.MethodGet && r.URL.Query().Has("token"):
		tok, mode = r.URL.Query().Get("token"), "get"
	case r.Method == http.MethodGet && strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer "):
		tok, mode = strings.TrimSpace(r.Header.Get("Authorization")[7:]), "auth"
	}
	if tok == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "no token"})
		return
	}
	now := s.Now()
	s.mu.Lock()
	s.asked[mode]++
	t := s.tokens[tok]
	var resp map[string]any
	if t == nil || t.Revoked || !now.Before(t.Expires) {
		resp = map[string]any{"active": false}
	} else {
		// "username" is what mailstack's Dovecot compares with the login
		// name; "email" is Dovecot's default username_attribute.
		resp = map[string]any{"active": true, "username": t.User, "email": t.User, "sub": t.User,
			"client_id": t.ClientID, "token_type": "Bearer", "iss": s.url + "/",
			"iat": t.Issued.Unix(), "exp": t.Expires.Unix()}
		if t.Scope != "" {
			resp["scope"] = t.Scope
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// ---------------------------------------------------------------- JWT

var b64 = base64.RawURLEncoding

// SignRS256 makes a compact JWS (RS256) of claims; kid may be empty. Tests use
// it to build service-account assertions.
func SignRS256(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	return signRS256(key, kid, claims)
}

func signRS256(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	hdr := map[string]string{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + b64.EncodeToString(sig), nil
}

// parseJWT splits a compact JWS, decodes header and claims into hdr and
// claims, and returns the signed part and the signature.
func parseJWT(jwt string, hdr, claims any) (signed string, sig []byte, err error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", nil, errors.New("not three dot-separated parts")
	}
	for i, dst := range []any{hdr, claims} {
		raw, err := b64.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return "", nil, fmt.Errorf("part %d: %v", i+1, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return "", nil, fmt.Errorf("part %d: %v", i+1, err)
		}
	}
	if sig, err = b64.DecodeString(strings.TrimRight(parts[2], "=")); err != nil {
		return "", nil, fmt.Errorf("signature: %v", err)
	}
	return parts[0] + "." + parts[1], sig, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b64.EncodeToString(b)[:n]
}
