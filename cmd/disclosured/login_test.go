package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"disclosured/config"
)

// loginConfig writes a config whose imap/smtp/oauth2 sections are given.
func loginConfig(t *testing.T, sections string) string {
	t.Helper()
	dir := t.TempDir()
	text := `organization:
  name: CloudSphere
  address: security@contoso.com
staff:
  addresses: [staff@contoso.com]
  notify: [staff@contoso.com]
  authserv_id: mx.contoso.com
store:
  path: d.db
control:
  socket: ctl.sock
http:
  listen: ""
` + sections
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const exchangeOnline = `imap:
  address: outlook.office365.com:993
  auth: oauth2
  username: security@contoso.com
smtp:
  address: smtp.office365.com:587
  auth: oauth2
  username: security@contoso.com
`

func TestCheckConfigOAuth2(t *testing.T) {
	cfg := loginConfig(t, exchangeOnline+`oauth2:
  tenant: contoso.onmicrosoft.com
  client_id: 11111111-2222-3333-4444-555555555555
  client_secret: app-Secr3t-value
`)
	out, stderr, code := cli(t, "check-config", "-c", cfg)
	if code != 0 {
		t.Fatalf("check-config exit %d:\n%s", code, stderr)
	}
	if strings.Contains(out+stderr, "app-Secr3t-value") || !strings.Contains(out, "client_secret: '********'") {
		t.Errorf("client secret not masked:\n%s", out)
	}
	for _, want := range []string{
		"mail provider: Microsoft 365 (from imap.address outlook.office365.com)",
		"login: imap oauth2 (XOAUTH2) as security@contoso.com, smtp oauth2 (XOAUTH2)",
		"oauth2: provider microsoft, client credentials grant at https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token, scopes https://outlook.office365.com/.default",
		"config OK",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestCheckConfigOAuth2Refusals(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, sections, want string
	}{
		{"password to exchange", `imap:
  address: outlook.office365.com:993
  username: security@contoso.com
  password: x
smtp:
  address: smtp.office365.com:587
  username: security@contoso.com
  password: x
`, "imap.auth: Exchange Online (outlook.office365.com) refuses password login to IMAP; want oauth2"},
		{"missing tenant", exchangeOnline + `oauth2:
  client_id: a
  client_secret: b
`, "oauth2.tenant: required for oauth2.provider microsoft"},
		// Content problems are found by package oauth, still by key.
		{"certificate not pem", exchangeOnline + `oauth2:
  tenant: contoso.onmicrosoft.com
  client_id: a
  certificate_file: ` + notPEM + `
`, "oauth2.certificate_file: want a PEM CERTIFICATE block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := cli(t, "check-config", "-c", loginConfig(t, tt.sections))
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestCheckConfigWarnsGooglePassword(t *testing.T) {
	cfg := loginConfig(t, `imap:
  address: imap.gmail.com:993
  username: security@contoso.com
  password: app-password
smtp:
  address: smtp.gmail.com:587
  username: security@contoso.com
  password: app-password
`)
	_, stderr, code := cli(t, "check-config", "-c", cfg)
	if code != 0 || !strings.Contains(stderr, "mail provider: Google Workspace (from imap.address imap.gmail.com)") ||
		!strings.Contains(stderr, "warning: imap.auth: Google accepts a password only as an app password") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// A connection that logs in with a token never gets the password, and
// smtp.auth none sends no AUTH at all.
func TestApplyLogin(t *testing.T) {
	cfg, err := loadConfigFile(t, loginConfig(t, `imap:
  address: imap.example.org:993
  auth: oauth2
  username: security@contoso.com
  password: leftover
smtp:
  address: smtp.example.org:587
  auth: none
  username: security@contoso.com
  password: leftover
oauth2:
  provider: generic
  token_url: https://idp.example.org/token
  client_id: a
  client_secret: b
  mechanism: oauthbearer
`))
	if err != nil {
		t.Fatal(err)
	}
	im, err := imapOptions(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := smtpOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tokenSource(cfg)
	if err != nil || src == nil {
		t.Fatalf("tokenSource: %v, %v", src, err)
	}
	var toks tokens
	toks.cur.Store(src)
	applyLogin(cfg, &toks, &im, &sm)
	if im.Password != "" || im.Token == nil || im.Mechanism != "oauthbearer" || im.Username != "security@contoso.com" {
		t.Errorf("imap options: password %q, token %v, mechanism %q, user %q", im.Password, im.Token != nil, im.Mechanism, im.Username)
	}
	if sm.Username != "" || sm.Password != "" || sm.Token != nil {
		t.Errorf("smtp.auth none still logs in: %+v", sm)
	}
}

func loadConfigFile(t *testing.T, path string) (*config.Config, error) {
	t.Helper()
	return config.Load(path, nil)
}
