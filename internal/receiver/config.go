package receiver

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/logging"
	"github.com/hzhook/hzhook/internal/queue"
)

// Config is every setting of the receiver. Its defaults are DefaultConfig.
type Config struct {
	Listen           string
	AdminListen      string
	WebhookPath      string
	SecretsFile      string
	SecretsReload    time.Duration
	NATSURL          string
	DataDir          string
	EmbeddedNATSPort int
	Tolerance        time.Duration
	MaxBodyBytes     int64
	MaxInFlight      int
	PublishTimeout   time.Duration
	StreamReplicas   int
	StreamMaxAge     time.Duration
	StreamMaxBytes   int64
	DedupWindow      time.Duration
	ShutdownTimeout  time.Duration
	LogLevel         string
	Dev              bool
	DevAPIListen     string
	Sources          []string     // "webhook", "pubsub" or both; empty means webhook
	PubSub           PubSubConfig // used when Sources holds "pubsub"
	Durability       DurabilityConfig
}

// DefaultConfig is the receiver's configuration when no flag or variable is set: the one home of
// its defaults, used by Bind (and so --help), by --dev and by tests.
func DefaultConfig() Config {
	streams := queue.DefaultStreamOptions()
	return Config{
		Listen:           ":8080",
		AdminListen:      "127.0.0.1:9090",
		WebhookPath:      "/hardenize/events",
		SecretsReload:    5 * time.Second,
		DataDir:          "./data",
		EmbeddedNATSPort: 4222,
		Tolerance:        5 * time.Minute,
		MaxBodyBytes:     1 << 20,
		MaxInFlight:      1024,
		PublishTimeout:   2 * time.Second,
		StreamReplicas:   streams.Replicas,
		StreamMaxAge:     streams.MaxAge,
		StreamMaxBytes:   streams.MaxBytes,
		DedupWindow:      streams.Duplicates,
		ShutdownTimeout:  20 * time.Second,
		LogLevel:         "info",
		DevAPIListen:     "127.0.0.1:9091",
		Sources:          []string{SourceWebhook},
		Durability:       DefaultDurability(),
		PubSub: PubSubConfig{
			MaxOutstandingMessages: 1000,
			MaxOutstandingBytes:    64 << 20,
			Streams:                1,
			MaxCallbacks:           64,
			NackDelay:              2 * time.Second,
			MaxAckExtension:        30 * time.Second,
		},
	}
}

