package receiver

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/pubsub"
)

// Sources of events a receiver can take in (--source).
const (
	SourceWebhook = "webhook"
	SourcePubSub  = "pubsub"
)

// PubSubConfig is the Pub/Sub source's part of Config: where the subscription is (a destination
// file, or project, subscription and credentials file; explicit flags win over the file) and how
// hard to pull it.
type PubSubConfig struct {
	Destination            string // destination JSON file as GET /eventDestinations returns it
	Project                string
	Subscription           string
	CredentialsFile        string // service-account key file (a Kubernetes Secret); never logged
	EmulatorHost           string // PUBSUB_EMULATOR_HOST: no credentials are used then
	MaxOutstandingMessages int
	MaxOutstandingBytes    int
	Streams                int
	MaxCallbacks           int
	NackDelay              time.Duration
	MaxAckExtension        time.Duration
}

func bindPubSub(s *config.Set, c *Config, d Config) {
	p := &c.PubSub
	s.List(&c.Sources, "source", "HZ_SOURCE", d.Sources, "where events come from: webhook, pubsub, or webhook,pubsub")
	s.String(&p.Destination, "pubsub-destination", "HZ_PUBSUB_DESTINATION", d.PubSub.Destination, "Pub/Sub destination JSON file exactly as Hardenize's GET /eventDestinations returns it (project, subscription, subscriberCredentials)")
	s.String(&p.Project, "pubsub-project", "HZ_PUBSUB_PROJECT", d.PubSub.Project, "Google Cloud project of the subscription (overrides the destination file)")
	s.String(&p.Subscription, "pubsub-subscription", "HZ_PUBSUB_SUBSCRIPTION", d.PubSub.Subscription, "Pub/Sub subscription to consume (overrides the destination file)")
	s.String(&p.CredentialsFile, "pubsub-credentials", "HZ_PUBSUB_CREDENTIALS", d.PubSub.CredentialsFile, "service-account key JSON file for the subscription (overrides the destination's subscriberCredentials)")
	s.String(&p.EmulatorHost, "pubsub-emulator-host", "PUBSUB_EMULATOR_HOST", d.PubSub.EmulatorHost, "host:port of a Pub/Sub emulator; no credentials are used then")
	s.Int(&p.MaxOutstandingMessages, "pubsub-max-outstanding-messages", "HZ_PUBSUB_MAX_OUTSTANDING_MESSAGES", d.PubSub.MaxOutstandingMessages, "flow control: most Pub/Sub messages received but not yet acked")
	s.Int(&p.MaxOutstandingBytes, "pubsub-max-outstanding-bytes", "HZ_PUBSUB_MAX_OUTSTANDING_BYTES", d.PubSub.MaxOutstandingBytes, "flow control: most bytes of Pub/Sub messages received but not yet acked")
	s.Int(&p.Streams, "pubsub-streams", "HZ_PUBSUB_STREAMS", d.PubSub.Streams, "parallel StreamingPull streams (goroutines pulling the subscription)")
	s.Int(&p.MaxCallbacks, "pubsub-max-callbacks", "HZ_PUBSUB_MAX_CALLBACKS", d.PubSub.MaxCallbacks, "most Pub/Sub messages verified and stored at once")
	s.Duration(&p.MaxAckExtension, "pubsub-max-ack-extension", "HZ_PUBSUB_MAX_ACK_EXTENSION", d.PubSub.MaxAckExtension, "longest lease asked for a message at a time (10s to 10m): how long the messages of a crashed receiver wait before Pub/Sub delivers them again")
	s.Duration(&p.NackDelay, "pubsub-nack-delay", "HZ_PUBSUB_NACK_DELAY", d.PubSub.NackDelay, "wait before handing back a message JetStream could not store, so an outage is no busy loop")
}

// enabled reports whether --source holds src (an empty list means webhook).
func (c Config) enabled(src string) bool {
	if len(c.Sources) == 0 {
		return src == SourceWebhook
	}
	return slices.Contains(c.Sources, src)
}

