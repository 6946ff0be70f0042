package receiver

import (
	"fmt"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/queue"
)

// Values of --group-commit.
const (
	GroupCommitAuto = "auto"
	GroupCommitOn   = "on"
	GroupCommitOff  = "off"
)

// DurabilityConfig is how stored events reach the disk: the embedded server's sync setting and
// the group commit of concurrent deliveries into one entry of the intake journal (HZ_JOURNAL).
type DurabilityConfig struct {
	NATSSync               string // "always" or an interval; the embedded server only
	GroupCommit            string // auto, on or off
	GroupCommitMaxMessages int
	GroupCommitMaxBytes    int
	GroupCommitLinger      time.Duration
}

// DefaultDurability is the durability part of DefaultConfig.
func DefaultDurability() DurabilityConfig {
	o := queue.DefaultGroupCommitOptions()
	return DurabilityConfig{NATSSync: "always", GroupCommit: GroupCommitAuto,
		GroupCommitMaxMessages: o.MaxMessages, GroupCommitMaxBytes: o.MaxBytes, GroupCommitLinger: o.Linger}
}

func bindDurability(s *config.Set, c *Config, defaults Config) {
	d, def := &c.Durability, defaults.Durability
	s.String(&d.NATSSync, "nats-sync", "HZ_NATS_SYNC", def.NATSSync, "embedded NATS server: always = sync every write to disk before it is acknowledged (a 204 survives a power cut); an interval such as 2m = sync in the background that often (events answered 204 within it may be lost when the machine goes down)")
	s.String(&d.GroupCommit, "group-commit", "HZ_GROUP_COMMIT", def.GroupCommit, "write concurrent deliveries as one entry of the intake journal HZ_JOURNAL (one disk sync for many events; every receiver moves entries into HZ_EVENTS moments later): on, off, or auto = on for the embedded server with --nats-sync always, off for an external server (set on for a single-node server with sync_interval: always; a cluster's Raft log already groups plain publishes, and journaling there measured slower)")
	s.Int(&d.GroupCommitMaxMessages, "group-commit-max-messages", "HZ_GROUP_COMMIT_MAX_MESSAGES", def.GroupCommitMaxMessages, "most events in one journal entry (2 to 1000)")
	s.Int(&d.GroupCommitMaxBytes, "group-commit-max-bytes", "HZ_GROUP_COMMIT_MAX_BYTES", def.GroupCommitMaxBytes, "most bytes in one journal entry (capped by the server's max_payload); a larger single event is stored on its own")
	s.Duration(&d.GroupCommitLinger, "group-commit-linger", "HZ_GROUP_COMMIT_LINGER", def.GroupCommitLinger, "longest wait of a group commit for more events once it may go (0 = none: entries fill while the one before is being synced); a lone event at a quiet moment never waits")
}

// natsSync is --nats-sync as the embedded server takes it: always, or the interval.
func (d DurabilityConfig) natsSync() (always bool, interval time.Duration, err error) {
	if d.NATSSync == "always" {
		return true, 0, nil
	}
	iv, err := time.ParseDuration(d.NATSSync)
	if err != nil || iv <= 0 {
		return false, 0, fmt.Errorf("%q is neither always nor a positive interval such as 1s or 2m", d.NATSSync)
	}
	return false, iv, nil
}

func (c Config) validateDurability() []error {
	var errs []error
	bad := func(flag, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(msg, args...)))
	}
	d := c.Durability
	if _, _, err := d.natsSync(); err != nil {
		bad("nats-sync", "%v", err)
	}
	switch d.GroupCommit {
	case GroupCommitAuto, GroupCommitOn, GroupCommitOff:
	default:
		bad("group-commit", "%q is not auto, on or off", d.GroupCommit)
	}
	if d.GroupCommitMaxMessages < 2 || d.GroupCommitMaxMessages > queue.MaxBatchMessages {
		bad("group-commit-max-messages", "%d: must be 2 to %d", d.GroupCommitMaxMessages, queue.MaxBatchMessages)
	}
	if d.GroupCommitMaxBytes < 1024 {
		bad("group-commit-max-bytes", "%d is too small (at least 1024)", d.GroupCommitMaxBytes)
	}
	if d.GroupCommitLinger < 0 || d.GroupCommitLinger > time.Second {
		bad("group-commit-linger", "%s: must be 0 to 1s", d.GroupCommitLinger)
	}
	return errs
}

// groupCommit decides whether deliveries are group-committed, and says why. external is true when
// --nats-url names a server; embeddedAlways is whether the embedded server syncs always.
func (c Config) groupCommit(external, embeddedAlways bool) (on bool, why string) {
	switch {
	case c.Durability.GroupCommit == GroupCommitOn:
		return true, "--group-commit on"
	case c.Durability.GroupCommit == GroupCommitOff:
		return false, "--group-commit off"
	case external:
		return false, "external NATS server: its sync setting is not visible to hzhook (set --group-commit on for a single-node server with sync_interval: always; leave it off for a cluster, whose Raft log already groups plain publishes)"
	case !embeddedAlways:
		return false, "the embedded server syncs in the background: plain publishes are faster than journal entries then"
	default:
		return true, "the embedded server syncs every write: one sync per journal entry instead of one per event"
	}
}
