package main

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// loginWatch turns the mailbox's OnLogin reports into the operator's view
// of a refused login (SPEC §7a): /healthz fails at once with the server's
// answer, disclosured_login_failures_total{service} counts every refusal,
// and one error line per outage names the keys to check; the line that
// the login works again closes the outage.
type loginWatch struct {
	log     *slog.Logger
	count   func(service string) // nil until the metrics exist
	hints   map[string]string    // service -> the keys to check
	mu      sync.Mutex
	failing map[string]error // service -> the refusal, while it lasts
	scan    error            // the answer that ended two IMAP sessions in a row
	foreign time.Time        // when another client last took messages we were processing
	now     func() time.Time
}

// foreignWindow is how long /healthz fails after another client took
// messages the intake was processing.
const foreignWindow = time.Hour

// foreignChange is the intake's OnForeignChange (the intake logs it).
func (w *loginWatch) foreignChange(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.foreign = w.now()
}

func newLoginWatch(log *slog.Logger, imapToken, smtpToken bool) *loginWatch {
	hint := func(svc string, token bool) string {
		if token {
			return svc + ".username (the mailbox), " + svc + ".auth and oauth2.* (provider, tenant, client_id, " +
				"client secret or certificate, scopes), and the app's access to the mailbox"
		}
		return svc + ".username and " + svc + ".password or " + svc + ".password_file; " +
			"a provider without password login needs " + svc + ".auth: oauth2"
	}
	return &loginWatch{log: log, failing: map[string]error{}, now: time.Now,
		hints: map[string]string{"imap": hint("imap", imapToken), "smtp": hint("smtp", smtpToken)}}
}

// report returns the OnLogin callback of service.
func (w *loginWatch) report(service string) func(error) {
	return func(err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		_, wasFailing := w.failing[service]
		if err == nil {
			if wasFailing {
				delete(w.failing, service)
				w.log.Info(service+" login works again", "component", service)
			}
			return
		}
		w.failing[service] = err
		if w.count != nil {
			w.count(service)
		}
		if !wasFailing {
			w.log.Error(service+" login refused; no mail is lost, it waits until the login works. Check "+w.hints[service],
				"component", service, "err", err)
		}
	}
}

// scanFailed is the intake's OnScanFailure: the server refused the scan
// the same way twice (the intake logs it), or nil once a scan works.
func (w *loginWatch) scanFailed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scan = err
}

// check fails while any login is refused or the scans keep failing, with
// the server's answer.
func (w *loginWatch) check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	services := make([]string, 0, len(w.failing))
	for s := range w.failing {
		services = append(services, s)
	}
	sort.Strings(services)
	var errs []error
	for _, s := range services {
		// A *mailbox.LoginError reads "<service> login refused: <answer>".
		errs = append(errs, w.failing[s])
	}
	if !w.foreign.IsZero() && w.now().Sub(w.foreign) < foreignWindow {
		errs = append(errs, fmt.Errorf("another client took messages this daemon was processing at %s: a second daemon on the mailbox? (disclosured_imap_foreign_changes_total)",
			w.foreign.UTC().Format(time.RFC3339)))
	}
	if w.scan != nil {
		errs = append(errs, fmt.Errorf("imap scan keeps failing: %w", w.scan))
	}
	return errors.Join(errs...)
}

// setCounter sets the metric once it exists; logins before that are not
// counted (there are none: the intake and outbox start later).
func (w *loginWatch) setCounter(count func(service string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.count = count
}
