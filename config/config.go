// Package config loads, validates and prints the disclosured configuration.
//
// The configuration is one YAML file (see config.example.yaml at the
// repository root). Every key can be overridden from the environment as
// DISCLOSURED_<KEY>, the key upper-cased with "." replaced by "_"
// (DISCLOSURED_IMAP_PASSWORD, DISCLOSURED_ORGANIZATION_CASE_PREFIX). List
// keys take comma-separated values from the environment
// (DISCLOSURED_STAFF_NOTIFY="a@example.org,b@example.org").
//
// Invariants:
//
//   - Each Load uses a fresh viper.New(), never viper's globals, so loads
//     are independent and a reload cannot leak state from the previous one.
//   - Decoding is strict: an unknown key (a typo such as imap.pasword) is an
//     error, never silently ignored.
//   - Every problem is reported at once, one per line as "key: problem", so
//     an operator fixes a config in one round trip. Load returns them as
//     [Errors].
//   - Every key has a default registered with viper. Without one, an
//     environment override for a key absent from the file never reaches
//     Unmarshal (spf13/viper issue 761). The key list is derived from the
//     Config struct by reflection, so a new field cannot miss its default.
//   - The environment is passed in as a slice instead of read with
//     os.Getenv, so tests (and `check-config`) see exactly what they pass.
//   - Relative paths resolve against the directory of the config file, not
//     the working directory of the process.
//   - Secrets may come from files (imap.password_file, smtp.password_file;
//     systemd LoadCredential). After Load, IMAP.Password and SMTP.Password
//     hold the effective secret either way. Print masks them.
//
// Only cmd/disclosured imports this package; other packages take their own
// Options structs, which cmd fills from a Config.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix is the prefix of environment variables that override keys.
const EnvPrefix = "DISCLOSURED"

// Mask replaces a non-empty secret in Print output.
const Mask = "********"

// Config is the typed, validated configuration of disclosured. The
// mapstructure tags are the YAML keys; yaml tags are used by Print.
type Config struct {
	Organization Organization `mapstructure:"organization" yaml:"organization"`
	IMAP         IMAP         `mapstructure:"imap" yaml:"imap"`
	SMTP         SMTP         `mapstructure:"smtp" yaml:"smtp"`
	OAuth2       OAuth2       `mapstructure:"oauth2" yaml:"oauth2"`
	Staff        Staff        `mapstructure:"staff" yaml:"staff"`
	Store        Store        `mapstructure:"store" yaml:"store"`
	Control      Control      `mapstructure:"control" yaml:"control"`
	HTTP         HTTP         `mapstructure:"http" yaml:"http"`
	SLA          SLA          `mapstructure:"sla" yaml:"sla"`
	Reward       Reward       `mapstructure:"reward" yaml:"reward"`
	Limits       Limits       `mapstructure:"limits" yaml:"limits"`
	Templates    Templates    `mapstructure:"templates" yaml:"templates"`
	Log          Log          `mapstructure:"log" yaml:"log"`
	PGP          PGP          `mapstructure:"pgp" yaml:"pgp"`
	SecurityTxt  SecurityTxt  `mapstructure:"securitytxt" yaml:"securitytxt"`
	Digest       Digest       `mapstructure:"digest" yaml:"digest"`
	Report       Report       `mapstructure:"report" yaml:"report"`

	// Dir is the absolute directory of the config file; relative paths
	// in the file were resolved against it by Load.
	Dir string `mapstructure:"-" yaml:"-"`

	// Filled by Validate; see Location, WorkingHours, WorkingDays, ClosedDays.
	loc          *time.Location
	openAt       time.Duration
	closeAt      time.Duration
	workingDays  []time.Weekday
	closedDays   []time.Time
	secretsReady bool // Password fields hold the contents of *_file

	// Filled by Load; see MailProvider.
	providerName, providerFrom string
	// digestToSet and reportToSet say the lists were configured, not
	// copied from the staff lists (which are checked as those keys).
	digestToSet, reportToSet bool
}

// Organization describes who runs the security mailbox.
type Organization struct {
	Name       string   `mapstructure:"name" yaml:"name"`
	Address    string   `mapstructure:"address" yaml:"address"`         // the security mailbox
	CasePrefix string   `mapstructure:"case_prefix" yaml:"case_prefix"` // case IDs look like CS-2026-0001
	Domain     string   `mapstructure:"domain" yaml:"domain"`           // for Message-IDs; default: domain of Address
	Languages  []string `mapstructure:"languages" yaml:"languages"`     // "en", "nl"; first is the fallback
}

