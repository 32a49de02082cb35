package main

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	"disclosured/config"
	"disclosured/templates"
	"disclosured/workflow"
)

// runtimeConfig is everything a reload replaces, built and validated as a
// whole before it is swapped in (STYLE 2; alertmanager's reloader).
type runtimeConfig struct {
	cfg  *config.Config
	opts workflow.Options
	tmpl *templates.Set
}

// buildRuntime loads nothing: it turns a loaded config into the values the
// daemon runs on, failing before anything is swapped.
func buildRuntime(cfg *config.Config, log *slog.Logger, obs workflow.Observer) (*runtimeConfig, error) {
	opts, err := engineOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	opts.Observer = obs
	t, err := loadTemplates(cfg)
	if err != nil {
		return nil, err
	}
	return &runtimeConfig{cfg: cfg, opts: opts, tmpl: t}, nil
}

// reloader owns the daemon's runtime config. Readers (the control
// handler, the sweeper, the intake, the engine) get the current one from
// it; reload builds a new one from the file and, only when all of it is
// valid, swaps it in and tells each part that applies a change itself.
type reloader struct {
	path string
	env  env
	log  *slog.Logger
	obs  workflow.Observer
	cur  atomic.Pointer[runtimeConfig]
	// appliers run in order after a swap, with the old and the new value.
	appliers []func(old, cur *runtimeConfig) error
}

func newReloader(path string, e env, rt *runtimeConfig, log *slog.Logger, obs workflow.Observer) *reloader {
	r := &reloader{path: path, env: e, log: log, obs: obs}
	r.cur.Store(rt)
	return r
}

// current is the runtime config in force.
func (r *reloader) current() *runtimeConfig { return r.cur.Load() }

// config is the config in force.
func (r *reloader) config() *config.Config { return r.cur.Load().cfg }

// onReload registers f to apply a new runtime config.
func (r *reloader) onReload(f func(old, cur *runtimeConfig) error) {
	r.appliers = append(r.appliers, f)
}

// reload reads the config file again. A bad file, bad templates or a bad
// value changes nothing; the error is logged and returned.
func (r *reloader) reload() error {
	cfg, err := loadConfig(r.path, r.env)
	if err == nil {
		var rt *runtimeConfig
		if rt, err = buildRuntime(cfg, r.log, r.obs); err == nil {
			return r.swap(rt)
		}
	}
	r.log.Error("reload failed, keeping the running config", "err", err)
	return err
}

func (r *reloader) swap(rt *runtimeConfig) error {
	old := r.cur.Swap(rt)
	var errs []string
	for _, apply := range r.appliers {
		if err := apply(old, rt); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if keys := restartKeys(old.cfg, rt.cfg); len(keys) > 0 {
		r.log.Warn("these settings take effect at restart", "keys", strings.Join(keys, ","))
	}
	if len(errs) > 0 {
		err := fmt.Errorf("reload: %s", strings.Join(errs, "; "))
		r.log.Error("reload applied in part", "err", err)
		return err
	}
	r.log.Info("config and templates reloaded")
	return nil
}

// reloadable are the config keys, or key prefixes ending in '.', that a
// reload applies; README "Reload" lists the same. Every other key needs a
// restart: it configures a connection, a listener or a file opened once.
var reloadable = []string{"organization.", "staff.", "sla.", "reward.", "templates.",
	"limits.max_message_bytes", "limits.acks_per_sender_per_day", "limits.max_mime_depth",
	"limits.max_parts", "limits.max_header_bytes", "store.retention"}

func isReloadable(key string) bool {
	return slices.ContainsFunc(reloadable, func(p string) bool {
		return key == p || strings.HasSuffix(p, ".") && strings.HasPrefix(key, p)
	})
}

// restartKeys names the keys whose values differ between old and cur but
// that only a restart applies. It names keys only, never values, which may
// be secrets.
func restartKeys(old, cur *config.Config) []string {
	var out []string
	for _, k := range changedKeys(reflect.ValueOf(*old), reflect.ValueOf(*cur), "") {
		if !isReloadable(k) {
			out = append(out, k)
		}
	}
	return out
}

// changedKeys walks two values of the same struct type and returns the
// dotted mapstructure keys of the leaves that differ.
func changedKeys(a, b reflect.Value, prefix string) []string {
	var out []string
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		key := prefix + tag
		av, bv := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
			out = append(out, changedKeys(av, bv, key+".")...)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			out = append(out, key)
		}
	}
	return out
}
