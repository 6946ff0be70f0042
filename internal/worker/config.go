package worker

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/logging"
)

// Config is every setting of the worker. Its defaults are DefaultConfig.
type Config struct {
	Types       []string
	NATSURL     string
	DB          string
	AdminListen string
	AdminToken  string
	MaxDeliver  int
	AckWait     time.Duration
	LogLevel    string

	Concurrency     int             // batches in flight at once in this replica
	BatchSize       int             // messages per fetch and per handler call
	Backoff         []time.Duration // delay before redelivering a failing event, one per attempt; the last repeats
	ShutdownTimeout time.Duration   // how long in-flight batches may finish after SIGTERM

	Reconcile ReconcileConfig
	CertSync  CertSyncConfig
	Alerts    AlertsConfig
	Console   ConsoleConfig
	Lint      LintConfig
}

// LintConfig is the lint stage: zlint on every certificate, beside the event writer (on by
// default). Which lints run and which alert is the rules file's lints section.
type LintConfig struct {
	Enabled     bool
	Concurrency int // batches linted at once in this replica; 0 = half of GOMAXPROCS, at least 1
}

// CertSyncConfig is the scheduled certificate sync (off by default): every Every, one replica
// compares the inventory with the Hardenize certificate API and stores what is new or changed.
// It uses the Hardenize API settings of ReconcileConfig (URL, organization, credentials).
type CertSyncConfig struct {
	Every time.Duration
}

// AlertsConfig is the policy, its alert sinks and the expiry scan (all off by default).
type AlertsConfig struct {
	Rules           string        // rules file; empty = no findings
	WebhookURL      string        // generic signed JSON webhook sink
	WebhookSecret   string        // its HMAC key (env only)
	SlackURL        string        // Slack incoming webhook (env only: the URL is a credential)
	Log             bool          // log sink
	ExpiryScanEvery time.Duration // 0 = off
	SweepEvery      time.Duration // alerts left unpublished; 0 = off
}

// ReconcileConfig is the scheduled pull of missed events from the Hardenize API (off by default).
type ReconcileConfig struct {
	Every       time.Duration
	APIURL      string
	Org         string
	HookID      string
	User        string
	Password    string
	Credentials string // file with user and password, instead of the two env vars
}

// DefaultConfig is the worker's configuration when no flag or variable is set: the one home of its
// defaults (the dispatch tuning from dispatch.DefaultOptions), used by Bind (and so --help), by the
// receiver's --dev worker and by tests.
func DefaultConfig() Config {
	d := dispatch.DefaultOptions()
	return Config{
		Types:           []string{events.TypeCTEntry, events.TypeCertNew},
		NATSURL:         "nats://127.0.0.1:4222",
		DB:              "sqlite://./data/hzhook.db",
		AdminListen:     "127.0.0.1:9091",
		MaxDeliver:      d.MaxDeliver,
		AckWait:         d.AckWait,
		LogLevel:        "info",
		Concurrency:     d.Concurrency,
		BatchSize:       d.BatchSize,
		Backoff:         d.Backoff,
		ShutdownTimeout: d.ShutdownGrace,
		Alerts:          AlertsConfig{ExpiryScanEvery: time.Hour, SweepEvery: time.Minute},
		Console:         ConsoleConfig{SessionTTL: 12 * time.Hour, SilentAfter: 24 * time.Hour},
		Lint:            LintConfig{Enabled: true},
	}
}

