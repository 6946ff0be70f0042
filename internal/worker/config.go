package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/logging"
)

// Config is every setting of the worker. Defaults live in Bind.
type Config struct {
	Types       []string
	NATSURL     string
	DB          string
	AdminListen string
	AdminToken  string
	MaxDeliver  int
	AckWait     time.Duration
	LogLevel    string
}

// Bind defines every worker setting on s, with its flag, environment variable and default.
func Bind(s *config.Set, c *Config) {
	s.List(&c.Types, "types", "HZ_TYPES", []string{"ct.entry", "pki.cert.new"}, "event types this worker group processes; each group has its own durable consumer")
	s.String(&c.NATSURL, "nats-url", "HZ_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL")
	s.String(&c.DB, "db", "HZ_DB_URL", "sqlite://./data/hzhook.db", "inventory store: sqlite://PATH or postgres://...")
	s.String(&c.AdminListen, "admin-listen", "HZ_ADMIN_LISTEN", "127.0.0.1:9091", "address of the admin listener (API, /metrics, /healthz, /readyz)")
	s.SecretString(&c.AdminToken, "admin-token", "HZ_ADMIN_TOKEN", "", "bearer token of the admin API; empty answers 401 to all but health and metrics (prefer the env var: flags land in shell history)")
	s.Int(&c.MaxDeliver, "max-deliver", "HZ_MAX_DELIVER", 5, "deliveries of one event before it is dead-lettered")
	s.Duration(&c.AckWait, "ack-wait", "HZ_ACK_WAIT", 30*time.Second, "time a handler has before JetStream redelivers the event")
	s.String(&c.LogLevel, "log-level", "HZ_LOG_LEVEL", "info", "debug, info, warn or error")
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
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	return errors.Join(errs...)
}
