package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mail providers that MailProvider recognises.
const (
	ProviderMicrosoft = "microsoft"
	ProviderGoogle    = "google"
	ProviderGeneric   = "generic"
)

// The default scopes per provider (SPEC §7a).
var defaultScopes = map[string][]string{
	ProviderMicrosoft: {"https://outlook.office365.com/.default"},
	ProviderGoogle:    {"https://mail.google.com/"},
}

// Hosts of the big providers, as users configure them. Exchange Online's
// IMAP has refused password (Basic) login since 2022; its SMTP AUTH with a
// password is off for new tenants and goes away for existing ones at the
// end of December 2026. Google takes passwords only as app passwords.
var (
	microsoftIMAPHosts = []string{"outlook.office365.com", "outlook.office.com", "imap-mail.outlook.com"}
	microsoftSMTPHosts = []string{"smtp.office365.com", "smtp-mail.outlook.com"}
	googleIMAPHosts    = []string{"imap.gmail.com"}
	googleSMTPHosts    = []string{"smtp.gmail.com"}
)

var (
	tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	scopeRE  = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]+$`) // RFC 6749 §3.3 scope-token
)

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		h = addr
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// recognise names the provider of the IMAP or SMTP server, if it is one of
// the big ones, and the key it was recognised from.
func (c *Config) recognise() (name, from string) {
	for _, s := range []struct {
		key, addr        string
		microsoft, gmail []string
	}{
		{"imap.address", c.IMAP.Address, microsoftIMAPHosts, googleIMAPHosts},
		{"smtp.address", c.SMTP.Address, microsoftSMTPHosts, googleSMTPHosts},
	} {
		h := hostOf(s.addr)
		switch {
		case slices.Contains(s.microsoft, h):
			return ProviderMicrosoft, s.key + " " + h
		case slices.Contains(s.gmail, h):
			return ProviderGoogle, s.key + " " + h
		}
	}
	return "", ""
}

// usesOAuth2 reports whether IMAP or SMTP logs in with a token.
func (c *Config) usesOAuth2() bool { return c.IMAP.Auth == "oauth2" || c.SMTP.Auth == "oauth2" }

// resolveLogin fills the login defaults that depend on other keys:
// smtp.auth, oauth2.provider (from the server addresses) and oauth2.scopes.
func (c *Config) resolveLogin() {
	if c.SMTP.Auth == "" {
		c.SMTP.Auth = "none"
		if c.SMTP.Username != "" {
			c.SMTP.Auth = "password"
		}
	}
	c.providerName, c.providerFrom = c.recognise()
	if c.OAuth2.Provider != "" {
		c.providerName, c.providerFrom = c.OAuth2.Provider, "oauth2.provider"
	}
	if !c.usesOAuth2() {
		return
	}
	if c.OAuth2.Provider == "" && c.providerName != "" {
		c.OAuth2.Provider = c.providerName
	}
	if len(c.OAuth2.Scopes) == 0 {
		c.OAuth2.Scopes = slices.Clone(defaultScopes[c.OAuth2.Provider])
	}
}

// MailProvider names the mail provider the configuration is for:
// "microsoft" or "google" when recognised from imap.address or smtp.address
// (or given as oauth2.provider), with the key it came from; "" for a
// self-hosted server. Valid after Load.
func (c *Config) MailProvider() (name, from string) { return c.providerName, c.providerFrom }

// Warnings lists combinations that are valid but likely to fail or to stop
// working, one line each; check-config prints them and run logs them.
func (c *Config) Warnings() []string {
	w := c.tlsWarnings()
	smtpHost, imapHost := hostOf(c.SMTP.Address), hostOf(c.IMAP.Address)
	if c.SMTP.Auth == "password" && slices.Contains(microsoftSMTPHosts, smtpHost) {
		w = append(w, "smtp.auth: Exchange Online turns SMTP AUTH with a password off (new tenants never had it; existing ones lose it at the end of December 2026); use smtp.auth: oauth2")
	}
	if c.IMAP.Auth == "password" && slices.Contains(googleIMAPHosts, imapHost) {
		w = append(w, "imap.auth: Google accepts a password only as an app password, which many organisations forbid; consider imap.auth: oauth2 with oauth2.provider: google")
	}
	if c.SMTP.Auth == "password" && slices.Contains(googleSMTPHosts, smtpHost) {
		w = append(w, "smtp.auth: Google accepts a password only as an app password, which many organisations forbid; consider smtp.auth: oauth2 with oauth2.provider: google")
	}
	if c.usesOAuth2() {
		if rec, from := c.recognise(); rec != "" && c.OAuth2.Provider != "" && c.OAuth2.Provider != rec && c.OAuth2.TokenURL == "" {
			w = append(w, fmt.Sprintf("oauth2.provider: %s, but %s is %s's", c.OAuth2.Provider, from, rec))
		}
		if c.IMAP.Auth == "oauth2" && (c.IMAP.Password != "" || c.IMAP.PasswordFile != "") {
			w = append(w, "imap.password: not used, imap.auth is oauth2")
		}
		if c.SMTP.Auth == "oauth2" && (c.SMTP.Password != "" || c.SMTP.PasswordFile != "") {
			w = append(w, "smtp.password: not used, smtp.auth is oauth2")
		}
	} else if c.OAuth2.Provider != "" || c.OAuth2.ClientID != "" || c.OAuth2.TokenURL != "" || c.OAuth2.ServiceAccountFile != "" {
		w = append(w, "oauth2: set, but neither imap.auth nor smtp.auth is oauth2, so no token is used")
	}
	return w
}

// validateLogin checks imap.auth, smtp.auth and, when either is oauth2,
// the oauth2.* keys.
func (c *Config) validateLogin(ch *checker) {
	ch.oneOf("imap.auth", c.IMAP.Auth, "password", "oauth2")
	ch.oneOf("smtp.auth", c.SMTP.Auth, "password", "oauth2", "none")
	imapHost := hostOf(c.IMAP.Address)
	if c.IMAP.Auth == "password" && slices.Contains(microsoftIMAPHosts, imapHost) {
		ch.add("imap.auth", "Exchange Online (%s) refuses password login to IMAP; want oauth2 (see the Microsoft 365 guide in README.md)", imapHost)
	}
	for _, s := range []struct{ prefix, auth, user string }{
		{"imap", c.IMAP.Auth, c.IMAP.Username}, {"smtp", c.SMTP.Auth, c.SMTP.Username},
	} {
		if (s.auth == "oauth2" || s.auth == "password") && strings.TrimSpace(s.user) == "" {
			ch.add(s.prefix+".username", "required when %s.auth is %s", s.prefix, s.auth)
		}
	}
	if !c.usesOAuth2() {
		return
	}

	o := c.OAuth2
	notUsed := func(key, v string) {
		if v != "" {
			ch.add("oauth2."+key, "not used by oauth2.provider %s", o.Provider)
		}
	}
	switch o.Provider {
	case "":
		ch.add("oauth2.provider", "required when imap.auth or smtp.auth is oauth2 (microsoft, google or generic); none recognised from imap.address or smtp.address")
	case ProviderMicrosoft:
		switch t := strings.ToLower(o.Tenant); {
		case t == "":
			ch.add("oauth2.tenant", "required for oauth2.provider microsoft (the tenant ID or primary domain, e.g. contoso.onmicrosoft.com)")
		case t == "common" || t == "organizations" || t == "consumers":
			ch.add("oauth2.tenant", "want the tenant ID or primary domain; %q cannot issue app-only tokens", o.Tenant)
		case !tenantRE.MatchString(o.Tenant):
			ch.add("oauth2.tenant", "want a tenant ID (GUID) or domain, got %q", o.Tenant)
		}
		ch.required("oauth2.client_id", o.ClientID)
		hasSecret := o.ClientSecret != "" || o.ClientSecretFile != ""
		switch {
		case hasSecret && o.CertificateFile != "":
			ch.add("oauth2.certificate_file", "set either oauth2.client_secret(_file) or oauth2.certificate_file, not both")
		case !hasSecret && o.CertificateFile == "":
			ch.add("oauth2.client_secret", "required for oauth2.provider microsoft: oauth2.client_secret, oauth2.client_secret_file or oauth2.certificate_file")
		}
		notUsed("service_account_file", o.ServiceAccountFile)
		notUsed("refresh_token_file", o.RefreshTokenFile)
	case ProviderGoogle:
		ch.required("oauth2.service_account_file", o.ServiceAccountFile)
		notUsed("tenant", o.Tenant)
		notUsed("client_id", o.ClientID)
		notUsed("client_secret", o.ClientSecret)
		notUsed("client_secret_file", o.ClientSecretFile)
		notUsed("certificate_file", o.CertificateFile)
		notUsed("refresh_token_file", o.RefreshTokenFile)
		// A delegated token is for one mailbox.
		if c.IMAP.Auth == "oauth2" && c.SMTP.Auth == "oauth2" && !strings.EqualFold(c.IMAP.Username, c.SMTP.Username) {
			ch.add("smtp.username", "with oauth2.provider google, IMAP and SMTP log in as one mailbox (the token is for %q), got %q", c.IMAP.Username, c.SMTP.Username)
		}
	case ProviderGeneric:
		ch.required("oauth2.token_url", o.TokenURL)
		hasSecret := o.ClientSecret != "" || o.ClientSecretFile != ""
		if o.RefreshTokenFile == "" {
			if strings.TrimSpace(o.ClientID) == "" {
				ch.add("oauth2.client_id", "required for oauth2.provider generic, unless oauth2.refresh_token_file is set")
			}
			if !hasSecret {
				ch.add("oauth2.client_secret", "required for oauth2.provider generic (or oauth2.client_secret_file), unless oauth2.refresh_token_file is set")
			}
		}
		notUsed("tenant", o.Tenant)
		notUsed("certificate_file", o.CertificateFile)
		notUsed("service_account_file", o.ServiceAccountFile)
	default:
		ch.oneOf("oauth2.provider", o.Provider, ProviderMicrosoft, ProviderGoogle, ProviderGeneric)
	}
	if o.ClientSecret != "" && o.ClientSecretFile != "" && !c.secretsReady {
		ch.add("oauth2.client_secret", "set either client_secret or client_secret_file, not both")
	}
	for _, f := range []struct{ key, path string }{
		{"oauth2.client_secret_file", o.ClientSecretFile}, {"oauth2.certificate_file", o.CertificateFile},
		{"oauth2.service_account_file", o.ServiceAccountFile}, {"oauth2.refresh_token_file", o.RefreshTokenFile},
	} {
		if f.path != "" {
			ch.readable(f.key, f.path)
		}
	}
	if o.TokenURL != "" {
		u, err := url.Parse(o.TokenURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			ch.add("oauth2.token_url", "want an https:// URL, got %q", o.TokenURL)
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			ch.add("oauth2.token_url", "want https:// (http:// only to a loopback address, for tests), got %q", o.TokenURL)
		case u.User != nil:
			ch.add("oauth2.token_url", "must not hold credentials; use oauth2.client_id and oauth2.client_secret")
		}
	}
	for i, s := range o.Scopes {
		if !scopeRE.MatchString(s) {
			ch.add(fmt.Sprintf("oauth2.scopes[%d]", i), "want a scope without spaces or quotes, got %q", s)
		}
	}
	ch.oneOf("oauth2.mechanism", o.Mechanism, "xoauth2", "oauthbearer")
}
