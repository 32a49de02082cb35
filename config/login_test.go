package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// microsoft365 is good() moved to Exchange Online with OAuth2.
func microsoft365() map[string]any {
	tree := good()
	set(tree, "imap.address", "outlook.office365.com:993")
	set(tree, "imap.auth", "oauth2")
	set(tree, "imap.password", nil)
	set(tree, "smtp.address", "smtp.office365.com:587")
	set(tree, "smtp.auth", "oauth2")
	set(tree, "smtp.password", nil)
	set(tree, "oauth2.tenant", "contoso.onmicrosoft.com")
	set(tree, "oauth2.client_id", "11111111-2222-3333-4444-555555555555")
	set(tree, "oauth2.client_secret", "app-secret")
	return tree
}

func TestOAuth2Microsoft(t *testing.T) {
	c, err := Load(writeConfig(t, microsoft365()), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.OAuth2.Provider != ProviderMicrosoft || !slices.Equal(c.OAuth2.Scopes, []string{"https://outlook.office365.com/.default"}) ||
		c.OAuth2.Mechanism != "xoauth2" {
		t.Errorf("oauth2 = %+v", c.OAuth2)
	}
	if name, from := c.MailProvider(); name != ProviderMicrosoft || from != "imap.address outlook.office365.com" {
		t.Errorf("MailProvider = %q, %q", name, from)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %q", w)
	}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "app-secret") || !strings.Contains(out.String(), "client_secret: '********'") {
		t.Errorf("client_secret not masked:\n%s", out.String())
	}
}

func TestOAuth2Files(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "secret", "from-file\n")
	writeFile(t, dir, "rt", "refresh-1\r\n")
	writeFile(t, dir, "sa.json", `{"type":"service_account"}`)
	tree := microsoft365()
	set(tree, "oauth2.client_secret", nil)
	set(tree, "oauth2.client_secret_file", "secret")
	path := writeFile(t, dir, "config.yaml", "")
	writeConfigAt(t, path, tree)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.OAuth2.ClientSecret != "from-file" || c.OAuth2.ClientSecretFile != filepath.Join(dir, "secret") {
		t.Errorf("secret %q from %q", c.OAuth2.ClientSecret, c.OAuth2.ClientSecretFile)
	}

	tree = good()
	set(tree, "imap.address", "imap.gmail.com:993")
	set(tree, "imap.auth", "oauth2")
	set(tree, "imap.password", nil)
	set(tree, "smtp.address", "smtp.gmail.com:587")
	set(tree, "smtp.auth", "oauth2")
	set(tree, "smtp.password", nil)
	set(tree, "oauth2.service_account_file", "sa.json")
	writeConfigAt(t, path, tree)
	c, err = Load(path, nil)
	if err != nil {
		t.Fatalf("Load google: %v", err)
	}
	if c.OAuth2.Provider != ProviderGoogle || string(c.OAuth2.ServiceAccount) != `{"type":"service_account"}` ||
		!slices.Equal(c.OAuth2.Scopes, []string{"https://mail.google.com/"}) {
		t.Errorf("google: %+v", c.OAuth2)
	}

	tree = good()
	set(tree, "smtp.auth", "oauth2")
	set(tree, "smtp.password", nil)
	set(tree, "oauth2.provider", "generic")
	set(tree, "oauth2.token_url", "https://idp.example.org/token")
	set(tree, "oauth2.refresh_token_file", "rt")
	set(tree, "oauth2.mechanism", "oauthbearer")
	writeConfigAt(t, path, tree)
	c, err = Load(path, nil)
	if err != nil {
		t.Fatalf("Load generic: %v", err)
	}
	if c.OAuth2.RefreshToken != "refresh-1" || len(c.OAuth2.Scopes) != 0 || c.IMAP.Auth != "password" {
		t.Errorf("generic: %+v", c.OAuth2)
	}
	if name, from := c.MailProvider(); name != ProviderGeneric || from != "oauth2.provider" {
		t.Errorf("MailProvider = %q, %q", name, from)
	}
}