// IMAP is the intake mailbox.
type IMAP struct {
	Address            string        `mapstructure:"address" yaml:"address"` // host:port
	TLS                string        `mapstructure:"tls" yaml:"tls"`         // implicit | starttls | none
	Auth               string        `mapstructure:"auth" yaml:"auth"`       // password | oauth2
	Username           string        `mapstructure:"username" yaml:"username"`
	Password           string        `mapstructure:"password" yaml:"password"`
	PasswordFile       string        `mapstructure:"password_file" yaml:"password_file"`
	Mailbox            string        `mapstructure:"mailbox" yaml:"mailbox"`
	ProcessedMailbox   string        `mapstructure:"processed_mailbox" yaml:"processed_mailbox"` // "" = flag instead of move
	PollInterval       time.Duration `mapstructure:"poll_interval" yaml:"poll_interval"`
	IdleRestart        time.Duration `mapstructure:"idle_restart" yaml:"idle_restart"`
	CAFile             string        `mapstructure:"ca_file" yaml:"ca_file"`
	InsecureSkipVerify bool          `mapstructure:"insecure_skip_verify" yaml:"insecure_skip_verify"`
}

// SMTP is the submission server used for all outgoing mail.
type SMTP struct {
	Address      string        `mapstructure:"address" yaml:"address"` // host:port
	TLS          string        `mapstructure:"tls" yaml:"tls"`         // implicit | starttls | none
	Auth         string        `mapstructure:"auth" yaml:"auth"`       // password | oauth2 | none; default password when Username is set
	Username     string        `mapstructure:"username" yaml:"username"`
	Password     string        `mapstructure:"password" yaml:"password"`
	PasswordFile string        `mapstructure:"password_file" yaml:"password_file"`
	CAFile       string        `mapstructure:"ca_file" yaml:"ca_file"`
	HelloName    string        `mapstructure:"hello_name" yaml:"hello_name"` // default: Organization.Domain
	Timeout      time.Duration `mapstructure:"timeout" yaml:"timeout"`
}

// OAuth2 says where the access tokens for imap.auth / smtp.auth oauth2
// come from (SPEC §7a). After Load, ClientSecret holds the effective secret
// (from client_secret_file if set), Provider the provider (recognised from
// the server addresses when not set) and Scopes the provider's default when
// not set.
type OAuth2 struct {
	Provider           string   `mapstructure:"provider" yaml:"provider"` // microsoft | google | generic
	Tenant             string   `mapstructure:"tenant" yaml:"tenant"`     // microsoft: tenant ID or primary domain
	ClientID           string   `mapstructure:"client_id" yaml:"client_id"`
	ClientSecret       string   `mapstructure:"client_secret" yaml:"client_secret"`
	ClientSecretFile   string   `mapstructure:"client_secret_file" yaml:"client_secret_file"`
	CertificateFile    string   `mapstructure:"certificate_file" yaml:"certificate_file"`         // microsoft: PEM certificate + key
	ServiceAccountFile string   `mapstructure:"service_account_file" yaml:"service_account_file"` // google: JSON key
	RefreshTokenFile   string   `mapstructure:"refresh_token_file" yaml:"refresh_token_file"`     // generic
	TokenURL           string   `mapstructure:"token_url" yaml:"token_url"`
	Scopes             []string `mapstructure:"scopes" yaml:"scopes"`
	Mechanism          string   `mapstructure:"mechanism" yaml:"mechanism"` // xoauth2 | oauthbearer

	// The contents of refresh_token_file, certificate_file and
	// service_account_file, read by Load (which Validate checked to be
	// readable). Never printed.
	RefreshToken   string `mapstructure:"-" yaml:"-"`
	Certificate    []byte `mapstructure:"-" yaml:"-"`
	ServiceAccount []byte `mapstructure:"-" yaml:"-"`
}

