package worker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/console"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/queue"
)

// ConsoleConfig configures the console on the admin listener.
type ConsoleConfig struct {
	SessionTTL     time.Duration
	TrustedProxies []string // IPs or CIDRs of reverse proxies whose X-Forwarded-* headers are believed
	SilentAfter    time.Duration
}

func bindConsole(s *config.Set, c *ConsoleConfig, d ConsoleConfig) {
	s.Duration(&c.SessionTTL, "console-session-ttl", "HZ_CONSOLE_SESSION_TTL", d.SessionTTL, "how long a console login lasts")
	s.List(&c.TrustedProxies, "console-trusted-proxies", "HZ_CONSOLE_TRUSTED_PROXIES", d.TrustedProxies,
		"reverse proxies (IPs or CIDRs) whose X-Forwarded-Proto/-Host/-For the console believes (Secure cookies behind TLS)")
	s.Duration(&c.SilentAfter, "console-silent-after", "HZ_CONSOLE_SILENT_AFTER", d.SilentAfter, "a feed without events for this long shows as silent on the console")
}

func (c ConsoleConfig) validate() []error {
	var errs []error
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("--console-session-ttl: %s: use 1m to 720h", c.SessionTTL))
	}
	if c.SilentAfter < time.Minute {
		errs = append(errs, fmt.Errorf("--console-silent-after: %s: use at least 1m", c.SilentAfter))
	}
	if _, err := c.proxies(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func (c ConsoleConfig) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		ip, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("--console-trusted-proxies: %q is neither an IP address nor a CIDR", p)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// registerConsole serves the console under /ui/ on the admin listener from the worker's stores.
func (a *App) registerConsole(e *echo.Echo, dead *dlq.Store) error {
	proxies, err := a.cfg.Console.proxies()
	if err != nil {
		return err
	}
	_, err = console.Register(e, console.Deps{
		Inventory: a.store, DLQ: dead, Authorizer: a.authz, Consumers: consumerLag{js: a.conn.JS},
	}, console.Options{
		Token: a.cfg.AdminToken, SessionTTL: a.cfg.Console.SessionTTL, TrustedProxies: proxies,
		SilentAfter: a.cfg.Console.SilentAfter, Types: a.cfg.Types, Findings: a.rules != nil, CertSyncEvery: a.cfg.CertSync.Every,
		Log: a.log.With("component", "console"), Now: time.Now,
	})
	return err
}

// consumerLag reads the durable consumers of every worker group (hz-worker-*), its lint stage
// (hz-lint-*) and alert sink (hz-alerts-*), whichever replica runs them, and the receivers'
// journal mover (hz-journal-mover): events answered 204 but not yet in HZ_EVENTS.
type consumerLag struct{ js jetstream.JetStream }

func (l consumerLag) ConsumerLag(ctx context.Context) ([]console.Lag, error) {
	var out []console.Lag
	for _, name := range []string{queue.StreamJournal, queue.StreamEvents, queue.StreamAlerts} {
		st, err := l.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("stream %s: %w", name, err)
		}
		list := st.ListConsumers(ctx)
		for info := range list.Info() {
			if !strings.HasPrefix(info.Name, "hz-worker-") && !strings.HasPrefix(info.Name, "hz-lint-") && !strings.HasPrefix(info.Name, "hz-alerts-") && info.Name != queue.MoverConsumer {
				continue
			}
			lag := console.Lag{Stream: name, Consumer: info.Name, Pending: info.NumPending, AckPending: info.NumAckPending,
				Redelivered: info.NumRedelivered, LastActive: info.Delivered.Last}
			out = append(out, lag)
		}
		if err := list.Err(); err != nil {
			return out, fmt.Errorf("consumers of %s: %w", name, err)
		}
	}
	return out, nil
}

// authzRefresh is how often a replica reads the authorizations other replicas stored.
const authzRefresh = 5 * time.Second

// newAuthz sets up the policy in force: the rules file's with the inventory's authorizations.
func (a *App) newAuthz(ctx context.Context) error {
	var file authz.PolicySource
	if a.rules != nil {
		file = a.rules
	}
	a.authz = authz.New(file, a.store, a.log.With("component", "authz"), time.Now)
	if err := a.authz.Refresh(ctx); err != nil {
		return fmt.Errorf("authorizations: %w", err)
	}
	return nil
}
