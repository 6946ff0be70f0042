package worker

import (
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/linting"
	"github.com/hzhook/hzhook/internal/queue"
)

// StageLint is the dead-letter stage of the lint stage: its dead letters are hz.dlq.lint.
const StageLint = "lint"

// LintConsumerName is the lint stage's durable consumer of the worker group for types, beside
// ConsumerName's: "hz-lint-" followed by the sorted subject tokens.
func LintConsumerName(types []string) string {
	tokens := make([]string, 0, len(types))
	for _, t := range types {
		tokens = append(tokens, queue.Token(t))
	}
	sort.Strings(tokens)
	return "hz-lint-" + strings.Join(tokens, "-")
}

// newLintStage sets up the lint stage of the group: its dispatcher on the group's subjects with
// the worker's retry settings and --lint-concurrency batches, dead letters to stage "lint". It
// returns writer, the event writer's handlers, wrapped so that the stage gives way to them.
// policy is the event writer's (the rules file's with the authorizations stored in the inventory,
// so that an authorization made in the console stops lintError findings too); policy and outbox
// are nil without --rules. Without a type that carries a certificate there is nothing to lint: no
// stage, writer unchanged.
func newLintStage(conn *queue.Conn, cfg Config, store *inventory.Store, policy linting.PolicySource, outbox *findings.Outbox,
	writer map[string]dispatch.Handler, log *slog.Logger, reg prometheus.Registerer, tel telemetry) (map[string]dispatch.Handler, *dispatch.Dispatcher, error) {
	if !slices.Contains(cfg.Types, events.TypeCTEntry) && !slices.Contains(cfg.Types, events.TypeCertNew) {
		return writer, nil, nil
	}
	log = log.With("component", "lint")
	yield := linting.NewYield(linting.DefaultMaxYield)
	o := linting.Options{Log: log, Registerer: reg, Yield: yield}
	if policy != nil {
		o.Rules, o.Outbox = policy, outbox
	}
	stage, err := linting.New(store, o)
	if err != nil {
		return nil, nil, err
	}
	subjects := make([]string, 0, len(cfg.Types))
	for _, t := range cfg.Types {
		subjects = append(subjects, queue.Subject(t))
	}
	concurrency := cfg.Lint.Concurrency
	if concurrency == 0 {
		concurrency = linting.DefaultConcurrency(runtime.GOMAXPROCS(0))
	}
	d, err := dispatch.New(conn.JS, nil, dispatch.Options{
		Stream:         queue.StreamEvents,
		Consumer:       LintConsumerName(cfg.Types),
		Description:    "hzhook lint stage for " + strings.Join(cfg.Types, ", "),
		FilterSubjects: subjects,
		Stage:          StageLint,
		// The stage reads the envelope itself: an event it cannot read is the event writer's to
		// dead-letter, once.
		ParseEnvelope:  false,
		Handlers:       stage.Handlers(),
		AckOnly:        []string{events.TypeTest},
		MaxDeliver:     cfg.MaxDeliver,
		Backoff:        cfg.Backoff,
		AckWait:        cfg.AckWait,
		BatchSize:      cfg.BatchSize,
		Concurrency:    concurrency,
		ShutdownGrace:  cfg.ShutdownTimeout,
		Log:            log,
		Registerer:     reg,
		TracerProvider: tel.tp,
		Propagator:     tel.prop,
	})
	if err != nil {
		return nil, nil, err
	}
	return yield.Track(writer), d, nil
}