// Staff lists who may issue commands and who is told about cases.
type Staff struct {
	Addresses  []string `mapstructure:"addresses" yaml:"addresses"` // may send commands
	Notify     []string `mapstructure:"notify" yaml:"notify"`       // receive new-case and reminder mail
	Escalate   []string `mapstructure:"escalate" yaml:"escalate"`   // told once when a timer is breached
	Auth       string   `mapstructure:"auth" yaml:"auth"`           // authres | microsoft365 | pgp | none
	AuthservID string   `mapstructure:"authserv_id" yaml:"authserv_id"`
	TenantID   string   `mapstructure:"tenant_id" yaml:"tenant_id"` // microsoft365: X-MS-Exchange-CrossTenant-Id must equal it
}

// Store is the bbolt database.
type Store struct {
	Path      string        `mapstructure:"path" yaml:"path"`
	Retention time.Duration `mapstructure:"retention" yaml:"retention"` // 0 = keep forever
}

// Control is the local control socket used by the CLI while the daemon runs.
type Control struct {
	Socket string `mapstructure:"socket" yaml:"socket"`
}

// HTTP serves /metrics and /healthz.
type HTTP struct {
	Listen string `mapstructure:"listen" yaml:"listen"` // "" disables
}

// SLA configures the business calendar and the timers (SPEC §6). Timer
// durations are strings like "3wd" (working days) or "60d" (calendar days),
// interpreted by package calendar.
type SLA struct {
	Timezone      string    `mapstructure:"timezone" yaml:"timezone"`
	WorkingHours  string    `mapstructure:"working_hours" yaml:"working_hours"` // "09:00-17:00"
	WorkingDays   DayList   `mapstructure:"working_days" yaml:"working_days"`   // "mon..fri", "mon,tue,wed" or a YAML list
	Holidays      string    `mapstructure:"holidays" yaml:"holidays"`           // nl | none
	ClosedDays    []string  `mapstructure:"closed_days" yaml:"closed_days"`     // YYYY-MM-DD
	GoodFriday    bool      `mapstructure:"good_friday" yaml:"good_friday"`
	LiberationDay string    `mapstructure:"liberation_day" yaml:"liberation_day"` // always | lustrum | never
	Acknowledge   string    `mapstructure:"acknowledge" yaml:"acknowledge"`
	Assess        string    `mapstructure:"assess" yaml:"assess"`
	Progress      string    `mapstructure:"progress" yaml:"progress"`
	Resolve       string    `mapstructure:"resolve" yaml:"resolve"`
	ThirdParty    string    `mapstructure:"third_party" yaml:"third_party"`
	RemindAt      []float64 `mapstructure:"remind_at" yaml:"remind_at"`
	Sweep         string    `mapstructure:"sweep" yaml:"sweep"` // cron spec
}

// Reward bounds the bounty staff may grant with #reward.
type Reward struct {
	Currency string `mapstructure:"currency" yaml:"currency"`
	Min      int    `mapstructure:"min" yaml:"min"`
	Max      int    `mapstructure:"max" yaml:"max"`
}

// Limits protect the daemon from hostile or runaway mail.
type Limits struct {
	MaxMessageBytes     int64 `mapstructure:"max_message_bytes" yaml:"max_message_bytes"`
	AcksPerSenderPerDay int   `mapstructure:"acks_per_sender_per_day" yaml:"acks_per_sender_per_day"`
	MaxMIMEDepth        int   `mapstructure:"max_mime_depth" yaml:"max_mime_depth"`
	MaxParts            int   `mapstructure:"max_parts" yaml:"max_parts"`
	MaxHeaderBytes      int   `mapstructure:"max_header_bytes" yaml:"max_header_bytes"`
}

// Templates selects mail template overrides.
type Templates struct {
	Dir string `mapstructure:"dir" yaml:"dir"` // "" = embedded only
}

// Digest is the weekly overview mailed to staff (issue 15).
type Digest struct {
	Cron string   `mapstructure:"cron" yaml:"cron"` // cron spec in sla.timezone
	To   []string `mapstructure:"to" yaml:"to"`     // default staff.notify; empty turns it off
}

// Report is the monthly SLA report mailed with its chart.
type Report struct {
	Cron string   `mapstructure:"cron" yaml:"cron"` // cron spec in sla.timezone
	To   []string `mapstructure:"to" yaml:"to"`     // default staff.escalate, else staff.notify; empty turns it off
}

// Log configures the slog handler.
type Log struct {
	Level  string `mapstructure:"level" yaml:"level"`   // debug | info | warn | error
	Format string `mapstructure:"format" yaml:"format"` // text | json
}

