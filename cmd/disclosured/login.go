package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"disclosured/config"
	"disclosured/mailbox"
	"disclosured/oauth"
)

// tokenSource builds the OAuth 2.0 token source of cfg (SPEC §7a), or
// returns nil when neither IMAP nor SMTP logs in with a token. It does no
// network I/O. Its errors name the oauth2.* key at fault.
func tokenSource(cfg *config.Config) (*oauth.Source, error) {
	if cfg.IMAP.Auth != "oauth2" && cfg.SMTP.Auth != "oauth2" {
		return nil, nil
	}
	o := cfg.OAuth2
	// A Google token is delegated to one mailbox; config checks that IMAP
	// and SMTP agree when both use it.
	subject := cfg.IMAP.Username
	if cfg.IMAP.Auth != "oauth2" {
		subject = cfg.SMTP.Username
	}
	src, err := oauth.New(oauth.Options{Provider: o.Provider, Tenant: o.Tenant, ClientID: o.ClientID,
		ClientSecret: o.ClientSecret, Certificate: o.Certificate, ServiceAccount: o.ServiceAccount,
		Subject: subject, RefreshToken: o.RefreshToken, TokenURL: o.TokenURL, Scopes: o.Scopes})
	if err != nil {
		return nil, configError{err}
	}
	return src, nil
}

// tokens is the daemon's current token source. A reload swaps in one built
// from the new config, so fixed credentials (a new client secret, a
// re-uploaded certificate) take effect without a restart; the cached token
// goes with the old source.
type tokens struct{ cur atomic.Pointer[oauth.Source] }

// Token is a mailbox.TokenFunc.
func (t *tokens) Token(ctx context.Context, fresh bool) (string, error) {
	src := t.cur.Load()
	if src == nil {
		return "", errors.New("no oauth2 token source: imap.auth and smtp.auth are not oauth2")
	}
	return src.Token(ctx, fresh)
}

// reload builds the source of the reloaded cfg and swaps it in; on error
// the running source stays.
func (t *tokens) reload(cfg *config.Config, log *slog.Logger) {
	if t.cur.Load() == nil {
		return // the login methods themselves change only at restart
	}
	src, err := tokenSource(cfg)
	if err != nil || src == nil {
		log.Error("oauth2 reload failed, keeping the running token source", "err", err)
		return
	}
	t.cur.Store(src)
	log.Info("oauth2 token source reloaded", "provider", src.Provider(), "grant", src.Grant(), "token_url", src.Endpoint())
}

// applyLogin sets how IMAP and SMTP log in (imap.auth, smtp.auth): by
// password, by token from t, or (SMTP) not at all. A password is never
// handed to a connection that logs in with a token.
func applyLogin(cfg *config.Config, t *tokens, im *mailbox.IMAPOptions, sm *mailbox.SMTPOptions) {
	mech := mailbox.MechXOAUTH2
	if cfg.OAuth2.Mechanism == "oauthbearer" {
		mech = mailbox.MechOAuthBearer
	}
	if cfg.IMAP.Auth == "oauth2" {
		im.Password, im.Token, im.Mechanism = "", t.Token, mech
	}
	switch cfg.SMTP.Auth {
	case "oauth2":
		sm.Password, sm.Token, sm.Mechanism = "", t.Token, mech
	case "none":
		sm.Username, sm.Password = "", ""
	}
}

// describeLogin writes what check-config recognised: the mail provider,
// how each side logs in, where tokens come from, and the warnings.
func describeLogin(w io.Writer, cfg *config.Config, src *oauth.Source) {
	name, from := cfg.MailProvider()
	switch {
	case name == config.ProviderMicrosoft:
		fmt.Fprintf(w, "mail provider: Microsoft 365 (from %s)\n", from)
	case name == config.ProviderGoogle:
		fmt.Fprintf(w, "mail provider: Google Workspace (from %s)\n", from)
	case name != "":
		fmt.Fprintf(w, "mail provider: %s (from %s)\n", name, from)
	default:
		fmt.Fprintln(w, "mail provider: none recognised (self-hosted)")
	}
	login := func(auth string) string {
		if auth == "oauth2" {
			return "oauth2 (" + strings.ToUpper(cfg.OAuth2.Mechanism) + ")"
		}
		return auth
	}
	fmt.Fprintf(w, "login: imap %s as %s, smtp %s\n", login(cfg.IMAP.Auth), cfg.IMAP.Username, login(cfg.SMTP.Auth))
	if src != nil {
		fmt.Fprintf(w, "oauth2: provider %s, %s grant at %s, scopes %s\n", src.Provider(), src.Grant(),
			src.Endpoint(), strings.Join(cfg.OAuth2.Scopes, " "))
	}
	for _, warn := range cfg.Warnings() {
		fmt.Fprintln(w, "warning: "+warn)
	}
}
