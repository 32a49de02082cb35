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
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	reg := prometheus.NewRegistry()
	var m *metrics.Metrics
	obs := workflow.Observer{
		Ingested:   func(class string) { m.Ingested(class) },
		MailSent:   func(kind string) { m.MailSent(kind) },
		MailFailed: func(kind string) { m.MailFailed(kind) },
		Panicked:   func(component string) { m.Panic(component) },
	}
	engine, db, err := openEngine(cfg, log, obs)
	if err != nil {
		return err
	}
	defer db.Close()

	imapOpts, err := imapOptions(cfg, log)
	if err != nil {
		return err
	}
	smtpOpts, err := smtpOptions(cfg)
	if err != nil {
		return err
	}
	var lastConnected atomic.Int64
	var readyOnce sync.Once
	imapOpts.OnConnected = func() {
		lastConnected.Store(time.Now().UnixNano())
		// READY=1 after the first successful login (SPEC §7).
		readyOnce.Do(func() { sdNotify(log, daemon.SdNotifyReady) })
	}
	imapOpts.OnPanic = func(string) { m.Panic("imap") }
	intake := mailbox.NewIntake(imapOpts, engine.HandleBatch)
	sender := mailbox.NewSender(smtpOpts, log)
	defer sender.Close()

	m, err = metrics.New(reg, metricSources(db, intake))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

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
		return control.Serve(ctx, ln, controlHandler(cfg, engine, log, func() { m.Panic("control") }), log.With("component", "control"))
	})
	if cfg.HTTP.Listen != "" {
		hl, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		health := metrics.HealthCheck(time.Now, intake.Connected,
			func() time.Time { return time.Unix(0, lastConnected.Load()) }, maxIMAPDown,
			func() (time.Time, bool) { return oldestPending(db) }, maxOutboxAge)
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
	stopSweeper, err := startSweeper(ctx, cfg, engine, log)
	if err != nil {
		return configError{err}
	}
	defer stopSweeper()
	start("watchdog", func(ctx context.Context) error { watchdog(ctx, log); return nil })
	log.Info("disclosured started", "version", version, "store", cfg.Store.Path, "imap", cfg.IMAP.Address,
		"smtp", cfg.SMTP.Address, "control", cfg.Control.Socket, "http", cfg.HTTP.Listen)

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
			cfg = reload(cfgPath, cfg, e, engine, obs, log)
			sdNotify(log, daemon.SdNotifyReady)
		}
	}
	sdNotify(log, daemon.SdNotifyStopping)
	log.Info("disclosured stopping")
	return runErr
}

// reload builds the new config, engine options and templates first and
// swaps them in only when all of it is valid; a bad reload is logged and
// the running values stay. Settings that need new connections or files
// (IMAP, SMTP, store, control socket, HTTP) take effect at restart.
func reload(cfgPath string, old *config.Config, e env, engine *workflow.Engine, obs workflow.Observer, log *slog.Logger) *config.Config {
	cfg, err := loadConfig(cfgPath, e)
	if err != nil {
		log.Error("reload failed, keeping the running config", "err", err)
		return old
	}
	opts, err := engineOptions(cfg, log)
	if err != nil {
		log.Error("reload failed, keeping the running config", "err", err)
		return old
	}
	t, err := loadTemplates(cfg)
	if err != nil {
		log.Error("reload failed, keeping the running config", "err", err)
		return old
	}
	opts.Observer = obs
	engine.Reload(opts, t)
	if cfg.IMAP != old.IMAP || cfg.SMTP != old.SMTP || cfg.Store != old.Store || cfg.Control != old.Control || cfg.HTTP != old.HTTP {
		log.Warn("imap, smtp, store, control and http settings take effect at restart")
	}
	log.Info("config and templates reloaded")
	return cfg
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

// metricSources reads the gauges from the store at scrape time: running
// totals and indexes, never a scan of all cases.
func metricSources(db *store.DB, intake *mailbox.Intake) metrics.Sources {
	return metrics.Sources{
		CasesByState: func() (out map[string]int, err error) {
			err = db.View(func(tx *store.Tx) error {
				out, _ = tx.CaseStats()
				return nil
			})
			return out, err
		},
		Outbox: func() (pending, failed int, err error) {
			err = db.View(func(tx *store.Tx) error {
				pending, failed = tx.OutboxCounts()
				return nil
			})
			return pending, failed, err
		},
		Timers: func() (due, breached int, err error) {
			err = db.View(func(tx *store.Tx) error {
				_, due = tx.OpenTimers(time.Now())
				_, breached = tx.CaseStats()
				return nil
			})
			return due, breached, err
		},
		IMAPConnected: intake.Connected,
		LastPoll:      intake.LastPoll,
	}
}

// oldestPending is the creation time of the earliest-due pending mail.
func oldestPending(db *store.DB) (time.Time, bool) {
	var at time.Time
	_ = db.View(func(tx *store.Tx) error {
		due, _, err := tx.DueMail(time.Now().Add(100*365*24*time.Hour), 1)
		if err == nil && len(due) == 1 {
			at = due[0].CreatedAt
		}
		return err
	})
	return at, !at.IsZero()
}
