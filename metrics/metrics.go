// Package metrics exposes the daemon's Prometheus metrics and its health
// check over HTTP (/metrics and /healthz on http.listen).
//
// Two kinds of metrics:
//
//   - Counters the daemon increments as things happen (messages ingested,
//     mail sent or failed, panics recovered), through the methods of
//     [Metrics].
//   - Gauges read from the store and the IMAP intake at scrape time by a
//     custom collector calling [Sources], so they are never stale and the
//     daemon keeps no second copy of its state.
//
// Invariants: everything is registered on the registry passed to [New],
// never on the default registry, so tests and in-process daemons each get a
// fresh one. A Source that fails does not fail the scrape: its gauges are
// left out of that scrape and disclosured_scrape_errors_total{source} is
// incremented, so a broken store shows up as missing series and a rising
// error counter instead of an HTTP 500 that hides every other metric.
package metrics

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// namespace prefixes every metric of the daemon.
const namespace = "disclosured"

// Sources are read at every scrape. Each may be nil, which leaves its
// gauges out. They are called from the HTTP server's goroutines, possibly
// concurrently, so they must be safe for concurrent use, and they should be
// quick (a read transaction, an atomic load).
type Sources struct {
	// CasesByState returns the number of cases per state.
	CasesByState func() (map[string]int, error)
	// Outbox returns the number of outgoing mails waiting to be sent and
	// the number that failed permanently.
	Outbox func() (pending, failed int, err error)
	// Timers returns the number of deadlines that are due and the number
	// that were breached.
	Timers func() (due, breached int, err error)
	// IMAPConnected reports whether the IMAP intake is logged in.
	IMAPConnected func() bool
	// LastPoll returns when the intake last checked the mailbox; the zero
	// time (never) exports nothing.
	LastPoll func() time.Time
	// StoreWriteErrors returns how many store commits failed (a full
	// disk, an I/O error) since the daemon started.
	StoreWriteErrors func() uint64
}

// Metrics holds the counters the daemon increments. Its methods are safe
// for concurrent use.
type Metrics struct {
	ingested   *prometheus.CounterVec
	mailSent   *prometheus.CounterVec
	mailFailed *prometheus.CounterVec
	panics     *prometheus.CounterVec
	panicTotal atomic.Uint64
	logins     *prometheus.CounterVec
	foreign    prometheus.Counter
}

