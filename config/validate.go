package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/mail"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var (
	casePrefixRE  = regexp.MustCompile(`^[A-Z0-9]{1,10}$`)
	slaDurationRE = regexp.MustCompile(`^[1-9][0-9]*(wd|d)$`)
	hoursRE       = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$`)
	currencyRE    = regexp.MustCompile(`^[A-Z]{3}$`)
)

// maxSLADays bounds N in an SLA duration Nwd or Nd: a hundred years. It
// is calendar.MaxDays (config is a leaf and cannot import calendar; cmd's
// TestSLABoundsAgree keeps the two equal), so the CLI's calendar add and
// the config refuse the same durations, 0wd included.
const maxSLADays = 36500

// maxIdleRestart keeps IDLE below the 29-minute server timeout of
// RFC 9051 section 6.3.13 (RFC 2177: clients re-issue IDLE at least every
// 29 minutes).
const maxIdleRestart = 29 * time.Minute

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// checker collects problems in the order they are found.
type checker struct {
	errs Errors
	// canon are enumeration values written in another case, by key, with
	// the spelling they are stored as once Validate is done.
	canon map[string]string
}

func (ch *checker) add(key, format string, args ...any) {
	ch.errs = append(ch.errs, &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) required(key, v string) bool {
	if strings.TrimSpace(v) == "" {
		ch.add(key, "required")
		return false
	}
	return true
}

// oneOf checks an enumeration. Case does not matter (NL, Always and
// STARTTLS are as good as nl, always and starttls); Validate stores the
// value in the case of allowed.
func (ch *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			if v != a {
				if ch.canon == nil {
					ch.canon = map[string]string{}
				}
				ch.canon[key] = a
			}
			return
		}
	}
	want := allowed[0]
	if n := len(allowed); n > 1 {
		want = strings.Join(allowed[:n-1], ", ") + " or " + allowed[n-1]
	}
	ch.add(key, "want %s, got %q", want, v)
}

func (ch *checker) address(key, v string) {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v || !strings.Contains(v, "@") {
		ch.add(key, "invalid address %q", v)
	}
}

func (ch *checker) addresses(key string, list []string, required bool) {
	if required && len(list) == 0 {
		ch.add(key, "required")
	}
	for i, a := range list {
		ch.address(fmt.Sprintf("%s[%d]", key, i), a)
	}
}

// hostPort checks host:port with a numeric port; emptyHost allows ":port"
// (listen on all addresses).
func (ch *checker) hostPort(key, v string, emptyHost bool) {
	host, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || (host == "" && !emptyHost) {
		ch.add(key, "want host:port, got %q", v)
	}
}

func (ch *checker) positive(key string, v int64) {
	if v <= 0 {
		ch.add(key, "want more than 0, got %d", v)
	}
}

// readable checks a file can be read, reporting the OS error (which names
// the path) under key.
func (ch *checker) readable(key, path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		ch.add(key, "%v", err)
		return nil, false
	}
	return b, true
}

func (ch *checker) caFile(key, path string) {
	if path == "" {
		return
	}
	if b, ok := ch.readable(key, path); ok && !x509.NewCertPool().AppendCertsFromPEM(b) {
		ch.add(key, "no PEM certificate in %s", path)
	}
}

func (ch *checker) secret(prefix, password, file string, loaded bool) {
	if file == "" {
		return
	}
	if password != "" && !loaded {
		ch.add(prefix+".password", "set either password or password_file, not both")
	}
	ch.readable(prefix+".password_file", file)
}

// Validate checks every key and reports every problem as [Errors], one
// "key: problem" per line. Load calls it; on success it also prepares
// Location, WorkingHours, WorkingDays and ClosedDays.
func (c *Config) Validate() error {
	ch := &checker{}

	o := c.Organization
	ch.required("organization.name", o.Name)
	if ch.required("organization.address", o.Address) {
		ch.address("organization.address", o.Address)
	}
	if !casePrefixRE.MatchString(o.CasePrefix) {
		ch.add("organization.case_prefix", "want 1 to 10 characters A-Z or 0-9, got %q", o.CasePrefix)
	}
	if o.Domain != "" && (strings.ContainsAny(o.Domain, " @<>") || !strings.Contains(o.Domain, ".")) {
		ch.add("organization.domain", "invalid domain %q", o.Domain)
	}
	if len(o.Languages) == 0 {
		ch.add("organization.languages", "required")
	}
	for i, l := range o.Languages {
		ch.oneOf(fmt.Sprintf("organization.languages[%d]", i), l, "en", "nl")
	}

	im := c.IMAP
	if ch.required("imap.address", im.Address) {
		ch.hostPort("imap.address", im.Address, false)
	}
	ch.oneOf("imap.tls", im.TLS, "implicit", "starttls", "none")
	ch.secret("imap", im.Password, im.PasswordFile, c.secretsReady)
	ch.required("imap.mailbox", im.Mailbox)
	if im.ProcessedMailbox != "" && im.ProcessedMailbox == im.Mailbox {
		ch.add("imap.processed_mailbox", "must differ from imap.mailbox %q", im.Mailbox)
	}
	if im.PollInterval < time.Second {
		ch.add("imap.poll_interval", "want at least 1s, got %s", im.PollInterval)
	}
	if im.IdleRestart <= 0 || im.IdleRestart >= maxIdleRestart {
		ch.add("imap.idle_restart", "want more than 0 and less than 29m, got %s", im.IdleRestart)
	}
	ch.caFile("imap.ca_file", im.CAFile)

	sm := c.SMTP
	if ch.required("smtp.address", sm.Address) {
		ch.hostPort("smtp.address", sm.Address, false)
	}
	ch.oneOf("smtp.tls", sm.TLS, "implicit", "starttls", "none")
	ch.secret("smtp", sm.Password, sm.PasswordFile, c.secretsReady)
	ch.caFile("smtp.ca_file", sm.CAFile)
	// A hello name defaulted from an invalid organization.domain is
	// reported there only.
	if sm.HelloName != o.Domain && strings.ContainsAny(sm.HelloName, " \t\r\n") {
		ch.add("smtp.hello_name", "invalid host name %q", sm.HelloName)
	}
	if sm.Timeout <= 0 {
		ch.add("smtp.timeout", "want more than 0, got %s", sm.Timeout)
	}
	c.validateLogin(ch)

	st := c.Staff
	ch.addresses("staff.addresses", st.Addresses, true)
	ch.addresses("staff.notify", st.Notify, true)
	ch.addresses("staff.escalate", st.Escalate, false)
	ch.oneOf("staff.auth", st.Auth, "authres", "microsoft365", "pgp", "none")
	if st.Auth == "pgp" && c.PGP.StaffKeysFile == "" {
		ch.add("staff.auth", "pgp needs pgp.staff_keys_file")
	}
	if st.Auth == "authres" && strings.TrimSpace(st.AuthservID) == "" {
		ch.add("staff.authserv_id", "required when staff.auth is authres")
	}
	if st.TenantID != "" && !tenantGUID.MatchString(st.TenantID) {
		ch.add("staff.tenant_id", "want the directory (tenant) ID, a GUID such as 8c3dbb3e-0b3f-4d47-9a4a-6f1f1b2f7a10, got %q", st.TenantID)
	}

	ch.required("store.path", c.Store.Path)
	if c.Store.Retention < 0 {
		ch.add("store.retention", "want 0 or more, got %s", c.Store.Retention)
	}
	ch.required("control.socket", c.Control.Socket)
	if c.HTTP.Listen != "" {
		ch.hostPort("http.listen", c.HTTP.Listen, true)
	}

	c.validateSLA(ch)

	for _, j := range []struct {
		key, spec string
		to        []string
		set       bool
	}{{"digest", c.Digest.Cron, c.Digest.To, c.digestToSet}, {"report", c.Report.Cron, c.Report.To, c.reportToSet}} {
		if _, err := cron.ParseStandard(j.spec); err != nil {
			ch.add(j.key+".cron", "invalid cron spec %q: %v", j.spec, err)
		}
		if j.set {
			ch.addresses(j.key+".to", j.to, false)
		}
	}

	r := c.Reward
	if !currencyRE.MatchString(r.Currency) {
		ch.add("reward.currency", "want 3 uppercase letters, got %q", r.Currency)
	}
	if r.Min < 0 {
		ch.add("reward.min", "want 0 or more, got %d", r.Min)
	}
	if r.Max < 0 {
		ch.add("reward.max", "want 0 or more, got %d", r.Max)
	} else if r.Min >= 0 && r.Max < r.Min {
		ch.add("reward.max", "want at least reward.min (%d), got %d", r.Min, r.Max)
	}

	l := c.Limits
	ch.positive("limits.max_message_bytes", l.MaxMessageBytes)
	ch.positive("limits.acks_per_sender_per_day", int64(l.AcksPerSenderPerDay))
	ch.positive("limits.max_mime_depth", int64(l.MaxMIMEDepth))
	ch.positive("limits.max_parts", int64(l.MaxParts))
	ch.positive("limits.max_header_bytes", int64(l.MaxHeaderBytes))

	if d := c.Templates.Dir; d != "" {
		if fi, err := os.Stat(d); err != nil {
			ch.add("templates.dir", "%v", err)
		} else if !fi.IsDir() {
			ch.add("templates.dir", "not a directory: %s", d)
		}
	}

	ch.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	ch.oneOf("log.format", c.Log.Format, "text", "json")

	c.validatePGP(ch)

	if len(ch.errs) > 0 {
		return ch.errs
	}
	for key, v := range ch.canon {
		setString(reflect.ValueOf(c).Elem(), key, v)
	}
	return nil
}

// setString sets the string at key ("sla.holidays", "organization.languages[1]")
// in the config struct v, found by its mapstructure tags.
func setString(v reflect.Value, key, val string) {
	for _, part := range strings.Split(key, ".") {
		name, idx, indexed := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		f, ok := fieldByTag(v, name)
		if !ok {
			return
		}
		v = f
		if indexed {
			i, err := strconv.Atoi(idx)
			if err != nil || v.Kind() != reflect.Slice || i >= v.Len() {
				return
			}
			v = v.Index(i)
		}
	}
	if v.Kind() == reflect.String && v.CanSet() {
		v.SetString(val)
	}
}

func fieldByTag(v reflect.Value, tag string) (reflect.Value, bool) {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ","); name == tag {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func (c *Config) validateSLA(ch *checker) {
	s := c.SLA
	c.loc = nil
	if loc, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" {
		ch.add("sla.timezone", "unknown time zone %q", s.Timezone)
	} else {
		c.loc = loc
	}

	if m := hoursRE.FindStringSubmatch(s.WorkingHours); m == nil {
		ch.add("sla.working_hours", "want HH:MM-HH:MM, got %q", s.WorkingHours)
	} else {
		at := func(h, m string) time.Duration {
			hh, _ := strconv.Atoi(h)
			mm, _ := strconv.Atoi(m)
			return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
		}
		open, closing := at(m[1], m[2]), at(m[3], m[4])
		if closing > 24*time.Hour || open >= closing {
			ch.add("sla.working_hours", "want start before end, got %q", s.WorkingHours)
		} else {
			c.openAt, c.closeAt = open, closing
		}
	}

	if days, ok := parseWeekdays(string(s.WorkingDays)); ok {
		c.workingDays = days
	} else {
		ch.add("sla.working_days", "want a range like mon..fri or a list like mon,tue,wed, got %q", s.WorkingDays)
	}

	ch.oneOf("sla.holidays", s.Holidays, "nl", "none")
	c.closedDays = c.closedDays[:0]
	for i, d := range s.ClosedDays {
		loc := c.loc
		if loc == nil {
			loc = time.UTC
		}
		t, err := time.ParseInLocation(time.DateOnly, d, loc)
		if err != nil {
			ch.add(fmt.Sprintf("sla.closed_days[%d]", i), "want YYYY-MM-DD, got %q", d)
			continue
		}
		c.closedDays = append(c.closedDays, t)
	}
	ch.oneOf("sla.liberation_day", s.LiberationDay, "always", "lustrum", "never")

	for _, t := range []struct{ key, v string }{
		{"sla.acknowledge", s.Acknowledge},
		{"sla.assess", s.Assess},
		{"sla.progress", s.Progress},
		{"sla.resolve", s.Resolve},
		{"sla.third_party", s.ThirdParty},
	} {
		if !slaDurationRE.MatchString(t.v) {
			ch.add(t.key, "want working days like 3wd or calendar days like 60d, got %q", t.v)
		} else if n, err := strconv.Atoi(strings.TrimRight(t.v, "wd")); err != nil || n > maxSLADays {
			ch.add(t.key, "want at most %d days, got %q", maxSLADays, t.v)
		}
	}

	for i, f := range s.RemindAt {
		if f <= 0 || f >= 1 {
			ch.add(fmt.Sprintf("sla.remind_at[%d]", i), "want a fraction between 0 and 1 (exclusive), got %v", f)
		}
	}
	for i := 1; i < len(s.RemindAt); i++ {
		if s.RemindAt[i] <= s.RemindAt[i-1] {
			ch.add("sla.remind_at", "want strictly ascending fractions, got %v", s.RemindAt)
			break
		}
	}

	if _, err := cron.ParseStandard(s.Sweep); err != nil {
		ch.add("sla.sweep", "invalid cron spec %q: %v", s.Sweep, err)
	}
}

// parseWeekdays parses a list of days and ranges, separated by commas:
// "mon..fri", "mon,tue,wed", "mon..wed,fri", in any case. A range runs
// forward through the week and may wrap past Sunday: "sun..thu" is a
// Sunday-to-Thursday week and "fri..mon" is Friday, Saturday, Sunday and
// Monday. The result is in week order from Sunday, without duplicates.
func parseWeekdays(s string) ([]time.Weekday, bool) {
	var set [7]bool
	for _, item := range strings.Split(strings.ToLower(s), ",") {
		item = strings.TrimSpace(item)
		from, to, isRange := strings.Cut(item, "..")
		if !isRange {
			to = from
		}
		a, aok := weekdays[strings.TrimSpace(from)]
		b, bok := weekdays[strings.TrimSpace(to)]
		if !aok || !bok {
			return nil, false
		}
		for d := a; ; d = (d + 1) % 7 {
			set[d] = true
			if d == b {
				break
			}
		}
	}
	var out []time.Weekday
	for d, on := range set {
		if on {
			out = append(out, time.Weekday(d))
		}
	}
	return out, true
}

// Location returns the loaded sla.timezone. Before a successful Validate it
// returns time.UTC.
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// WorkingHours returns the opening and closing time of a working day as
// offsets from local midnight, from sla.working_hours (valid after Validate).
func (c *Config) WorkingHours() (open, close time.Duration) {
	return c.openAt, c.closeAt
}

// WorkingDays returns the days of sla.working_days in week order from
// Sunday (valid after Validate).
func (c *Config) WorkingDays() []time.Weekday {
	return slices.Clone(c.workingDays)
}

// ClosedDays returns sla.closed_days as local midnights in Location (valid
// after Validate).
func (c *Config) ClosedDays() []time.Time {
	return slices.Clone(c.closedDays)
}

// tenantGUID is an Entra ID tenant ID as X-MS-Exchange-CrossTenant-Id
// carries it.
var tenantGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
