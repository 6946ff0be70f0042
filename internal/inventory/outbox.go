package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/rules"
)

// judge adds to w the findings policy makes of c, each with the alert to publish for it.
func (h *Handler) judge(w *write, policy *rules.Policy, c rules.Cert) {
	w.issuance = c.TBSSHA256
	now := h.now()
	for _, f := range policy.Evaluate(c) {
		if row, err := findingOf(f, c, now); err == nil {
			w.findings = append(w.findings, row)
		} else {
			h.log.Error("finding not recorded", "type", f.Type, "tbsSha256", f.TBSSHA256, "err", err)
		}
	}
}

func findingOf(f rules.Finding, c rules.Cert, now time.Time) (findingRow, error) {
	a := alerts.New(f, c, now)
	body, err := json.Marshal(a)
	if err != nil {
		return findingRow{}, fmt.Errorf("encode alert: %w", err)
	}
	return findingRow{
		tbs: f.TBSSHA256, dedupType: f.DedupType(), typ: string(f.Type), sha256: f.SHA256, detail: f.Detail,
		watchItem: f.WatchItem, thresholdDays: f.ThresholdDays, alert: body, createdAt: ms(now),
	}, nil
}

// publishBatch publishes the unpublished findings of the issuances of the stored messages of a
// batch. A message whose issuance still has an unpublished finding afterwards gets a transient
// error: its redelivery finds the finding again and publishes it.
func (h *Handler) publishBatch(ctx context.Context, ws []write, idx []int, errs []error) {
	if h.rules == nil || h.pub == nil {
		return
	}
	var issuances []string
	for j, w := range ws {
		if errs[idx[j]] == nil && w.issuance != "" {
			issuances = append(issuances, w.issuance)
		}
	}
	if len(issuances) == 0 {
		return
	}
	rows, err := h.w.unpublished(ctx, issuances)
	if err != nil {
		for j, w := range ws {
			if errs[idx[j]] == nil && w.issuance != "" {
				errs[idx[j]] = fmt.Errorf("inventory: alerts: %w", err)
			}
		}
		return
	}
	failed := h.publish(ctx, rows)
	for j, w := range ws {
		if err := failed[w.issuance]; errs[idx[j]] == nil && err != nil {
			errs[idx[j]] = fmt.Errorf("inventory: alerts of issuance %s: %w", w.issuance, err)
		}
	}
}

// publish puts the alert of each row on HZ_ALERTS and marks it published. The alert id is the
// Nats-Msg-Id, so an alert published twice (a crash between publish and mark, two replicas
// racing) is stored once. It returns the first error of each issuance whose alerts did not all
// go out; the remaining findings of that issuance are left for the retry.
func (h *Handler) publish(ctx context.Context, rows []outboxRow) map[string]error {
	failed := map[string]error{}
	for _, r := range rows {
		if failed[r.tbs] != nil {
			continue
		}
		var a alerts.Alert
		if err := json.Unmarshal(r.alert, &a); err != nil {
			failed[r.tbs] = fmt.Errorf("decode stored alert %s: %w", r.dedupType, err)
			continue
		}
		if _, err := alerts.Publish(ctx, h.pub, a); err != nil {
			failed[r.tbs] = err
			continue
		}
		first, err := h.w.markPublished(ctx, r.tbs, r.dedupType, h.now())
		if err != nil {
			failed[r.tbs] = err
			continue
		}
		if first {
			h.am.Finding(rules.Type(r.typ))
			h.log.InfoContext(ctx, "finding alerted", "type", r.typ, "alert", a.ID, "tbsSha256", r.tbs, "sha256", a.Cert.SHA256)
		}
	}
	return failed
}

// ExpiryStats are the counts of one expiry scan.
type ExpiryStats struct {
	Scanned   int // certificates within the largest threshold and not yet expired
	Found     int // new expiringSoon findings
	Published int // alerts published, including ones left unpublished by earlier failures
}

// sweepLimit bounds how many unpublished findings one scan retries.
const sweepLimit = 1000

// ScanExpiry runs the scheduled expiry scan at now: every final certificate (not precertificate)
// whose effectiveNotAfter is within the policy's largest expiringSoon threshold and not yet past
// is judged by rules.Policy.ExpiryDue against the thresholds its issuance was already alerted for;
// due findings are stored and published through the same outbox as event findings. The scan then
// publishes findings left unpublished by earlier failures (an event whose alert could not be
// published until it was dead-lettered). Run it on one replica at a time; running it twice is
// harmless (the finding store keeps each threshold once). It returns the first error after doing
// what it could.
func (h *Handler) ScanExpiry(ctx context.Context, now time.Time) (ExpiryStats, error) {
	var st ExpiryStats
	if h.rules == nil {
		return st, nil
	}
	policy := h.rules.Policy()
	var errs []error
	if days := policy.Rules.ExpiringDays; policy.Rules.On(rules.TypeExpiringSoon) && len(days) > 0 {
		until := now.Add(time.Duration(days[0]) * 24 * time.Hour) // sorted descending
		for after := ""; ; {
			cs, next, err := h.w.expiryCandidates(ctx, now, until, after)
			if err != nil {
				errs = append(errs, err)
				break
			}
			st.Scanned += len(cs)
			var rows []findingRow
			for _, c := range cs {
				if f, ok := policy.ExpiryDue(c.cert, now, c.alerted); ok {
					if row, err := findingOf(f, c.cert, now); err == nil {
						rows = append(rows, row)
					}
				}
			}
			if err := h.w.recordFindings(ctx, rows); err != nil {
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
	if h.pub != nil {
		pending, err := h.w.unpublishedOldest(ctx, sweepLimit)
		if err != nil {
			errs = append(errs, err)
		}
		failed := h.publish(ctx, pending)
		for _, r := range pending {
			if failed[r.tbs] == nil {
				st.Published++
			}
		}
		for _, err := range failed {
			errs = append(errs, err)
			break // one is enough: they share a cause
		}
	}
	return st, errors.Join(errs...)
}
