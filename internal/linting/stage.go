package linting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/findings"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/lint"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/rules"
)

// Store is what the stage needs of the inventory (*inventory.Store).
type Store interface {
	LintedWith(ctx context.Context, fingerprint string, shas []string) (map[string]bool, error)
	ApplyLints(ctx context.Context, runs []*inventory.LintRun, finds []inventory.FindingRow) error
}

// PolicySource returns the policy in force (*rules.Store).
type PolicySource interface {
	Policy() *rules.Policy
}

// Options are a Stage's dependencies.
type Options struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Now stamps lint runs and findings; time.Now when nil.
	Now func() time.Time
	// Rules chooses the lints (the rules file's lints section) and judges their results into
	// lintError findings; nil lints with lint.DefaultConfig and records no finding.
	Rules PolicySource
	// Outbox publishes the alerts of new findings after the commit; nil leaves them stored and
	// unpublished (the expiry scan's sweep publishes them later).
	Outbox *findings.Outbox
	// Yield, when set, is waited on before each batch and each certificate: the stage then lints
	// in the CPU the store path leaves over.
	Yield *Yield
}

// Stage lints the certificates of ct.entry and pki.cert.new events. It is safe for concurrent
// use: the dispatcher runs several batches at once, each linted on its own goroutine.
type Stage struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	rules  PolicySource
	outbox *findings.Outbox
	yield  *Yield
	m      *metrics
	claims *claims

	def     *lint.Linter           // without rules
	current atomic.Pointer[linter] // of the policy last seen
}

// linter is the Linter built from one policy's lints section.
type linter struct {
	policy *rules.Policy
	l      *lint.Linter
	on     bool
}

// New returns the lint stage writing into store. Without Rules it lints with lint.DefaultConfig.
func New(store Store, o Options) (*Stage, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	def, err := lint.New(lint.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("lint stage: %w", err)
	}
	s := &Stage{store: store, log: o.Log, now: o.Now, rules: o.Rules, outbox: o.Outbox, yield: o.Yield,
		m: newMetrics(o.Registerer), def: def, claims: newClaims()}
	if _, err := s.linter(s.policy()); err != nil {
		return nil, fmt.Errorf("lint stage: %w", err)
	}
	return s, nil
}

// Handlers are the dispatch handlers of the two event types that carry a certificate.
func (s *Stage) Handlers() map[string]dispatch.Handler {
	return map[string]dispatch.Handler{events.TypeCTEntry: s, events.TypeCertNew: s}
}

func (s *Stage) policy() *rules.Policy {
	if s.rules == nil {
		return nil
	}
	return s.rules.Policy()
}

// linter returns the Linter of policy's lints section, built once per policy (a rules reload
// gives a new policy; an unchanged lints section gives the same fingerprint).
func (s *Stage) linter(policy *rules.Policy) (*linter, error) {
	if policy == nil {
		return &linter{l: s.def, on: true}, nil
	}
	if c := s.current.Load(); c != nil && c.policy == policy {
		return c, nil
	}
	l, err := lint.New(policy.Lints)
	if err != nil {
		return nil, err
	}
	c := &linter{policy: policy, l: l, on: policy.Lints.Enabled}
	if old := s.current.Swap(c); old == nil || old.l.Fingerprint() != l.Fingerprint() || old.on != c.on {
		s.log.Info("linting with", "enabled", c.on, "zlint", l.Version(), "lints", len(l.Names()), "fingerprint", l.Fingerprint())
	}
	return c, nil
}

// item is one message of a batch on its way through Handle.
type item struct {
	ev       events.Event
	sha      string
	issuance string // whose unpublished findings must be out before the message is done
	lints    bool   // this message's certificate was linted in this batch
	done     bool   // settled already (unreadable)
}

