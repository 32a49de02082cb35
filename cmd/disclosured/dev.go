package main

import (
	"context"
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"disclosured/devmail"
)

const devPassword = "disclosured-dev"

// devUsers are the accounts of the demo mail system.
var devUsers = []string{"security@example.test", "reporter@example.org", "staff@example.test", "catchall@example.test"}

const devSampleReport = "From: Ada Reporter <reporter@example.org>\r\n" +
	"To: security@example.test\r\n" +
	"Subject: Reflected XSS in the login form\r\n" +
	"Message-ID: <sample-report-1@example.org>\r\n" +
	"Date: %s\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello,\r\n\r\n" +
	"The login form at https://app.example.test/login reflects the username\r\n" +
	"parameter without encoding. https://app.example.test/login?user=<script>alert(1)</script>\r\n" +
	"runs script in the victim's browser. The API at 192.0.2.10 (api.example.test)\r\n" +
	"is affected too.\r\n\r\n" +
	"Regards,\r\nAda\r\n"

// cmdDev runs the daemon against an in-process mail system: the demo that
// `make run` starts. Every mail exchanged is printed; it runs until Ctrl-C.
func cmdDev(ctx context.Context, args []string, e env) error {
	fs, _ := newFlags("dev", e)
	dir := fs.String("dir", "", "directory for the store and config (default: a new temporary directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "disclosured-dev-")
		if err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	var users []devmail.User
	for _, u := range devUsers {
		users = append(users, devmail.User{Address: u, Password: devPassword})
	}
	var mu sync.Mutex
	ms, err := devmail.Start(ctx, devmail.Options{Users: users, CatchAll: "catchall@example.test",
		OnMessage: func(from string, to []string, raw []byte) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(e.stdout, "\n=== mail from %s to %s ===\n%s\n=== end of mail ===\n",
				from, strings.Join(to, ", "), strings.ReplaceAll(string(raw), "\r\n", "\n"))
		}})
	if err != nil {
		return fmt.Errorf("dev: start mail servers: %w", err)
	}
	defer ms.Close()

	cfgPath := filepath.Join(*dir, "config.yaml")
	cfgText := devConfig(ms, "disclosured.db", "control.sock")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		return fmt.Errorf("dev: write config: %w", err)
	}
	cfg, err := loadConfig(cfgPath, env{})
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		self = "disclosured"
	}
	fmt.Fprintf(e.stdout, `disclosured dev: a demo mail system is running on loopback.
  IMAP  %s  (no TLS)
  SMTP  %s  (no TLS, AUTH PLAIN optional)
  users %s, password %q
  config %s

Send a report with any client, for example:
  swaks --server %s --from you@example.org --to security@example.test --header "Subject: SQL injection" --body "details"
Act as staff (staff.auth is none here):
  swaks --server %s --from staff@example.test --to security@example.test --header "Subject: [CS-%d-0001] #assess high %s" --body "We can reproduce it."
Inspect cases from another terminal while this runs:
  %s cases -c %s
  %s show CS-%d-0001 -c %s
Press Ctrl-C to stop.
`, ms.IMAPAddr(), ms.SMTPAddr(), strings.Join(devUsers, ", "), devPassword, cfgPath, ms.SMTPAddr(),
		ms.SMTPAddr(), time.Now().Year(), time.Now().AddDate(0, 1, 0).Format(time.DateOnly),
		self, cfgPath, self, time.Now().Year(), cfgPath)

	go func() {
		// The sample report goes through SMTP like any other mail.
		report := fmt.Sprintf(devSampleReport, time.Now().Format(time.RFC1123Z))
		err := smtp.SendMail(ms.SMTPAddr(), nil, "reporter@example.org", []string{"security@example.test"}, []byte(report))
		if err != nil {
			fmt.Fprintln(e.stderr, "dev: deliver sample report:", err)
		}
	}()
	return runDaemon(ctx, cfg, cfgPath, e)
}

// devConfig is the config of a daemon on the demo mail system; relative
// paths resolve against the config file's directory.
func devConfig(ms *devmail.System, storePath, socket string) string {
	return fmt.Sprintf(`# written by disclosured dev
organization:
  name: CloudSphere
  address: security@example.test
  case_prefix: CS
imap:
  address: %s
  tls: none
  username: security@example.test
  password: %s
  poll_interval: 5s
smtp:
  address: %s
  tls: none
  username: security@example.test
  password: %s
staff:
  addresses: [staff@example.test]
  notify: [staff@example.test]
  auth: none
store:
  path: %s
control:
  socket: %s
http:
  listen: ""
`, ms.IMAPAddr(), devPassword, ms.SMTPAddr(), devPassword, storePath, socket)
}
