package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health decides whether the daemon is doing its job: reading the mailbox
// and getting mail out. A nil func or a zero limit disables its check.
type Health struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// IMAPConnected reports whether the intake is logged in.
	IMAPConnected func() bool
	// LastConnected returns when the intake was last logged in; the zero
	// time means never, and the disconnection is then counted from Start.
	LastConnected func() time.Time
	// MaxDisconnected is how long the intake may be disconnected before
	// the daemon counts as unhealthy.
	MaxDisconnected time.Duration
	// OldestPending returns the time the oldest pending outbox mail was
	// queued, and false when the outbox is empty.
	OldestPending func() (time.Time, bool)
	// MaxOutboxAge is how long a mail may wait in the outbox before the
	// outbox counts as stuck.
	MaxOutboxAge time.Duration
	// Start is when the daemon started, the reference for a disconnection
	// that began before the first login.
	Start time.Time
	// Extra are further checks, each failing with its own reason (a
	// refused login, a scan the server keeps refusing).
	Extra []func() error
}

// Check returns nil when the daemon is healthy, and otherwise an error
// naming every failed check, one per line.
func (h *Health) Check() error {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	t := now()
	var errs []error
	if h.MaxDisconnected > 0 && h.IMAPConnected != nil && !h.IMAPConnected() {
		since := h.Start
		if h.LastConnected != nil {
			if last := h.LastConnected(); !last.IsZero() {
				since = last
			}
		}
		if !since.IsZero() {
			if d := t.Sub(since); d > h.MaxDisconnected {
				errs = append(errs, fmt.Errorf("imap disconnected for %s (limit %s)", d.Round(time.Second), h.MaxDisconnected))
			}
		}
	}
	if h.MaxOutboxAge > 0 && h.OldestPending != nil {
		if oldest, ok := h.OldestPending(); ok {
			if age := t.Sub(oldest); age > h.MaxOutboxAge {
				errs = append(errs, fmt.Errorf("outbox stuck: oldest pending mail queued %s ago (limit %s)", age.Round(time.Second), h.MaxOutboxAge))
			}
		}
	}
	for _, f := range h.Extra {
		if err := f(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// HealthCheck returns a health function for Handler. It fails when IMAP has
// been disconnected for longer than maxDisconnected (counted from
// lastConnected, or from the call to HealthCheck if it was never
// connected), or when the oldest pending outbox mail is older than
// maxOutboxAge ("outbox stuck"), or when one of extra fails. A nil func or
// a zero limit disables its check; now must not be nil.
func HealthCheck(now func() time.Time, imapConnected func() bool, lastConnected func() time.Time, maxDisconnected time.Duration,
	oldestPending func() (time.Time, bool), maxOutboxAge time.Duration, extra ...func() error) func() error {
	h := &Health{
		Now:             now,
		IMAPConnected:   imapConnected,
		LastConnected:   lastConnected,
		MaxDisconnected: maxDisconnected,
		OldestPending:   oldestPending,
		MaxOutboxAge:    maxOutboxAge,
		Start:           now(),
		Extra:           extra,
	}
	return h.Check
}

// Handler serves /metrics from g and /healthz from health: 200 "ok\n" when
// health returns nil (or is nil), else 503 with the error text. Metrics of
// collectors that fail are left out of the page rather than failing it.
func Handler(g prometheus.Gatherer, health func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if health != nil {
			if err := health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
		}
		fmt.Fprint(w, "ok\n")
	})
	return mux
}