// Handle lints the certificates of a batch that are not yet linted with the current fingerprint,
// each once however often the batch names it, and stores their runs and lintError findings in one
// transaction. A message is done once that transaction committed and the alerts of its issuance's
// new findings are on HZ_ALERTS; a message whose certificate was linted before is done at once (a
// redelivery first publishes what an earlier attempt may have left unpublished). An event the
// stage cannot read is acknowledged: the event writer dead-letters it. Any other failure retries
// the messages it touched.
func (s *Stage) Handle(ctx context.Context, batch []dispatch.Message) []error {
	errs := make([]error, len(batch))
	policy := s.policy()
	lt, err := s.linter(policy)
	if err != nil {
		s.log.ErrorContext(ctx, "lint config refused", "err", err)
		return fill(errs, fmt.Errorf("lint: %w", err), nil)
	}
	if !lt.on {
		s.m.certs.WithLabelValues(outcomeDisabled).Add(float64(len(batch)))
		return errs
	}
	if err := s.wait(ctx); err != nil {
		return fill(errs, err, nil)
	}
	fp := lt.l.Fingerprint()
	items := make([]item, len(batch))
	var shas []string
	for i, m := range batch {
		ev, sha, err := key(m)
		if err != nil {
			s.invalid(ctx, &items[i], m, err)
			continue
		}
		items[i].ev, items[i].sha = ev, sha
		if !s.claims.known(fp + "/" + sha) {
			shas = append(shas, sha)
		}
	}
	linted := map[string]bool{}
	if len(shas) > 0 {
		if linted, err = s.store.LintedWith(ctx, fp, shas); err != nil {
			return fill(errs, fmt.Errorf("lint: %w", err), items)
		}
	}
	// Claims taken, true once that certificate's run is among runs; applied once they are stored.
	claimed := map[string]bool{}
	applied := false
	defer func() {
		for k, inRuns := range claimed {
			s.claims.release(k, applied && inRuns)
		}
	}()
	var (
		runs  []*inventory.LintRun
		finds []inventory.FindingRow
	)
	for i := range items {
		it := &items[i]
		if it.done {
			continue
		}
		if linted[it.sha] || s.claims.known(fp+"/"+it.sha) {
			s.m.certs.WithLabelValues(outcomeSkipped).Inc()
			if batch[i].Attempt > 1 && policy != nil {
				if sub, err := decode(it.ev.Type, it.ev); err == nil {
					it.issuance = sub.cert.TBSSHA256
				}
			}
			continue
		}
		sub, err := decode(it.ev.Type, it.ev)
		if err != nil {
			s.invalid(ctx, it, batch[i], err)
			continue
		}
		if !s.claims.claim(fp + "/" + it.sha) { // another batch lints it now
			s.m.certs.WithLabelValues(outcomeSkipped).Inc()
			continue
		}
		claimed[fp+"/"+it.sha] = false
		if err := s.wait(ctx); err != nil {
			errs[i] = err
			continue
		}
		run, fs := s.lint(ctx, lt.l, policy, sub)
		if batch[i].Header.Get(queue.HeaderAlerts) == queue.AlertsOff {
			// An import's history: its lint findings are recorded, like the writer's, and page no one.
			for k := range fs {
				fs[k].Suppressed = true
			}
		}
		findings.WithTraceParent(fs, batch[i].Trace) // its alert continues this event's trace
		claimed[fp+"/"+it.sha] = true
		runs, finds = append(runs, run), append(finds, fs...)
		it.lints, linted[it.sha] = true, true // its repeats in this batch are skipped
		if len(fs) > 0 {
			it.issuance = sub.cert.TBSSHA256
		}
	}
	if len(runs) > 0 {
		err := s.store.ApplyLints(ctx, runs, finds)
		for i := range items {
			if !items[i].lints {
				continue
			}
			if err != nil {
				errs[i] = fmt.Errorf("lint: %w", err)
				items[i].issuance = ""
				s.m.certs.WithLabelValues(outcomeError).Inc()
			}
		}
		if err == nil {
			applied = true
			for _, r := range runs {
				outcome := outcomeLinted
				if r.Unparsable {
					outcome = outcomeUnparsable
				}
				s.m.certs.WithLabelValues(outcome).Inc()
			}
		}
	}
	s.publish(ctx, items, errs)
	return errs
}