// Bind defines every worker setting on s, with its flag, environment variable and its default
// from DefaultConfig.
func Bind(s *config.Set, c *Config) {
	d := DefaultConfig()
	s.List(&c.Types, "types", "HZ_TYPES", d.Types, "event types this worker group processes; each group has its own durable consumer")
	s.String(&c.NATSURL, "nats-url", "HZ_NATS_URL", d.NATSURL, "NATS server URL")
	s.String(&c.DB, "db", "HZ_DB_URL", d.DB, "inventory store: sqlite://PATH or postgres://...")
	s.String(&c.AdminListen, "admin-listen", "HZ_ADMIN_LISTEN", d.AdminListen, "address of the admin listener (API, /metrics, /healthz, /readyz)")
	s.SecretEnv(&c.AdminToken, "HZ_ADMIN_TOKEN", "bearer token of the admin API; empty answers 401 to all but health and metrics")
	s.Int(&c.MaxDeliver, "max-deliver", "HZ_MAX_DELIVER", d.MaxDeliver, "deliveries of one event before it is dead-lettered")
	s.Duration(&c.AckWait, "ack-wait", "HZ_ACK_WAIT", d.AckWait, "time a handler has before JetStream redelivers the event")
	s.String(&c.LogLevel, "log-level", "HZ_LOG_LEVEL", d.LogLevel, "debug, info, warn or error")
	s.Int(&c.Concurrency, "concurrency", "HZ_CONCURRENCY", d.Concurrency, "batches processed at once by this replica")
	s.Int(&c.BatchSize, "batch-size", "HZ_BATCH_SIZE", d.BatchSize, "events fetched at once and handed to a handler in one call (one store transaction)")
	s.DurationList(&c.Backoff, "backoff", "HZ_BACKOFF", d.Backoff, "delays before redelivering a failing event, one per attempt; the last repeats")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", "HZ_SHUTDOWN_TIMEOUT", d.ShutdownTimeout, "time in-flight events get to finish on shutdown before they are given back")
	bindReconcile(s, &c.Reconcile, d.Reconcile)
	s.Duration(&c.CertSync.Every, "cert-sync-every", "HZ_CERT_SYNC_EVERY", d.CertSync.Every, "compare the inventory with the Hardenize certificate API this often and store what is new or changed (revocations, ownership, effectiveNotAfter), e.g. 24h (0 = off); one replica at a time; needs --hardenize-org and the API credentials")
	bindAlerts(s, &c.Alerts, d.Alerts)
	bindConsole(s, &c.Console, d.Console)
	bindLint(s, &c.Lint, d.Lint)
}

func bindLint(s *config.Set, l *LintConfig, d LintConfig) {
	s.Bool(&l.Enabled, "lint", "HZ_LINT", d.Enabled, "lint every certificate once with zlint on a consumer of its own (hz-lint-<types>), beside the event writer; the rules file's lints section chooses the lints")
	s.Int(&l.Concurrency, "lint-concurrency", "HZ_LINT_CONCURRENCY", d.Concurrency, "batches the lint stage lints at once in this replica (0 = one per two CPUs, at least one: the rest stay with the event writer)")
}

func bindAlerts(s *config.Set, a *AlertsConfig, d AlertsConfig) {
	s.String(&a.Rules, "rules", "HZ_RULES_FILE", d.Rules, "policy rules file (YAML) judging every certificate into findings, reloaded on change; empty = no findings")
	s.String(&a.WebhookURL, "alert-webhook-url", "HZ_ALERT_WEBHOOK_URL", d.WebhookURL, "deliver alerts as signed JSON POSTs to this URL (needs HZ_ALERT_WEBHOOK_SECRET)")
	s.SecretEnv(&a.WebhookSecret, "HZ_ALERT_WEBHOOK_SECRET", "HMAC key signing alert webhooks (X-Hzhook-Signature)")
	s.SecretEnv(&a.SlackURL, "HZ_ALERT_SLACK_URL", "deliver alerts to this Slack incoming-webhook URL")
	s.Bool(&a.Log, "alert-log", "HZ_ALERT_LOG", d.Log, "deliver alerts to the log (one WARN record each)")
	s.Duration(&a.ExpiryScanEvery, "expiry-scan-every", "HZ_EXPIRY_SCAN_EVERY", d.ExpiryScanEvery, "scan the inventory for expiringSoon findings this often (0 = off); one replica at a time; needs --rules")
	s.Duration(&a.SweepEvery, "alert-sweep-every", "HZ_ALERT_SWEEP_EVERY", d.SweepEvery, "publish the alerts of stored findings that never went out (their event was dead-lettered after the store) this often (0 = off: they wait for the event's redrive or the next expiry scan); one replica at a time; needs --rules")
}

// Sinks reports whether any alert sink is configured.
func (a AlertsConfig) Sinks() bool { return a.WebhookURL != "" || a.SlackURL != "" || a.Log }

func bindReconcile(s *config.Set, r *ReconcileConfig, d ReconcileConfig) {
	s.Duration(&r.Every, "reconcile-every", "HZ_RECONCILE_EVERY", d.Every, "pull missed events from the Hardenize API this often, e.g. 24h (0 = off); one replica at a time")
	s.String(&r.APIURL, "hardenize-api-url", "HZ_HARDENIZE_API_URL", d.APIURL, "Hardenize Organization API base URL (default https://api.hardenize.com/v1/org/{org}/)")
	s.String(&r.Org, "hardenize-org", "HZ_HARDENIZE_ORG", d.Org, "organization whose events are reconciled (X-Hardenize-Org) and whose certificates --cert-sync-every syncs")
	s.String(&r.HookID, "reconcile-hook", "HZ_RECONCILE_HOOK", d.HookID, "event hook id the pulled events are stored under, so webhook deliveries and pulled events share message ids")
	s.SecretEnv(&r.User, "HZ_API_USER", "Hardenize API user for --reconcile-every and --cert-sync-every")
	s.SecretEnv(&r.Password, "HZ_API_PASSWORD", "Hardenize API password for --reconcile-every and --cert-sync-every")
	s.String(&r.Credentials, "hardenize-credentials", "HZ_API_CREDENTIALS_FILE", d.Credentials, "file with the Hardenize API user and password (instead of HZ_API_USER and HZ_API_PASSWORD)")
}