// Default returns the configuration with every default applied. Required
// keys without a default are empty.
func Default() *Config {
	return &Config{
		Organization: Organization{CasePrefix: "CS", Languages: []string{"en", "nl"}},
		IMAP: IMAP{
			Auth:         "password",
			TLS:          "implicit",
			Mailbox:      "INBOX",
			PollInterval: 60 * time.Second,
			IdleRestart:  10 * time.Minute,
		},
		SMTP:    SMTP{TLS: "starttls", Timeout: 60 * time.Second},
		OAuth2:  OAuth2{Mechanism: "xoauth2"},
		Staff:   Staff{Auth: "authres"},
		Store:   Store{Path: "/var/lib/disclosured/disclosured.db"},
		Control: Control{Socket: "/run/disclosured/control.sock"},
		HTTP:    HTTP{Listen: "127.0.0.1:9465"},
		SLA: SLA{
			Timezone:      "Europe/Amsterdam",
			WorkingHours:  "09:00-17:00",
			WorkingDays:   "mon..fri",
			Holidays:      "nl",
			LiberationDay: "lustrum",
			Acknowledge:   "1wd",
			Assess:        "3wd",
			Progress:      "10wd",
			Resolve:       "60d",
			ThirdParty:    "3wd",
			RemindAt:      []float64{0.5, 0.8},
			Sweep:         "@every 1m",
		},
		Reward: Reward{Currency: "EUR", Min: 50, Max: 1000},
		Limits: Limits{
			MaxMessageBytes:     25 << 20,
			AcksPerSenderPerDay: 5,
			MaxMIMEDepth:        20,
			MaxParts:            500,
			MaxHeaderBytes:      1 << 20,
		},
		Log:         Log{Level: "info", Format: "text"},
		PGP:         PGP{StaffPlaintext: "deny"},
		SecurityTxt: SecurityTxt{},
		Digest:      Digest{Cron: "0 8 * * 1"},
		Report:      Report{Cron: "0 8 1 * *"},
	}
}

// DefaultPath returns the config path used when none is given:
// /etc/disclosured/config.yaml if it exists, else ./config.yaml.
func DefaultPath() string {
	const system = "/etc/disclosured/config.yaml"
	if _, err := os.Stat(system); err == nil {
		return system
	}
	return "config.yaml"
}

// Load reads the YAML file at path, applies environment overrides from
// environ (in os.Environ form, "KEY=value"), resolves relative paths, reads
// *_file secrets and validates the result. Problems with the contents are
// returned together as [Errors]; a file that cannot be read or parsed is a
// plain error.
func Load(path string, environ []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve config path: %w", err)
	}

	v := viper.New()
	v.SetConfigType("yaml")
	keys := keysOf(reflect.ValueOf(Default()).Elem(), "")
	for _, k := range keys {
		// Registering every key is what lets overrides for keys that are
		// absent from the file reach UnmarshalExact (viper issue 761).
		v.SetDefault(k.name, k.def)
	}
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}

	var errs Errors
	errs = append(errs, applyEnv(v, keys, environ)...)

	c := &Config{}
	err = v.UnmarshalExact(c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationHook,
		sliceHook,
		dayListHook,
	)))
	decodeErrs := decodeProblems(err)
	errs = append(errs, decodeErrs...)

	c.Dir = filepath.Dir(abs)
	c.resolvePaths()
	if c.Organization.Domain == "" {
		// Only from a valid address; Validate reports an invalid one.
		if a, err := mail.ParseAddress(c.Organization.Address); err == nil && a.Address == c.Organization.Address {
			_, dom, _ := strings.Cut(a.Address, "@")
			c.Organization.Domain = strings.ToLower(dom)
		}
	}
	if c.SMTP.HelloName == "" {
		c.SMTP.HelloName = c.Organization.Domain
	}
	c.resolveLogin()
	// Recipient lists set neither in the file nor in the environment
	// default to staff; a list set empty (to: "" or to: []) stays empty and
	// turns the mail off.
	set := func(key string) bool {
		if v.InConfig(key) {
			return true
		}
		for _, kv := range environ {
			if name, _, _ := strings.Cut(kv, "="); name == EnvName(key) {
				return true
			}
		}
		return false
	}
	c.digestToSet, c.reportToSet = set("digest.to"), set("report.to")
	if !c.digestToSet {
		c.Digest.To = append([]string{}, c.Staff.Notify...)
	}
	if !c.reportToSet {
		c.Report.To = append([]string{}, c.Staff.Escalate...)
		if len(c.Report.To) == 0 {
			c.Report.To = append([]string{}, c.Staff.Notify...)
		}
	}

	// A key that failed to decode holds a zero value; validating it again
	// would only repeat the problem in other words.
	failed := map[string]bool{}
	for _, e := range decodeErrs {
		var ke *KeyError
		if errors.As(e, &ke) {
			failed[baseKey(ke.Key)] = true
		}
	}
	if verr := c.Validate(); verr != nil {
		for _, e := range verr.(Errors) {
			var ke *KeyError
			if errors.As(e, &ke) && decodeFailed(failed, ke.Key) {
				continue
			}
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.loadSecrets()
	return c, nil
}

// resolvePaths makes relative paths absolute against c.Dir.
func (c *Config) resolvePaths() {
	for _, p := range []*string{
		&c.Store.Path, &c.Templates.Dir, &c.Control.Socket,
		&c.IMAP.CAFile, &c.IMAP.PasswordFile,
		&c.SMTP.CAFile, &c.SMTP.PasswordFile,
		&c.OAuth2.ClientSecretFile, &c.OAuth2.CertificateFile,
		&c.OAuth2.ServiceAccountFile, &c.OAuth2.RefreshTokenFile,
	} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(c.Dir, *p)
		}
	}
	c.resolvePGPPaths()
}