// lint lints one certificate into its run and the findings policy (nil: none) makes of it.
func (s *Stage) lint(ctx context.Context, l *lint.Linter, policy *rules.Policy, sub subject) (*inventory.LintRun, []inventory.FindingRow) {
	now := s.now()
	run := &inventory.LintRun{SHA256: sub.cert.SHA256, Version: l.Version(), Fingerprint: l.Fingerprint(), LintedAt: inventory.Ms(now)}
	start := time.Now()
	r, err := l.Lint(sub.der)
	s.m.seconds.Observe(time.Since(start).Seconds())
	if err != nil { // lint.ErrUnparsable: the event writer finds the certificate malformed
		s.log.DebugContext(ctx, "certificate not linted", "sha256", run.SHA256, "err", err)
		run.Unparsable = true
		return run, nil
	}
	run.Counts = inventory.LintCounts{
		Fatal: r.Count(lint.StatusFatal), Error: r.Count(lint.StatusError), Warn: r.Count(lint.StatusWarn),
		Notice: r.Count(lint.StatusNotice), Pass: r.Passed, NA: r.NotApplicable, NE: r.NotEffective,
	}
	for _, res := range r.Results {
		run.Results = append(run.Results, inventory.LintResult{
			Lint: res.Lint, Status: string(res.Status), Source: res.Source,
			Citation: res.Citation, Description: res.Description, Details: res.Details, // the inventory makes them storable
		})
	}
	if policy == nil {
		return run, nil
	}
	var rows []inventory.FindingRow
	for _, f := range policy.EvaluateLints(sub.cert, r) {
		row, err := findings.Row(f, sub.cert, now)
		if err != nil {
			s.log.ErrorContext(ctx, "finding not recorded", "type", f.Type, "tbsSha256", f.TBSSHA256, "err", err)
			continue
		}
		rows = append(rows, row)
	}
	return run, rows
}

// invalid settles a message the stage cannot read: acknowledged, counted and logged at debug (the
// event writer dead-letters and logs it).
func (s *Stage) invalid(ctx context.Context, it *item, m dispatch.Message, err error) {
	it.done = true
	s.m.certs.WithLabelValues(outcomeInvalid).Inc()
	s.log.DebugContext(ctx, "event not linted: the event writer dead-letters it", "seq", m.Seq, "err", err)
}

// wait gives way to the store path, and counts the time.
func (s *Stage) wait(ctx context.Context) error {
	if s.yield == nil {
		return ctx.Err()
	}
	start := time.Now()
	err := s.yield.Wait(ctx)
	s.m.yielded.Add(time.Since(start).Seconds())
	return err
}

// publish publishes the unpublished findings of the issuances items name. A message whose
// issuance still has an unpublished finding afterwards gets a transient error: its redelivery
// publishes it.
func (s *Stage) publish(ctx context.Context, items []item, errs []error) {
	if s.outbox == nil {
		return
	}
	var issuances []string
	for i, it := range items {
		if errs[i] == nil && it.issuance != "" {
			issuances = append(issuances, it.issuance)
		}
	}
	if len(issuances) == 0 {
		return
	}
	failed, err := s.outbox.PublishIssuances(ctx, issuances)
	for i, it := range items {
		if errs[i] != nil || it.issuance == "" {
			continue
		}
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("lint: alerts: %w", err)
		case failed[it.issuance] != nil:
			errs[i] = fmt.Errorf("lint: alerts of issuance %s: %w", it.issuance, failed[it.issuance])
		}
	}
}

// fill sets err for every message not settled already.
func fill(errs []error, err error, items []item) []error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("lint: %w", err)
	}
	for i := range errs {
		if items == nil || !items[i].done {
			errs[i] = err
		}
	}
	return errs
}