// Validate reports every invalid setting at once, each named by its flag.
func (c Config) Validate() error {
	var errs []error
	bad := func(flag, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(msg, args...)))
	}
	if len(c.Types) == 0 {
		bad("types", "name at least one event type, e.g. ct.entry,pki.cert.new")
	}
	if c.NATSURL == "" {
		bad("nats-url", "must not be empty")
	}
	if c.AdminListen == "" {
		bad("admin-listen", "must not be empty")
	}
	if c.MaxDeliver < 1 {
		bad("max-deliver", "must be at least 1")
	}
	if c.AckWait < time.Second {
		bad("ack-wait", "must be at least 1s")
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		bad("concurrency", "must be between 1 and 256")
	}
	if c.BatchSize < 1 || c.BatchSize > 1000 {
		bad("batch-size", "must be between 1 and 1000")
	}
	if len(c.Backoff) == 0 || slices.ContainsFunc(c.Backoff, func(d time.Duration) bool { return d < 0 }) {
		bad("backoff", "name at least one non-negative duration, e.g. 1s,5s,30s")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be positive")
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	if r := c.Reconcile; r.Every != 0 {
		switch {
		case r.Every < time.Minute:
			bad("reconcile-every", "%s is too often (at least 1m; Hardenize asks for a daily pull)", r.Every)
		case r.Org == "":
			bad("hardenize-org", "is required with --reconcile-every")
		case r.HookID == "":
			bad("reconcile-hook", "is required with --reconcile-every (the webhook hook id whose deliveries are reconciled)")
		case r.Credentials == "" && (r.User == "" || r.Password == ""):
			bad("reconcile-every", "needs Hardenize API credentials: HZ_API_USER and HZ_API_PASSWORD, or --hardenize-credentials FILE")
		}
	}
	if every, r := c.CertSync.Every, c.Reconcile; every != 0 {
		switch {
		case every < 0:
			bad("cert-sync-every", "%s: use 0 (off) or a duration such as 24h", every)
		case every < time.Minute:
			bad("cert-sync-every", "%s is too often (at least 1m; each sync lists every certificate, Hardenize advises daily)", every)
		case r.Org == "":
			bad("hardenize-org", "is required with --cert-sync-every")
		case r.Credentials == "" && (r.User == "" || r.Password == ""):
			bad("cert-sync-every", "needs Hardenize API credentials: HZ_API_USER and HZ_API_PASSWORD, or --hardenize-credentials FILE")
		}
	}
	if c.Lint.Concurrency < 0 || c.Lint.Concurrency > 256 {
		bad("lint-concurrency", "must be between 0 (one per two CPUs) and 256")
	}
	errs = append(errs, c.Alerts.validate()...)
	errs = append(errs, c.Console.validate()...)
	return errors.Join(errs...)
}

func (a AlertsConfig) validate() []error {
	var errs []error
	if a.WebhookURL != "" {
		if u, err := url.Parse(a.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("--alert-webhook-url: must be an absolute http(s) URL"))
		}
		if a.WebhookSecret == "" {
			errs = append(errs, errors.New("--alert-webhook-url: needs HZ_ALERT_WEBHOOK_SECRET to sign the alerts"))
		}
	}
	if a.SlackURL != "" {
		if u, err := url.Parse(a.SlackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// Never echo the URL: it is the credential.
			errs = append(errs, errors.New("HZ_ALERT_SLACK_URL: must be an absolute http(s) URL"))
		}
	}
	for _, sched := range []struct {
		flag  string
		every time.Duration
	}{{"--expiry-scan-every", a.ExpiryScanEvery}, {"--alert-sweep-every", a.SweepEvery}} {
		if sched.every < 0 || (sched.every > 0 && sched.every < time.Second) {
			errs = append(errs, fmt.Errorf("%s: %s: use 0 (off) or at least 1s", sched.flag, sched.every))
		}
	}
	return errs
}
