package findings

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

// ExpiryStore is what the expiry scan needs of the inventory (*inventory.Store).
type ExpiryStore interface {
	ExpiryCandidates(ctx context.Context, now, until time.Time, after string) ([]inventory.ExpiryCandidate, string, error)
	RecordFindings(ctx context.Context, fs []inventory.FindingRow) error
}

// PolicySource returns the policy in force (*rules.Store).
type PolicySource interface {
	Policy() *rules.Policy
}

// ExpiryStats are the counts of one expiry scan.
type ExpiryStats struct {
	Scanned   int // certificates within the largest threshold and not yet expired
	Found     int // new expiringSoon findings
	Published int // alerts published, including ones left unpublished by earlier failures
}

// ExpiryScan is the scheduled scan for expiringSoon. Outbox may be nil: findings are then stored
// and left unpublished.
type ExpiryScan struct {
	Store  ExpiryStore
	Rules  PolicySource
	Outbox *Outbox
	Log    *slog.Logger
}

// Run scans at now: every final certificate (not precertificate) whose effectiveNotAfter is
// within the policy's largest expiringSoon threshold and not yet past is judged by
// rules.Policy.ExpiryDue against the thresholds its issuance was already alerted for; due
// findings are stored and published through the outbox like event findings. The scan then
// publishes findings left unpublished by earlier failures (an event whose alert could not be
// published until it was dead-lettered). Run it on one replica at a time; running it twice is
// harmless (the finding store keeps each threshold once). It returns the first error after doing
// what it could.
func (s ExpiryScan) Run(ctx context.Context, now time.Time) (ExpiryStats, error) {
	var st ExpiryStats
	policy := s.Rules.Policy()
	var errs []error
	if days := policy.Rules.ExpiringDays; policy.Rules.On(rules.TypeExpiringSoon) && len(days) > 0 {
		until := now.Add(time.Duration(days[0]) * 24 * time.Hour) // sorted descending
		for after := ""; ; {
			cs, next, err := s.Store.ExpiryCandidates(ctx, now, until, after)
			if err != nil {
				errs = append(errs, err)
				break
			}
			st.Scanned += len(cs)
			var rows []inventory.FindingRow
			for _, c := range cs {
				f, ok := policy.ExpiryDue(c.Cert, now, c.Alerted)
				if !ok {
					continue
				}
				row, err := Row(f, c.Cert, now)
				if err != nil {
					s.Log.ErrorContext(ctx, "finding not recorded", "type", f.Type, "tbsSha256", f.TBSSHA256, "err", err)
					continue
				}
				rows = append(rows, row)
			}
			if err := s.Store.RecordFindings(ctx, rows); err != nil {
				errs = append(errs, err)
				break
			}
			st.Found += len(rows)
			if next == "" {
				break
			}
			after = next
		}
	}
	if s.Outbox != nil {
		n, err := s.Outbox.Sweep(ctx, now)
		st.Published = n
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}
