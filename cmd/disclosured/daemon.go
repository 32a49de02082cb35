package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"disclosured/config"
	"disclosured/mailbox"
	"disclosured/workflow"
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

// runDaemon runs intake and outbox until ctx is cancelled, then shuts down
// in order: intake stops first, in-flight transactions finish, the store
// closes last.
func runDaemon(ctx context.Context, cfg *config.Config, cfgPath string, e env) error {
	log := newLogger(cfg, e.stderr)
	if cfg.Staff.Auth == "none" {
		log.Warn("staff.auth is none: staff commands are not authenticated; use this only in tests")
	}
	engine, db, err := openEngine(cfg, log)
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
	sender := mailbox.NewSender(smtpOpts, log)
	defer sender.Close()
	intake := mailbox.NewIntake(imapOpts, engine.HandleBatch)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					log.Error("goroutine panicked", "component", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					errs <- fmt.Errorf("%s panicked: %v", name, r)
				}
			}()
			if err := run(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	start("imap", intake.Run)
	start("outbox", func(ctx context.Context) error { return engine.RunOutbox(ctx, sender) })
	stopSweeper, err := startSweeper(ctx, cfg.SLA.Sweep, cfg.Location(), engine, log)
	if err != nil {
		cancel()
		wg.Wait()
		return configError{err}
	}
	log.Info("disclosured started", "version", version, "store", cfg.Store.Path, "imap", cfg.IMAP.Address, "smtp", cfg.SMTP.Address)

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
			reload(cfgPath, e, engine, log)
		}
	}
	stopSweeper()
	cancel()
	wg.Wait()
	log.Info("disclosured stopped")
	return runErr
}

// reload builds the new templates first and swaps them in only when they
// are valid; a bad reload is logged and the old values keep running.
func reload(cfgPath string, e env, engine *workflow.Engine, log *slog.Logger) {
	cfg, err := loadConfig(cfgPath, e)
	if err != nil {
		log.Error("reload failed, keeping the running config", "err", err)
		return
	}
	t, err := loadTemplates(cfg)
	if err != nil {
		log.Error("reload failed, keeping the running templates", "err", err)
		return
	}
	engine.SetTemplates(t)
	log.Info("templates reloaded")
}
