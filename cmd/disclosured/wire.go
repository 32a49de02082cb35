package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/pflag"

	"disclosured/calendar"
	"disclosured/config"
	"disclosured/mailbox"
	"disclosured/parser"
	"disclosured/store"
	"disclosured/templates"
	"disclosured/workflow"
)

// newFlags returns a flag set with the -c/--config flag every command has.
// pflag lets flags stand before or after positional arguments.
func newFlags(name string, e env) (*pflag.FlagSet, *string) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg := fs.StringP("config", "c", "", "config file (default /etc/disclosured/config.yaml, then ./config.yaml)")
	return fs, cfg
}

func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

func loadConfig(path string, e env) (*config.Config, error) {
	if path == "" {
		path = config.DefaultPath()
	}
	cfg, err := config.Load(path, e.environ)
	if err != nil {
		return nil, configError{err}
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	o := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func newCalendar(cfg *config.Config) (*calendar.Calendar, error) {
	open, closeAt := cfg.WorkingHours()
	return calendar.New(calendar.Options{Location: cfg.Location(), Open: open, Close: closeAt,
		Workdays: cfg.WorkingDays(), Holidays: cfg.SLA.Holidays, GoodFriday: cfg.SLA.GoodFriday,
		LiberationDay: cfg.SLA.LiberationDay, ClosedDays: cfg.SLA.ClosedDays})
}

// engineOptions translates the config into the workflow's options.
func engineOptions(cfg *config.Config, log *slog.Logger) (workflow.Options, error) {
	cal, err := newCalendar(cfg)
	if err != nil {
		return workflow.Options{}, configError{err}
	}
	timers := map[workflow.TimerName]calendar.Duration{}
	for name, s := range map[workflow.TimerName]string{
		workflow.TimerAcknowledge: cfg.SLA.Acknowledge, workflow.TimerAssess: cfg.SLA.Assess,
		workflow.TimerProgress: cfg.SLA.Progress, workflow.TimerResolve: cfg.SLA.Resolve,
		workflow.TimerThirdParty: cfg.SLA.ThirdParty,
	} {
		d, err := calendar.ParseDuration(s)
		if err != nil {
			return workflow.Options{}, configError{fmt.Errorf("sla.%s: %w", name, err)}
		}
		timers[name] = d
	}
	keys, err := loadPGP(cfg)
	if err != nil {
		return workflow.Options{}, err
	}
	return workflow.Options{
		PGP:     keys.workflow(cfg),
		OrgName: cfg.Organization.Name, OrgAddress: cfg.Organization.Address,
		CasePrefix: cfg.Organization.CasePrefix, Domain: cfg.Organization.Domain,
		Languages: cfg.Organization.Languages, StaffAddresses: cfg.Staff.Addresses,
		StaffNotify: cfg.Staff.Notify, StaffEscalate: cfg.Staff.Escalate,
		AcksPerSenderPerDay: cfg.Limits.AcksPerSenderPerDay, Calendar: cal, Timers: timers,
		RemindAt:  cfg.SLA.RemindAt,
		StaffAuth: cfg.Staff.Auth, AuthservID: cfg.Staff.AuthservID, TenantID: cfg.Staff.TenantID,
		RewardMin: cfg.Reward.Min, RewardMax: cfg.Reward.Max, Currency: cfg.Reward.Currency,
		ParseLimits: parser.Limits{MaxDepth: cfg.Limits.MaxMIMEDepth, MaxParts: cfg.Limits.MaxParts,
			MaxHeaderBytes: cfg.Limits.MaxHeaderBytes},
		MaxMessageBytes: cfg.Limits.MaxMessageBytes,
		Logger:          log,
		Overview:        schedule(cfg.Digest.Cron, cfg.Digest.To, cfg.Location()),
		MonthlyReport:   schedule(cfg.Report.Cron, cfg.Report.To, cfg.Location()),
	}, nil
}

// schedule is a scheduled programme mail on a cron spec in loc; config
// validated the spec, and no recipients turn it off.
func schedule(spec string, to []string, loc *time.Location) workflow.Schedule {
	s, err := cron.ParseStandard(spec)
	if err != nil || len(to) == 0 {
		return workflow.Schedule{}
	}
	return workflow.Schedule{Spec: spec, Every: inZone{s, loc}, To: to}
}

// inZone evaluates a cron schedule in loc, as cron.WithLocation does for
// the sweeper.
type inZone struct {
	s   cron.Schedule
	loc *time.Location
}

func (z inZone) Next(t time.Time) time.Time { return z.s.Next(t.In(z.loc)) }

func loadTemplates(cfg *config.Config) (*templates.Set, error) {
	t, err := templates.Load(cfg.Templates.Dir)
	if err != nil {
		return nil, configError{fmt.Errorf("templates: %w", err)}
	}
	return t, nil
}

// openEngine opens the store and builds the workflow engine on it.
func openEngine(cfg *config.Config, log *slog.Logger, obs workflow.Observer) (*workflow.Engine, *store.DB, error) {
	opts, err := engineOptions(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	opts.Observer = obs
	tmpl, err := loadTemplates(cfg)
	if err != nil {
		return nil, nil, err
	}
	db, err := openStore(cfg, false)
	if err != nil {
		return nil, nil, err
	}
	return workflow.New(db, opts, tmpl), db, nil
}

func openStore(cfg *config.Config, readOnly bool) (*store.DB, error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	return store.Open(cfg.Store.Path, store.Options{ReadOnly: readOnly})
}

// tlsConfig builds the client TLS settings for a server address.
func tlsConfig(addr, caFile string, insecure bool) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{ServerName: host, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

func imapOptions(cfg *config.Config, log *slog.Logger) (mailbox.IMAPOptions, error) {
	tc, err := tlsConfig(cfg.IMAP.Address, cfg.IMAP.CAFile, cfg.IMAP.InsecureSkipVerify)
	if err != nil {
		return mailbox.IMAPOptions{}, configError{fmt.Errorf("imap: %w", err)}
	}
	return mailbox.IMAPOptions{Address: cfg.IMAP.Address, TLS: cfg.IMAP.TLS, TLSConfig: tc,
		Username: cfg.IMAP.Username, Password: cfg.IMAP.Password, Mailbox: cfg.IMAP.Mailbox,
		ProcessedMailbox: cfg.IMAP.ProcessedMailbox, PollInterval: cfg.IMAP.PollInterval,
		IdleRestart: cfg.IMAP.IdleRestart, MaxMessageBytes: cfg.Limits.MaxMessageBytes,
		Logger: log}, nil
}

func smtpOptions(cfg *config.Config) (mailbox.SMTPOptions, error) {
	tc, err := tlsConfig(cfg.SMTP.Address, cfg.SMTP.CAFile, false)
	if err != nil {
		return mailbox.SMTPOptions{}, configError{fmt.Errorf("smtp: %w", err)}
	}
	return mailbox.SMTPOptions{Address: cfg.SMTP.Address, TLS: cfg.SMTP.TLS, TLSConfig: tc,
		Username: cfg.SMTP.Username, Password: cfg.SMTP.Password, HelloName: cfg.SMTP.HelloName,
		Timeout: cfg.SMTP.Timeout}, nil
}