// New creates the daemon's metrics and registers them, the scrape-time
// collector reading src, and the standard process and Go collectors on reg.
// It fails if any of them is already registered on reg.
func New(reg prometheus.Registerer, src Sources) (*Metrics, error) {
	m := &Metrics{
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "messages_ingested_total",
			Help:      "Messages taken from the mailbox and committed to the store, by parser class.",
		}, []string{"class"}),
		mailSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "mail_sent_total",
			Help:      "Outgoing mails accepted by the SMTP server, by kind.",
		}, []string{"kind"}),
		mailFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "mail_failed_total",
			Help:      "Outgoing mail send attempts that failed, temporarily or permanently, by kind.",
		}, []string{"kind"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "panics_recovered_total",
			Help:      "Panics recovered by a goroutine of the daemon, by component.",
		}, []string{"component"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "login_failures_total",
			Help:      "Logins to the mail servers that were refused or could not get a token, by service (imap, smtp).",
		}, []string{"service"}),
	}
	m.foreign = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "imap_foreign_changes_total",
		Help:      "Messages another client took from the mailbox between the intake's fetch and its marking (a second daemon?).",
	})
	for _, s := range []string{"imap", "smtp"} {
		m.logins.WithLabelValues(s)
	}
	for _, c := range []prometheus.Collector{
		m.ingested, m.mailSent, m.mailFailed, m.panics, m.logins, m.foreign,
		newSourceCollector(src, m.Panic),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// Ingested counts one message committed to the store, by its parser class
// (human, bounce, autoreply, list).
func (m *Metrics) Ingested(class string) { m.ingested.WithLabelValues(class).Inc() }

// MailSent counts one outgoing mail of the given kind accepted by SMTP.
func (m *Metrics) MailSent(kind string) { m.mailSent.WithLabelValues(kind).Inc() }

// MailFailed counts one failed send attempt of an outgoing mail of the
// given kind.
func (m *Metrics) MailFailed(kind string) { m.mailFailed.WithLabelValues(kind).Inc() }

// LoginFailed counts one refused login to service ("imap" or "smtp").
func (m *Metrics) LoginFailed(service string) { m.logins.WithLabelValues(service).Inc() }

// ForeignChanges counts n messages another client took from the mailbox
// while the intake was processing them.
func (m *Metrics) ForeignChanges(n int) { m.foreign.Add(float64(n)) }

// Panic counts one panic recovered in component (intake, outbox, sweep,
// control, ...). The caller logs it.
func (m *Metrics) Panic(component string) {
	m.panics.WithLabelValues(component).Inc()
	m.panicTotal.Add(1)
}

// PanicCount returns the number of panics recovered so far over all
// components, for tests that must fail if it moved.
func (m *Metrics) PanicCount() float64 { return float64(m.panicTotal.Load()) }

// sourceCollector turns Sources into gauges at scrape time.
type sourceCollector struct {
	src          Sources
	onPanic      func(component string)
	cases        *prometheus.Desc
	outboxPend   *prometheus.Desc
	outboxFailed *prometheus.Desc
	timersDue    *prometheus.Desc
	timersBreach *prometheus.Desc
	imapConn     *prometheus.Desc
	lastPoll     *prometheus.Desc
	storeErrors  *prometheus.Desc
	errors       *prometheus.CounterVec
}

func newSourceCollector(src Sources, onPanic func(string)) *sourceCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	c := &sourceCollector{
		src:          src,
		onPanic:      onPanic,
		cases:        desc("cases", "Cases in the store, by state.", "state"),
		outboxPend:   desc("outbox_pending", "Outgoing mails waiting to be sent."),
		outboxFailed: desc("outbox_failed", "Outgoing mails that failed permanently."),
		timersDue:    desc("timers_due", "Deadlines that are due and not yet handled by the sweeper."),
		timersBreach: desc("timers_breached", "Deadlines that were breached."),
		imapConn:     desc("imap_connected", "1 while the IMAP intake is logged in, else 0."),
		lastPoll:     desc("imap_last_poll_timestamp_seconds", "Unix time the intake last checked the mailbox."),
		storeErrors:  desc("store_write_errors_total", "Store commits that failed (disk full, I/O error); nothing of them was kept."),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "scrape_errors_total",
			Help:      "Scrapes in which a source of gauges failed, by source; its gauges were left out.",
		}, []string{"source"}),
	}
	// Export the error counters from the first scrape on, so a rate() over
	// them works before the first error.
	for _, s := range []string{"cases", "outbox", "timers", "imap"} {
		c.errors.WithLabelValues(s)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.cases, c.outboxPend, c.outboxFailed, c.timersDue, c.timersBreach, c.imapConn, c.lastPoll, c.storeErrors,
	} {
		ch <- d
	}
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector. The registry runs it on its own
// goroutine, where a panic would end the process, so a panicking Source is
// recovered, counted as a panic of component "metrics" and as a scrape
// error of its source, and its gauges are left out.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if f := c.src.CasesByState; f != nil {
		c.read("cases", func() error {
			byState, err := f()
			if err != nil {
				return err
			}
			for state, n := range byState {
				gauge(c.cases, float64(n), state)
			}
			return nil
		})
	}
	if f := c.src.Outbox; f != nil {
		c.read("outbox", func() error {
			pending, failed, err := f()
			if err != nil {
				return err
			}
			gauge(c.outboxPend, float64(pending))
			gauge(c.outboxFailed, float64(failed))
			return nil
		})
	}
	if f := c.src.Timers; f != nil {
		c.read("timers", func() error {
			due, breached, err := f()
			if err != nil {
				return err
			}
			gauge(c.timersDue, float64(due))
			gauge(c.timersBreach, float64(breached))
			return nil
		})
	}
	if f := c.src.IMAPConnected; f != nil {
		c.read("imap", func() error {
			v := 0.0
			if f() {
				v = 1
			}
			gauge(c.imapConn, v)
			return nil
		})
	}
	if f := c.src.LastPoll; f != nil {
		c.read("imap", func() error {
			if t := f(); !t.IsZero() {
				gauge(c.lastPoll, float64(t.UnixNano())/1e9)
			}
			return nil
		})
	}
	if f := c.src.StoreWriteErrors; f != nil {
		c.read("store", func() error {
			ch <- prometheus.MustNewConstMetric(c.storeErrors, prometheus.CounterValue, float64(f()))
			return nil
		})
	}
	// Last, so this scrape's errors are already counted.
	c.errors.Collect(ch)
}

// read runs one source, counting an error or a panic as a scrape error of
// source. Sources return before sending, so a failed one sends nothing.
func (c *sourceCollector) read(source string, f func() error) {
	defer func() {
		if r := recover(); r != nil {
			c.onPanic("metrics")
			c.errors.WithLabelValues(source).Inc()
		}
	}()
	if err := f(); err != nil {
		c.errors.WithLabelValues(source).Inc()
	}
}