// Bind defines every receiver setting on s, with its flag, environment variable and its default
// from DefaultConfig.
func Bind(s *config.Set, c *Config) {
	d := DefaultConfig()
	s.String(&c.Listen, "listen", "HZ_LISTEN", d.Listen, "address of the public webhook listener")
	s.String(&c.AdminListen, "admin-listen", "HZ_ADMIN_LISTEN", d.AdminListen, "address of the admin listener (/metrics, /healthz, /readyz); keep it private")
	s.String(&c.WebhookPath, "webhook-path", "HZ_WEBHOOK_PATH", d.WebhookPath, "URL path Hardenize POSTs events to")
	s.String(&c.SecretsFile, "secrets-file", "HZ_SECRETS_FILE", d.SecretsFile, "YAML or JSON file of hooks (org, id, secrets); reloaded when it changes; required unless --dev")
	s.Duration(&c.SecretsReload, "secrets-reload", "HZ_SECRETS_RELOAD", d.SecretsReload, "how often the secrets file is checked for changes")
	s.String(&c.NATSURL, "nats-url", "HZ_NATS_URL", d.NATSURL, "NATS server URL; empty starts an embedded JetStream server storing under --data-dir")
	s.String(&c.DataDir, "data-dir", "HZ_DATA_DIR", d.DataDir, "directory for the embedded NATS store (and SQLite in --dev)")
	s.Int(&c.EmbeddedNATSPort, "embedded-nats-port", "HZ_EMBEDDED_NATS_PORT", d.EmbeddedNATSPort, "loopback client port of the embedded NATS server (0 picks a free one)")
	s.Duration(&c.Tolerance, "tolerance", "HZ_SIGNATURE_TOLERANCE", d.Tolerance, "largest accepted difference between the signature timestamp and now, either way")
	s.Int64(&c.MaxBodyBytes, "max-body-bytes", "HZ_MAX_BODY_BYTES", d.MaxBodyBytes, "largest accepted request body; larger answers 413")
	s.Int(&c.MaxInFlight, "max-in-flight", "HZ_MAX_IN_FLIGHT", d.MaxInFlight, "most webhook requests served at once; more answer 429 with Retry-After")
	s.Duration(&c.PublishTimeout, "publish-timeout", "HZ_PUBLISH_TIMEOUT", d.PublishTimeout, "longest wait for JetStream to acknowledge an event before answering 503")
	s.Int(&c.StreamReplicas, "stream-replicas", "HZ_STREAM_REPLICAS", d.StreamReplicas, "replicas of HZ_EVENTS, HZ_JOURNAL and HZ_DLQ (3 in a NATS cluster)")
	s.Duration(&c.StreamMaxAge, "stream-max-age", "HZ_STREAM_MAX_AGE", d.StreamMaxAge, "how long HZ_EVENTS keeps events (0 = for ever)")
	s.Int64(&c.StreamMaxBytes, "stream-max-bytes", "HZ_STREAM_MAX_BYTES", d.StreamMaxBytes, "size limit of HZ_EVENTS (-1 = none); when full, new events answer 503, old ones are never discarded")
	s.Duration(&c.DedupWindow, "dedup-window", "HZ_DEDUP_WINDOW", d.DedupWindow, "window in which a redelivered event (same org/hook/id) is stored once")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", "HZ_SHUTDOWN_TIMEOUT", d.ShutdownTimeout, "longest wait for in-flight requests at shutdown")
	s.String(&c.LogLevel, "log-level", "HZ_LOG_LEVEL", d.LogLevel, "debug, info, warn or error")
	s.Bool(&c.Dev, "dev", "HZ_DEV", d.Dev, "development mode: embedded NATS, an in-process worker with a SQLite inventory under --data-dir, and a generated demo hook")
	s.String(&c.DevAPIListen, "dev-api-listen", "HZ_DEV_API_LISTEN", d.DevAPIListen, "with --dev: address of the in-process worker's API (inventory, dead letters)")
	bindPubSub(s, c, d)
	bindDurability(s, c, d)
}

// Validate reports every invalid setting at once, each named by its flag.
func (c Config) Validate() error {
	var errs []error
	bad := func(flag, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(msg, args...)))
	}
	if c.Listen == "" {
		bad("listen", "must not be empty")
	}
	if c.AdminListen == "" {
		bad("admin-listen", "must not be empty")
	}
	if c.Listen != "" && c.Listen == c.AdminListen && !strings.HasSuffix(c.Listen, ":0") {
		bad("admin-listen", "must differ from --listen: the admin API must not face the internet")
	}
	if !strings.HasPrefix(c.WebhookPath, "/") {
		bad("webhook-path", "%q must start with /", c.WebhookPath)
	}
	if c.SecretsFile == "" && !c.Dev {
		bad("secrets-file", "is required (a YAML file of hooks: org, id, secrets), or use --dev to try hzhook with a generated demo hook")
	}
	if c.SecretsReload <= 0 {
		bad("secrets-reload", "must be positive")
	}
	if c.NATSURL == "" && c.DataDir == "" {
		bad("data-dir", "must not be empty when --nats-url is empty (the embedded NATS server stores there)")
	}
	if c.EmbeddedNATSPort < 0 || c.EmbeddedNATSPort > 65535 {
		bad("embedded-nats-port", "%d is not a port", c.EmbeddedNATSPort)
	}
	if c.Tolerance <= 0 {
		bad("tolerance", "must be positive")
	}
	if c.MaxBodyBytes < 1024 {
		bad("max-body-bytes", "%d is too small (at least 1024)", c.MaxBodyBytes)
	}
	if c.MaxInFlight < 1 {
		bad("max-in-flight", "must be at least 1")
	}
	if c.PublishTimeout <= 0 {
		bad("publish-timeout", "must be positive")
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		bad("stream-replicas", "%d: must be 1 to 5", c.StreamReplicas)
	}
	if c.StreamMaxAge < 0 {
		bad("stream-max-age", "must not be negative")
	}
	if c.DedupWindow <= 0 {
		bad("dedup-window", "must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be positive")
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	errs = append(errs, c.validateSources()...)
	errs = append(errs, c.validateDurability()...)
	return errors.Join(errs...)
}