// loadSecrets replaces passwords by the contents of their *_file, which
// Validate has checked to be readable.
func (c *Config) loadSecrets() {
	if c.secretsReady {
		return
	}
	if c.IMAP.PasswordFile != "" {
		c.IMAP.Password, _ = readSecret(c.IMAP.PasswordFile)
	}
	if c.SMTP.PasswordFile != "" {
		c.SMTP.Password, _ = readSecret(c.SMTP.PasswordFile)
	}
	o := &c.OAuth2
	if o.ClientSecretFile != "" {
		o.ClientSecret, _ = readSecret(o.ClientSecretFile)
	}
	if o.RefreshTokenFile != "" {
		o.RefreshToken, _ = readSecret(o.RefreshTokenFile)
	}
	if o.CertificateFile != "" {
		o.Certificate, _ = os.ReadFile(o.CertificateFile)
	}
	if o.ServiceAccountFile != "" {
		o.ServiceAccount, _ = os.ReadFile(o.ServiceAccountFile)
	}
	c.secretsReady = true
}

// readSecret reads a secret file, dropping one trailing newline (CRLF or LF)
// as written by editors and `echo`.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// Print writes the effective configuration as YAML, with passwords masked.
// Paths are shown resolved. It is what `check-config` prints.
func (c *Config) Print(w io.Writer) error {
	cp := *c
	cp.IMAP.Password = mask(cp.IMAP.Password)
	cp.SMTP.Password = mask(cp.SMTP.Password)
	cp.OAuth2.ClientSecret = mask(cp.OAuth2.ClientSecret)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&cp); err != nil {
		return fmt.Errorf("marshal config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("marshal config: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return Mask
}

// key is one leaf key of the configuration with its default value.
type key struct {
	name string
	def  any
	list bool
}

// keysOf lists the leaf keys of a struct value by its mapstructure tags,
// in field order.
func keysOf(v reflect.Value, prefix string) []key {
	var out []key
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		name := prefix + tag
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			out = append(out, keysOf(fv, name+".")...)
			continue
		}
		out = append(out, key{name: name, def: fv.Interface(), list: fv.Kind() == reflect.Slice})
	}
	return out
}

// EnvName returns the environment variable that overrides key, e.g.
// DISCLOSURED_IMAP_PASSWORD for imap.password.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv sets every key whose variable is present in environ, even if
// empty (so DISCLOSURED_HTTP_LISTEN= disables the HTTP listener). A later
// duplicate wins, as with os.Getenv. A DISCLOSURED_ variable that names no
// key is a problem, like an unknown key in the file.
func applyEnv(v *viper.Viper, keys []key, environ []string) Errors {
	env := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix+"_") {
			env[name] = val
		}
	}
	for _, k := range keys {
		name := EnvName(k.name)
		val, ok := env[name]
		if !ok {
			continue
		}
		delete(env, name)
		if k.list {
			v.Set(k.name, splitList(val))
		} else {
			v.Set(k.name, val)
		}
	}
	var errs Errors
	for _, name := range sortedKeys(env) {
		errs = append(errs, &KeyError{Key: name, Msg: "unknown environment variable"})
	}
	return errs
}

