package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"

	"disclosured/config"
	"disclosured/control"
	"disclosured/mailbox"
	"disclosured/metrics"
	"disclosured/store"
	"disclosured/workflow"
)

// Health limits: /healthz fails when IMAP has been down longer than this,
// or when the oldest pending mail is older than that.
const (
	maxIMAPDown  = 10 * time.Minute
	maxOutboxAge = time.Hour
)

func cmdRun(ctx context.Context, args []string, e env) error {
	fs, cfgPath := newFlags("run", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"run takes no arguments"}
	}
	cfg, err := loadConfig(*cfgPath, e)
	if err != nil {
		return err
	}
	return runDaemon(ctx, cfg, *cfgPath, e)
}

// runDaemon runs intake, outbox, sweeper, control socket and HTTP until ctx
// is cancelled, then shuts down in order: intake and the control socket
// stop first, in-flight transactions finish, the store closes last. Each
// teardown is registered as soon as its resource exists, so a failed start
// unwinds cleanly.
func runDaemon(ctx context.Context, cfg *config.Config, cfgPath string, e env) (err error) {
	log := newLogger(cfg, e.stderr)
	tuneRuntime(e.environ)
	if cfg.Staff.Auth == "none" {
		log.Warn("staff.auth is none: staff commands are not authenticated; use this only in tests")
	}
	if cfg.Staff.Auth == "microsoft365" && cfg.Staff.TenantID == "" {
		log.Warn("staff.auth is microsoft365 without staff.tenant_id: organisation fields from another tenant are not refused; set staff.tenant_id")
	}
	reg := prometheus.NewRegistry()
	var m *metrics.Metrics
	obs := workflow.Observer{
		Ingested:   func(class string) { m.Ingested(class) },
		MailSent:   func(kind string) { m.MailSent(kind) },
		MailFailed: func(kind string) { m.MailFailed(kind) },
		Panicked:   func(component string) { m.Panic(component) },
	}
	rt, err := buildRuntime(cfg, log, obs)
	if err != nil {
		return err
	}
	db, err := openStore(cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	engine := workflow.New(db, rt.opts, rt.tmpl)
	rl := newReloader(cfgPath, e, rt, log, obs)
	rl.onReload(func(_, cur *runtimeConfig) error { engine.Reload(cur.opts, cur.tmpl); return nil })

	imapOpts, err := imapOptions(cfg, log)
	if err != nil {
		return err
	}
	smtpOpts, err := smtpOptions(cfg)
	if err != nil {
		return err
	}
	src, err := tokenSource(cfg)
	if err != nil {
		return err
	}
	var toks tokens
	toks.cur.Store(src)
	applyLogin(cfg, &toks, &imapOpts, &smtpOpts)
	for _, w := range cfg.Warnings() {
		log.Warn("config: " + w)
	}
	var lastConnected atomic.Int64
	var readyOnce sync.Once
	imapOpts.OnConnected = func() {
		lastConnected.Store(time.Now().UnixNano())
		// READY=1 after the first successful login (SPEC §7).
		readyOnce.Do(func() { sdNotify(log, daemon.SdNotifyReady) })
	}
	imapOpts.OnPanic = func(string) { m.Panic("imap") }
	logins := newLoginWatch(log, imapOpts.Token != nil, smtpOpts.Token != nil)
	imapOpts.OnLogin, smtpOpts.OnLogin = logins.report("imap"), logins.report("smtp")
	imapOpts.OnScanFailure = logins.scanFailed
	imapOpts.OnForeignChange = func(n int) {
		logins.foreignChange(n)
		m.ForeignChanges(n)
	}
	intake := mailbox.NewIntake(imapOpts, engine.HandleBatch)
	rl.onReload(func(_, cur *runtimeConfig) error {
		intake.SetMaxMessageBytes(cur.cfg.Limits.MaxMessageBytes)
		return nil
	})
	sender := mailbox.NewSender(smtpOpts, log)
	defer sender.Close()

	m, err = metrics.New(reg, metricSources(db, intake))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	logins.setCounter(m.LoginFailed)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					m.Panic(name)
					log.Error("goroutine panicked", "component", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					errs <- fmt.Errorf("%s panicked: %v", name, r)
				}
			}()
			if err := run(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	// Everything started below is stopped by cancel; wait for it before
	// the deferred store close.
	defer wg.Wait()
	defer cancel()

	ln, err := control.Listen(cfg.Control.Socket)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	start("control", func(ctx context.Context) error {
		return control.Serve(ctx, ln, controlHandler(rl.config, engine, log, func() { m.Panic("control") }), log.With("component", "control"))
	})
	if cfg.HTTP.Listen != "" {
		hl, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		checks := metrics.HealthCheck(time.Now, intake.Connected,
			func() time.Time {
				// Zero (never connected) counts from the start, not from 1970.
				if n := lastConnected.Load(); n != 0 {
					return time.Unix(0, n)
				}
				return time.Time{}
			}, maxIMAPDown,
			func() (time.Time, bool) { return workflow.OldestPending(db) }, maxOutboxAge, logins.check, engine.MailProblem)
		// A failed store commit (disk full) is unhealthy from the first
		// failure until a commit succeeds again.
		health := func() error { return errors.Join(db.WriteHealth(), checks()) }
		srv, hl := metrics.NewServer(metrics.Handler(reg, health), hl, metrics.ServerOptions{})
		start("http", func(ctx context.Context) error {
			go func() {
				<-ctx.Done()
				sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
				defer c()
				srv.Shutdown(sctx)
			}()
			if err := srv.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	start("imap", intake.Run)
	start("outbox", func(ctx context.Context) error { return engine.RunOutbox(ctx, sender) })
	sw, err := startSweeper(ctx, cfg, engine, log)
	if err != nil {
		return configError{err}
	}
	defer sw.stop()
	rl.onReload(func(_, cur *runtimeConfig) error { return sw.rearm(cur.cfg) })
	start("watchdog", func(ctx context.Context) error { watchdog(ctx, log); return nil })
	log.Info("disclosured started", "version", version, "store", cfg.Store.Path, "imap", cfg.IMAP.Address,
		"smtp", cfg.SMTP.Address, "control", cfg.Control.Socket, "http", cfg.HTTP.Listen,
		"imap_auth", cfg.IMAP.Auth, "smtp_auth", cfg.SMTP.Auth)
	if src != nil {
		log.Info("oauth2 token source", "provider", src.Provider(), "grant", src.Grant(), "token_url", src.Endpoint())
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errs:
			runErr = err
			break loop
		case <-e.reload:
			sdNotify(log, daemon.SdNotifyReloading)
			if rl.reload() == nil { // logged; a bad file changes nothing
				toks.reload(rl.config(), log)
			}
			// A login the reload may have fixed is tried again at once.
			engine.ResumeOutbox()
			intake.Kick()
			sdNotify(log, daemon.SdNotifyReady)
		}
	}
	sdNotify(log, daemon.SdNotifyStopping)
	log.Info("disclosured stopping")
	return runErr
}

func sdNotify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// watchdog pings systemd at half the unit's WatchdogSec, when one is set.
func watchdog(ctx context.Context, log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sdNotify(log, daemon.SdNotifyWatchdog)
		}
	}
}

// metricSources reads the gauges from the workflow's read model.
func metricSources(db *store.DB, intake *mailbox.Intake) metrics.Sources {
	return metrics.Sources{
		CasesByState:     func() (map[string]int, error) { return workflow.CasesByState(db) },
		Outbox:           func() (int, int, error) { return workflow.OutboxCounts(db) },
		Timers:           func() (int, int, error) { return workflow.TimerCounts(db, time.Now()) },
		IMAPConnected:    intake.Connected,
		LastPoll:         intake.LastPoll,
		StoreWriteErrors: db.WriteErrors,
	}
}