func writeConfigAt(t *testing.T, path string, tree map[string]any) {
	t.Helper()
	p := writeConfig(t, tree)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(path), filepath.Base(path), string(b))
}

func TestOAuth2Errors(t *testing.T) {
	tests := []struct {
		name string
		base func() map[string]any
		set  map[string]any
		want string
	}{
		{"exchange password", good, map[string]any{"imap.address": "outlook.office365.com:993"},
			"imap.auth: Exchange Online (outlook.office365.com) refuses password login to IMAP; want oauth2 (see the Microsoft 365 guide in README.md)"},
		{"imap auth", good, map[string]any{"imap.auth": "xoauth2"}, `imap.auth: want password or oauth2, got "xoauth2"`},
		{"smtp auth", good, map[string]any{"smtp.auth": "plain"}, `smtp.auth: want password, oauth2 or none, got "plain"`},
		{"smtp password no user", good, map[string]any{"smtp.auth": "password", "smtp.username": nil}, "smtp.username: required when smtp.auth is password"},
		{"oauth2 no user", microsoft365, map[string]any{"imap.username": nil}, "imap.username: required when imap.auth is oauth2"},
		{"no provider", good, map[string]any{"imap.auth": "oauth2"},
			"oauth2.provider: required when imap.auth or smtp.auth is oauth2 (microsoft, google or generic); none recognised from imap.address or smtp.address"},
		{"bad provider", microsoft365, map[string]any{"oauth2.provider": "azure"}, `oauth2.provider: want microsoft, google or generic, got "azure"`},
		{"no tenant", microsoft365, map[string]any{"oauth2.tenant": nil},
			"oauth2.tenant: required for oauth2.provider microsoft (the tenant ID or primary domain, e.g. contoso.onmicrosoft.com)"},
		{"common tenant", microsoft365, map[string]any{"oauth2.tenant": "common"},
			`oauth2.tenant: want the tenant ID or primary domain; "common" cannot issue app-only tokens`},
		{"tenant path", microsoft365, map[string]any{"oauth2.tenant": "a/../b"}, `oauth2.tenant: want a tenant ID (GUID) or domain, got "a/../b"`},
		{"no client id", microsoft365, map[string]any{"oauth2.client_id": nil}, "oauth2.client_id: required"},
		{"no secret", microsoft365, map[string]any{"oauth2.client_secret": nil},
			"oauth2.client_secret: required for oauth2.provider microsoft: oauth2.client_secret, oauth2.client_secret_file or oauth2.certificate_file"},
		{"secret and cert", microsoft365, map[string]any{"oauth2.certificate_file": "/nonexistent/c.pem"},
			"oauth2.certificate_file: set either oauth2.client_secret(_file) or oauth2.certificate_file, not both\noauth2.certificate_file: open /nonexistent/c.pem: no such file or directory"},
		{"secret file missing", microsoft365, map[string]any{"oauth2.client_secret": nil, "oauth2.client_secret_file": "s"},
			"oauth2.client_secret_file: open {dir}/s: no such file or directory"},
		{"microsoft with sa", microsoft365, map[string]any{"oauth2.service_account_file": "/etc/hostname"},
			"oauth2.service_account_file: not used by oauth2.provider microsoft"},
		{"google needs key", microsoft365, map[string]any{"oauth2.provider": "google", "oauth2.tenant": nil, "oauth2.client_id": nil, "oauth2.client_secret": nil},
			"oauth2.service_account_file: required"},
		{"google with secret", microsoft365, map[string]any{"oauth2.provider": "google", "oauth2.tenant": nil, "oauth2.client_id": nil,
			"oauth2.service_account_file": "/etc/hostname"}, "oauth2.client_secret: not used by oauth2.provider google"},
		{"google two users", microsoft365, map[string]any{"oauth2.provider": "google", "oauth2.tenant": nil, "oauth2.client_id": nil,
			"oauth2.client_secret": nil, "oauth2.service_account_file": "/etc/hostname", "smtp.username": "other@example.org"},
			`smtp.username: with oauth2.provider google, IMAP and SMTP log in as one mailbox (the token is for "security@example.org"), got "other@example.org"`},
		{"generic needs url", microsoft365, map[string]any{"oauth2.provider": "generic", "oauth2.tenant": nil}, "oauth2.token_url: required"},
		{"generic needs client", microsoft365, map[string]any{"oauth2.provider": "generic", "oauth2.tenant": nil,
			"oauth2.token_url": "https://idp.example.org/token", "oauth2.client_id": nil, "oauth2.client_secret": nil},
			"oauth2.client_id: required for oauth2.provider generic, unless oauth2.refresh_token_file is set\n" +
				"oauth2.client_secret: required for oauth2.provider generic (or oauth2.client_secret_file), unless oauth2.refresh_token_file is set"},
		{"token url http", microsoft365, map[string]any{"oauth2.token_url": "http://idp.example.org/token"},
			`oauth2.token_url: want https:// (http:// only to a loopback address, for tests), got "http://idp.example.org/token"`},
		{"token url relative", microsoft365, map[string]any{"oauth2.token_url": "/token"}, `oauth2.token_url: want an https:// URL, got "/token"`},
		{"scope with space", microsoft365, map[string]any{"oauth2.scopes": []any{"a b"}}, `oauth2.scopes[0]: want a scope without spaces or quotes, got "a b"`},
		{"mechanism", microsoft365, map[string]any{"oauth2.mechanism": "plain"}, `oauth2.mechanism: want xoauth2 or oauthbearer, got "plain"`},
		{"oauth2 typo", microsoft365, map[string]any{"oauth2.clientid": "x"}, "oauth2.clientid: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := tt.base()
			for k, v := range tt.set {
				set(tree, k, v)
			}
			path := writeConfig(t, tree)
			_, err := Load(path, nil)
			want := strings.ReplaceAll(tt.want, "{dir}", filepath.Dir(path))
			if err == nil || err.Error() != want {
				t.Errorf("error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestOAuth2Warnings(t *testing.T) {
	tests := []struct {
		name string
		base func() map[string]any
		set  map[string]any
		want string
	}{
		{"exchange smtp password", good, map[string]any{"smtp.address": "smtp.office365.com:587"}, "smtp.auth: Exchange Online turns SMTP AUTH with a password off"},
		{"gmail imap password", good, map[string]any{"imap.address": "imap.gmail.com:993"}, "imap.auth: Google accepts a password only as an app password"},
		{"gmail smtp password", good, map[string]any{"smtp.address": "smtp.gmail.com:465"}, "smtp.auth: Google accepts a password only as an app password"},
		{"provider mismatch", microsoft365, map[string]any{"oauth2.provider": "google", "oauth2.tenant": nil, "oauth2.client_id": nil,
			"oauth2.client_secret": nil, "oauth2.service_account_file": "/etc/hostname"},
			"oauth2.provider: google, but imap.address outlook.office365.com is microsoft's"},
		{"unused oauth2", good, map[string]any{"oauth2.provider": "microsoft"}, "oauth2: set, but neither imap.auth nor smtp.auth is oauth2"},
		{"unused password", microsoft365, map[string]any{"imap.password": "x"}, "imap.password: not used, imap.auth is oauth2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := tt.base()
			for k, v := range tt.set {
				set(tree, k, v)
			}
			c, err := Load(writeConfig(t, tree), nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			w := strings.Join(c.Warnings(), "\n")
			if !strings.Contains(w, tt.want) {
				t.Errorf("warnings:\n%s\nwant %q", w, tt.want)
			}
		})
	}
	c, err := Load(writeConfig(t, good()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("self-hosted config warns: %q", w)
	}
	if name, _ := c.MailProvider(); name != "" {
		t.Errorf("self-hosted recognised as %q", name)
	}
}
