package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newMetrics(t *testing.T, src Sources) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, src)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestCounters(t *testing.T) {
	m, reg := newMetrics(t, Sources{})
	m.Ingested("human")
	m.Ingested("human")
	m.Ingested("bounce")
	m.MailSent("ack")
	m.MailFailed("ack")
	m.MailFailed("notify")
	m.Panic("intake")

	want := `
# HELP disclosured_messages_ingested_total Messages taken from the mailbox and committed to the store, by parser class.
# TYPE disclosured_messages_ingested_total counter
disclosured_messages_ingested_total{class="bounce"} 1
disclosured_messages_ingested_total{class="human"} 2
# HELP disclosured_mail_sent_total Outgoing mails accepted by the SMTP server, by kind.
# TYPE disclosured_mail_sent_total counter
disclosured_mail_sent_total{kind="ack"} 1
# HELP disclosured_mail_failed_total Outgoing mail send attempts that failed, temporarily or permanently, by kind.
# TYPE disclosured_mail_failed_total counter
disclosured_mail_failed_total{kind="ack"} 1
disclosured_mail_failed_total{kind="notify"} 1
# HELP disclosured_panics_recovered_total Panics recovered by a goroutine of the daemon, by component.
# TYPE disclosured_panics_recovered_total counter
disclosured_panics_recovered_total{component="intake"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"disclosured_messages_ingested_total", "disclosured_mail_sent_total",
		"disclosured_mail_failed_total", "disclosured_panics_recovered_total"); err != nil {
		t.Error(err)
	}
}

func TestPanicCount(t *testing.T) {
	m, _ := newMetrics(t, Sources{})
	if got := m.PanicCount(); got != 0 {
		t.Fatalf("PanicCount = %v at start", got)
	}
	var wg sync.WaitGroup
	for _, c := range []string{"intake", "outbox", "control", "intake"} {
		wg.Add(1)
		go func() { defer wg.Done(); m.Panic(c) }()
	}
	wg.Wait()
	if got := m.PanicCount(); got != 4 {
		t.Errorf("PanicCount = %v, want 4", got)
	}
	if got := testutil.ToFloat64(m.panics.WithLabelValues("intake")); got != 2 {
		t.Errorf("panics{intake} = %v, want 2", got)
	}
}

func TestSourceGauges(t *testing.T) {
	poll := time.Date(2026, 11, 23, 10, 0, 0, 500_000_000, time.UTC)
	_, reg := newMetrics(t, Sources{
		CasesByState:  func() (map[string]int, error) { return map[string]int{"new": 2, "triage": 1, "closed": 7}, nil },
		Outbox:        func() (int, int, error) { return 3, 1, nil },
		Timers:        func() (int, int, error) { return 4, 2, nil },
		IMAPConnected: func() bool { return true },
		LastPoll:      func() time.Time { return poll },
	})
	want := `
# HELP disclosured_cases Cases in the store, by state.
# TYPE disclosured_cases gauge
disclosured_cases{state="closed"} 7
disclosured_cases{state="new"} 2
disclosured_cases{state="triage"} 1
# HELP disclosured_outbox_pending Outgoing mails waiting to be sent.
# TYPE disclosured_outbox_pending gauge
disclosured_outbox_pending 3
# HELP disclosured_outbox_failed Outgoing mails that failed permanently.
# TYPE disclosured_outbox_failed gauge
disclosured_outbox_failed 1
# HELP disclosured_timers_due Deadlines that are due and not yet handled by the sweeper.
# TYPE disclosured_timers_due gauge
disclosured_timers_due 4
# HELP disclosured_timers_breached Deadlines that were breached.
# TYPE disclosured_timers_breached gauge
disclosured_timers_breached 2
# HELP disclosured_imap_connected 1 while the IMAP intake is logged in, else 0.
# TYPE disclosured_imap_connected gauge
disclosured_imap_connected 1
# HELP disclosured_imap_last_poll_timestamp_seconds Unix time the intake last checked the mailbox.
# TYPE disclosured_imap_last_poll_timestamp_seconds gauge
disclosured_imap_last_poll_timestamp_seconds 1.7954280005e+09
# HELP disclosured_scrape_errors_total Scrapes in which a source of gauges failed, by source; its gauges were left out.
# TYPE disclosured_scrape_errors_total counter
disclosured_scrape_errors_total{source="cases"} 0
disclosured_scrape_errors_total{source="imap"} 0
disclosured_scrape_errors_total{source="outbox"} 0
disclosured_scrape_errors_total{source="timers"} 0
`
	names := []string{
		"disclosured_cases", "disclosured_outbox_pending", "disclosured_outbox_failed",
		"disclosured_timers_due", "disclosured_timers_breached", "disclosured_imap_connected",
		"disclosured_imap_last_poll_timestamp_seconds", "disclosured_scrape_errors_total",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// The standard collectors are on the same registry.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
	if problems, err := testutil.GatherAndLint(reg, names...); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestSourceErrorsAndNil(t *testing.T) {
	boom := errors.New("store closed")
	connected := false
	_, reg := newMetrics(t, Sources{
		CasesByState:  func() (map[string]int, error) { return nil, boom },
		Outbox:        func() (int, int, error) { return 5, 5, boom },
		Timers:        nil, // skipped
		IMAPConnected: func() bool { return connected },
		LastPoll:      func() time.Time { return time.Time{} }, // never polled
	})
	want := `
# HELP disclosured_imap_connected 1 while the IMAP intake is logged in, else 0.
# TYPE disclosured_imap_connected gauge
disclosured_imap_connected 0
# HELP disclosured_scrape_errors_total Scrapes in which a source of gauges failed, by source; its gauges were left out.
# TYPE disclosured_scrape_errors_total counter
disclosured_scrape_errors_total{source="cases"} 2
disclosured_scrape_errors_total{source="imap"} 0
disclosured_scrape_errors_total{source="outbox"} 2
disclosured_scrape_errors_total{source="timers"} 0
`
	names := []string{
		"disclosured_cases", "disclosured_outbox_pending", "disclosured_outbox_failed",
		"disclosured_timers_due", "disclosured_timers_breached", "disclosured_imap_connected",
		"disclosured_imap_last_poll_timestamp_seconds", "disclosured_scrape_errors_total",
	}
	// Two scrapes: the error counter counts each.
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestNewRejectsDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Sources{}); err == nil {
		t.Error("second New on the same registry succeeded")
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHandler(t *testing.T) {
	m, reg := newMetrics(t, Sources{IMAPConnected: func() bool { return true }})
	m.MailSent("ack")
	var healthErr error
	h := Handler(reg, func() error { return healthErr })

	code, body := get(t, h, "/metrics")
	if code != 200 || !strings.Contains(body, `disclosured_mail_sent_total{kind="ack"} 1`) ||
		!strings.Contains(body, "disclosured_imap_connected 1") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}

	if code, body := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz healthy: %d %q", code, body)
	}
	healthErr = errors.New("outbox stuck: oldest pending mail queued 2h0m0s ago (limit 1h0m0s)")
	if code, body := get(t, h, "/healthz"); code != 503 || body != healthErr.Error()+"\n" {
		t.Errorf("/healthz unhealthy: %d %q", code, body)
	}
	if code, _ := get(t, h, "/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
	if code, body := get(t, Handler(reg, nil), "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz with nil health: %d %q", code, body)
	}
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestHealthCheck(t *testing.T) {
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	const maxDisc, maxAge = 10 * time.Minute, time.Hour

	tests := []struct {
		name      string
		elapsed   time.Duration // clock advance after HealthCheck is created
		connected bool
		lastConn  time.Time // zero: never connected
		oldest    time.Time // zero: outbox empty
		want      string
	}{
		{name: "connected, empty outbox", elapsed: 5 * time.Hour, connected: true},
		{name: "never connected, within limit", elapsed: 10 * time.Minute},
		{name: "never connected, past limit", elapsed: 10*time.Minute + time.Second,
			want: "imap disconnected for 10m1s (limit 10m0s)"},
		{name: "disconnected recently", elapsed: 3 * time.Hour, lastConn: start.Add(3*time.Hour - 9*time.Minute)},
		{name: "disconnected too long", elapsed: 3 * time.Hour, lastConn: start.Add(2 * time.Hour),
			want: "imap disconnected for 1h0m0s (limit 10m0s)"},
		{name: "connected ignores old last time", elapsed: 3 * time.Hour, connected: true, lastConn: start},
		{name: "outbox young", elapsed: 2 * time.Hour, connected: true, oldest: start.Add(time.Hour)},
		{name: "outbox stuck", elapsed: 2 * time.Hour, connected: true, oldest: start.Add(30 * time.Minute),
			want: "outbox stuck: oldest pending mail queued 1h30m0s ago (limit 1h0m0s)"},
		{name: "both", elapsed: 2 * time.Hour, lastConn: start, oldest: start,
			want: "imap disconnected for 2h0m0s (limit 10m0s)\noutbox stuck: oldest pending mail queued 2h0m0s ago (limit 1h0m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: start}
			check := HealthCheck(clk.now,
				func() bool { return tt.connected },
				func() time.Time { return tt.lastConn },
				maxDisc,
				func() (time.Time, bool) { return tt.oldest, !tt.oldest.IsZero() },
				maxAge)
			clk.advance(tt.elapsed)
			err := check()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("check() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHealthCheckDisabled(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	old := func() (time.Time, bool) { return clk.t.Add(-1000 * time.Hour), true }
	never := func() bool { return false }
	// Zero limits and nil funcs disable their checks.
	for name, check := range map[string]func() error{
		"zero limits": HealthCheck(clk.now, never, nil, 0, old, 0),
		"nil funcs":   HealthCheck(clk.now, nil, nil, time.Minute, nil, time.Minute),
	} {
		clk.advance(1000 * time.Hour)
		if err := check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHealthThroughHandler(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	connected := true
	var lastConn time.Time
	check := HealthCheck(clk.now, func() bool { return connected }, func() time.Time { return lastConn }, 10*time.Minute, nil, 0)
	h := Handler(prometheus.NewRegistry(), check)

	lastConn = clk.t
	connected = false
	clk.advance(10 * time.Minute)
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("at the limit: %d", code)
	}
	clk.advance(time.Second)
	if code, body := get(t, h, "/healthz"); code != 503 || body != "imap disconnected for 10m1s (limit 10m0s)\n" {
		t.Errorf("past the limit: %d %q", code, body)
	}
	connected = true
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("reconnected: %d", code)
	}
}

// failingCollector stands for a collector that cannot read its data, like
// the process collector's start time under systemd's ProcSubset=pid.
type failingCollector struct{ d *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.d }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.d, errors.New("open /proc/stat: permission denied"))
}

func TestHandlerServesDespiteFailingCollector(t *testing.T) {
	m, reg := newMetrics(t, Sources{})
	reg.MustRegister(failingCollector{prometheus.NewDesc("broken", "Broken.", nil, nil)})
	m.Ingested("human")
	code, body := get(t, Handler(reg, nil), "/metrics")
	if code != 200 || !strings.Contains(body, `disclosured_messages_ingested_total{class="human"} 1`) {
		t.Errorf("/metrics with a failing collector: %d\n%s", code, body)
	}
}

func TestPanickingSource(t *testing.T) {
	m, reg := newMetrics(t, Sources{
		Timers:        func() (int, int, error) { panic("nil store") },
		Outbox:        func() (int, int, error) { return 1, 0, nil },
		IMAPConnected: func() bool { panic("intake gone") },
	})
	want := `
# HELP disclosured_outbox_pending Outgoing mails waiting to be sent.
# TYPE disclosured_outbox_pending gauge
disclosured_outbox_pending 1
# HELP disclosured_scrape_errors_total Scrapes in which a source of gauges failed, by source; its gauges were left out.
# TYPE disclosured_scrape_errors_total counter
disclosured_scrape_errors_total{source="cases"} 0
disclosured_scrape_errors_total{source="imap"} 1
disclosured_scrape_errors_total{source="outbox"} 0
disclosured_scrape_errors_total{source="timers"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"disclosured_outbox_pending", "disclosured_timers_due", "disclosured_imap_connected",
		"disclosured_scrape_errors_total"); err != nil {
		t.Error(err)
	}
	if got := m.PanicCount(); got != 2 {
		t.Errorf("PanicCount = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.panics.WithLabelValues("metrics")); got != 2 {
		t.Errorf("panics{metrics} = %v, want 2", got)
	}
}

func TestLoginFailures(t *testing.T) {
	m, reg := newMetrics(t, Sources{})
	m.LoginFailed("smtp")
	m.LoginFailed("smtp")
	want := `
# HELP disclosured_login_failures_total Logins to the mail servers that were refused or could not get a token, by service (imap, smtp).
# TYPE disclosured_login_failures_total counter
disclosured_login_failures_total{service="imap"} 0
disclosured_login_failures_total{service="smtp"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "disclosured_login_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestHealthCheckExtra(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	var refused error
	check := HealthCheck(clk.now, nil, nil, 0, nil, 0,
		func() error { return refused },
		func() error { return nil })
	if err := check(); err != nil {
		t.Fatalf("check() = %v, want nil", err)
	}
	refused = errors.New("smtp login refused: 535 5.7.8 authentication failed")
	if err := check(); err == nil || err.Error() != refused.Error() {
		t.Errorf("check() = %v, want %v", err, refused)
	}
}