func (c Config) validateSources() []error {
	var errs []error
	bad := func(flag, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(msg, args...)))
	}
	for _, src := range c.Sources {
		if src != SourceWebhook && src != SourcePubSub {
			bad("source", "%q is not webhook or pubsub", src)
		}
	}
	if !c.enabled(SourcePubSub) {
		return errs
	}
	p := c.PubSub
	if p.Destination == "" {
		if p.Project == "" {
			bad("pubsub-project", "is required with --source pubsub unless --pubsub-destination is given")
		}
		if p.Subscription == "" {
			bad("pubsub-subscription", "is required with --source pubsub unless --pubsub-destination is given")
		}
		if p.CredentialsFile == "" && p.EmulatorHost == "" {
			bad("pubsub-credentials", "is required with --source pubsub unless --pubsub-destination or PUBSUB_EMULATOR_HOST is given")
		}
	}
	if p.MaxOutstandingMessages < 1 {
		bad("pubsub-max-outstanding-messages", "must be at least 1")
	}
	if p.MaxOutstandingBytes < 64<<10 {
		bad("pubsub-max-outstanding-bytes", "%d is too small (at least 65536)", p.MaxOutstandingBytes)
	}
	if p.Streams < 1 || p.Streams > 64 {
		bad("pubsub-streams", "%d: must be 1 to 64", p.Streams)
	}
	if p.MaxCallbacks < 1 {
		bad("pubsub-max-callbacks", "must be at least 1")
	}
	if p.MaxAckExtension < 10*time.Second || p.MaxAckExtension > 10*time.Minute {
		bad("pubsub-max-ack-extension", "%s: must be 10s to 10m (Pub/Sub's bounds on an ack deadline)", p.MaxAckExtension)
	}
	if p.NackDelay < 0 {
		bad("pubsub-nack-delay", "must not be negative")
	}
	return errs
}

// pubsubConfig reads the destination and credentials files into the source's configuration.
// Errors name the flag and never quote the credentials.
func (c Config) pubsubConfig() (pubsub.Config, error) {
	p := c.PubSub
	out := pubsub.Config{
		Project: p.Project, Subscription: p.Subscription, EmulatorHost: p.EmulatorHost,
		MaxOutstandingMessages: p.MaxOutstandingMessages, MaxOutstandingBytes: p.MaxOutstandingBytes,
		Streams: p.Streams, MaxCallbacks: p.MaxCallbacks, NackDelay: p.NackDelay, MaxAckExtension: p.MaxAckExtension,
		DeadLetterTimeout: c.PublishTimeout, ShutdownTimeout: c.ShutdownTimeout,
	}
	if p.Destination != "" {
		d, err := pubsub.LoadDestination(p.Destination)
		if err != nil {
			return pubsub.Config{}, fmt.Errorf("--pubsub-destination: %w", err)
		}
		out.Project = cmp.Or(out.Project, d.Project)
		out.Subscription = cmp.Or(out.Subscription, d.Subscription)
		out.CredentialsJSON = []byte(d.SubscriberCredentials)
	}
	if p.CredentialsFile != "" {
		b, err := os.ReadFile(p.CredentialsFile)
		if err != nil {
			return pubsub.Config{}, fmt.Errorf("--pubsub-credentials: %w", err)
		}
		if err := pubsub.CheckCredentials(b); err != nil {
			return pubsub.Config{}, fmt.Errorf("--pubsub-credentials %s: %w", p.CredentialsFile, err)
		}
		out.CredentialsJSON = b
	}
	if len(out.CredentialsJSON) == 0 && out.EmulatorHost == "" {
		return pubsub.Config{}, fmt.Errorf("--pubsub-destination: subscriberCredentials is empty; give --pubsub-credentials (or PUBSUB_EMULATOR_HOST for the emulator)")
	}
	if out.EmulatorHost != "" {
		out.CredentialsJSON = nil // the emulator takes none; never send a real key to it
	}
	return out, nil
}
