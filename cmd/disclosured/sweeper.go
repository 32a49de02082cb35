package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"disclosured/config"
	"disclosured/workflow"
)

// sweeper is the daemon's timer loop: the sweep on the sla.sweep cron spec
// in the organisation's time zone, once at start so downtime is caught up,
// and with store.retention set the hourly erasure of expired closed cases.
// Each run recovers panics and skips if the previous one is still going. A
// reload that changes the spec, the zone or the retention re-arms it.
type sweeper struct {
	ctx    context.Context
	engine *workflow.Engine
	log    *slog.Logger

	mu   sync.Mutex
	cron *cron.Cron
	key  sweepKey

	// After a failed sweep (a store that cannot be written) the next runs
	// are skipped for a doubling pause, up to maxSweepPause, instead of
	// failing every minute. The catch-up run at start is a job of its own,
	// so the state has its own lock.
	failMu   sync.Mutex
	failures int
	resumeAt time.Time
}

// maxSweepPause bounds the pause after failed sweeps.
const maxSweepPause = 15 * time.Minute

// sweepKey is what the cron schedule is built from.
type sweepKey struct {
	spec      string
	zone      string
	retention time.Duration
}

func sweepKeyOf(cfg *config.Config) sweepKey {
	return sweepKey{spec: cfg.SLA.Sweep, zone: cfg.Location().String(), retention: cfg.Store.Retention}
}

// startSweeper starts the sweeper with cfg's schedule and runs the
// catch-up sweep.
func startSweeper(ctx context.Context, cfg *config.Config, engine *workflow.Engine, log *slog.Logger) (*sweeper, error) {
	s := &sweeper{ctx: ctx, engine: engine, log: log.With("component", "sweep")}
	c, err := s.build(cfg)
	if err != nil {
		return nil, err
	}
	s.cron, s.key = c, sweepKeyOf(cfg)
	c.Start()
	// The catch-up sweep at start goes through the cron chain too.
	c.Schedule(&onceNow{}, cron.FuncJob(s.sweep))
	return s, nil
}

func (s *sweeper) sweep() {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if time.Now().Before(s.resumeAt) {
		return
	}
	actions, err := s.engine.Sweep(s.ctx, time.Now(), false)
	if err != nil && s.ctx.Err() == nil {
		s.failures++
		pause := min(time.Minute<<min(s.failures-1, 10), maxSweepPause)
		s.resumeAt = time.Now().Add(pause)
		s.log.Error("sweep failed", "err", err, "failures", s.failures, "next_try_after", pause)
		return
	}
	s.failures, s.resumeAt = 0, time.Time{}
	s.log.Debug("sweep ran", "actions", len(actions))
}

// build makes the cron for cfg without starting it.
func (s *sweeper) build(cfg *config.Config) (*cron.Cron, error) {
	l := cronLogger{s.log}
	c := cron.New(cron.WithLocation(cfg.Location()), cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l)))
	if _, err := c.AddFunc(cfg.SLA.Sweep, s.sweep); err != nil {
		return nil, fmt.Errorf("sla.sweep: %w", err)
	}
	if age := cfg.Store.Retention; age > 0 {
		retain := func() {
			if _, err := s.engine.Retain(age, time.Now()); err != nil && s.ctx.Err() == nil {
				s.log.Error("retention failed", "component", "retention", "err", err)
			}
		}
		if _, err := c.AddFunc("@hourly", retain); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// rearm replaces the schedule when cfg changes it. The new cron is built
// first, so a bad spec keeps the old one running.
func (s *sweeper) rearm(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sweepKeyOf(cfg) == s.key {
		return nil
	}
	c, err := s.build(cfg)
	if err != nil {
		return err
	}
	<-s.cron.Stop().Done()
	s.cron, s.key = c, sweepKeyOf(cfg)
	c.Start()
	s.log.Info("sweep re-armed", "sweep", cfg.SLA.Sweep, "timezone", s.key.zone, "retention", cfg.Store.Retention)
	return nil
}

// stop stops the schedule and waits for a running sweep.
func (s *sweeper) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	<-s.cron.Stop().Done()
}

// onceNow is a cron schedule that fires once, right away.
type onceNow struct{ fired atomic.Bool }

func (o *onceNow) Next(t time.Time) time.Time {
	if o.fired.Swap(true) {
		return time.Time{}
	}
	return t
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug(msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, append(kv, "err", err)...)
}