// splitList splits a comma-separated list, trimming spaces and dropping
// empty items.
func splitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var durationType = reflect.TypeFor[time.Duration]()

// durationHook decodes Go durations ("90s", "10m", "8760h") and whole days
// ("365d") into time.Duration. A bare number other than 0 is refused: YAML
// "poll_interval: 60" would otherwise mean 60 nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if from == durationType || reflect.ValueOf(data).IsZero() {
			return data, nil
		}
		return nil, fmt.Errorf("want a duration with a unit like 90s, 10m or 365d, got %v", data)
	default:
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return time.Duration(0), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok && isDigits(n) {
		var days int64
		if _, err := fmt.Sscan(n, &days); err == nil && days <= int64((1<<63-1)/(24*time.Hour)) {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("want a duration like 90s, 10m or 365d, got %q", s)
	}
	return d, nil
}

// sliceHook turns a string into a list, split on commas: a YAML scalar
// "staff@example.org" is a one-element list.
// DayList is sla.working_days: days and ranges, written as one string
// ("mon..fri", "mon,wed,fri") or as a YAML list ([mon, tue, wed]).
type DayList string

// dayListHook joins a YAML list of days into a DayList.
func dayListHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(DayList("")) || from.Kind() != reflect.Slice {
		return data, nil
	}
	items, ok := data.([]any)
	if !ok {
		return data, nil
	}
	parts := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("want day names like mon, got %v", it)
		}
		parts[i] = s
	}
	return strings.Join(parts, ","), nil
}

func sliceHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	return splitList(data.(string)), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// KeyError is one problem with one configuration key.
type KeyError struct {
	Key string // e.g. "sla.working_hours", "staff.notify[1]" or an env variable
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// Errors is every problem found in a configuration. Its Error lists them
// one per line.
type Errors []error

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems, for errors.Is and errors.As.
func (e Errors) Unwrap() []error { return e }

// decodeFailed reports whether key or one of its parents failed to decode.
func decodeFailed(failed map[string]bool, key string) bool {
	k := baseKey(key)
	for {
		if failed[k] {
			return true
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return false
		}
		k = k[:i]
	}
}

// baseKey strips a list index: "staff.notify[1]" -> "staff.notify".
func baseKey(k string) string {
	if i := strings.IndexByte(k, '['); i >= 0 {
		return k[:i]
	}
	return k
}

// decodeProblems flattens a mapstructure error tree into one KeyError per
// key, rewording the library's messages.
func decodeProblems(err error) Errors {
	var out Errors
	var walk func(err error)
	walk = func(err error) {
		if err == nil {
			return
		}
		de, ok := err.(*mapstructure.DecodeError)
		if !ok {
			// viper wraps the joined tree in a fmt.Errorf.
			switch u := err.(type) {
			case interface{ Unwrap() []error }:
				for _, e := range u.Unwrap() {
					walk(e)
				}
			case interface{ Unwrap() error }:
				walk(u.Unwrap())
			default:
				out = append(out, err)
			}
			return
		}
		inner := de.Unwrap()
		if _, ok := inner.(interface{ Unwrap() []error }); ok {
			walk(inner)
			return
		}
		if _, ok := inner.(*mapstructure.DecodeError); ok {
			walk(inner)
			return
		}
		name := de.Name()
		if unknown, ok := strings.CutPrefix(inner.Error(), "has invalid keys: "); ok {
			for _, k := range strings.Split(unknown, ", ") {
				if name != "" {
					k = name + "." + k
				}
				out = append(out, &KeyError{Key: k, Msg: "unknown key"})
			}
			return
		}
		out = append(out, &KeyError{Key: name, Msg: decodeMessage(inner)})
	}
	walk(err)
	return out
}

func decodeMessage(err error) string {
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("want %s, got %s", typeWord(pe.Expected.Type()), quote(pe.Value))
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Sprintf("want %s, got %s", typeWord(ue.Expected.Type()), quote(ue.Value))
	}
	if strings.HasPrefix(err.Error(), "expected a map or struct") {
		return "want a mapping of keys"
	}
	return err.Error()
}

func typeWord(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func quote(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}
