package findings

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hzhook/hzhook/internal/alerts"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

// Row is the stored form of finding f of certificate c at now, with the alert it sends.
func Row(f rules.Finding, c rules.Cert, now time.Time) (inventory.FindingRow, error) {
	a := alerts.New(f, c, now)
	body, err := json.Marshal(a)
	if err != nil {
		return inventory.FindingRow{}, fmt.Errorf("encode alert: %w", err)
	}
	return inventory.FindingRow{
		TBSSHA256: f.TBSSHA256, DedupType: f.DedupType(), Type: string(f.Type), SHA256: f.SHA256, Detail: f.Detail,
		WatchItem: f.WatchItem, ThresholdDays: f.ThresholdDays, Alert: body, CreatedAt: inventory.Ms(now), Lints: f.Lints,
	}, nil
}

// OutboxStore is what the outbox needs of the inventory (*inventory.Store).
type OutboxStore interface {
	Unpublished(ctx context.Context, issuances []string) ([]inventory.OutboxRow, error)
	UnpublishedOldest(ctx context.Context, limit int) ([]inventory.OutboxRow, error)
	MarkPublished(ctx context.Context, tbs, dedupType string, at time.Time) (first bool, err error)
}

// Outbox publishes the alerts of stored findings on HZ_ALERTS and marks them published. The alert
// id is the Nats-Msg-Id, so an alert published twice (a crash between publish and mark, two
// replicas racing) is stored once; each finding is counted and logged once, by the call that
// marked it. It is safe for concurrent use.
type Outbox struct {
	store OutboxStore
	pub   alerts.Publisher
	m     *alerts.Metrics
	log   *slog.Logger
	now   func() time.Time
}

// NewOutbox returns the outbox of store publishing with pub; m counts new findings by type.
func NewOutbox(store OutboxStore, pub alerts.Publisher, m *alerts.Metrics, log *slog.Logger, now func() time.Time) *Outbox {
	return &Outbox{store: store, pub: pub, m: m, log: log, now: now}
}

// PublishIssuances publishes every unpublished finding of the given issuances. It returns the
// first error of each issuance whose alerts did not all go out (the rest of that issuance's
// findings are left for a retry), or err when the findings could not be read at all.
func (o *Outbox) PublishIssuances(ctx context.Context, issuances []string) (failed map[string]error, err error) {
	rows, err := o.store.Unpublished(ctx, issuances)
	if err != nil {
		return nil, err
	}
	return o.publish(ctx, rows), nil
}

// PublishOldest publishes up to limit unpublished findings, oldest first (findings left behind by
// an event that was dead-lettered before its alert went out). It returns how many went out and
// the first error.
func (o *Outbox) PublishOldest(ctx context.Context, limit int) (int, error) {
	rows, err := o.store.UnpublishedOldest(ctx, limit)
	if err != nil {
		return 0, err
	}
	failed := o.publish(ctx, rows)
	n := 0
	for _, r := range rows {
		if failed[r.TBSSHA256] == nil {
			n++
		}
	}
	for _, err := range failed {
		return n, err // one is enough: they share a cause
	}
	return n, nil
}

func (o *Outbox) publish(ctx context.Context, rows []inventory.OutboxRow) map[string]error {
	failed := map[string]error{}
	for _, r := range rows {
		if failed[r.TBSSHA256] != nil {
			continue
		}
		var a alerts.Alert
		if err := json.Unmarshal(r.Alert, &a); err != nil {
			failed[r.TBSSHA256] = fmt.Errorf("decode stored alert %s: %w", r.DedupType, err)
			continue
		}
		if _, err := alerts.Publish(ctx, o.pub, a); err != nil {
			failed[r.TBSSHA256] = err
			continue
		}
		first, err := o.store.MarkPublished(ctx, r.TBSSHA256, r.DedupType, o.now())
		if err != nil {
			failed[r.TBSSHA256] = err
			continue
		}
		if first {
			o.m.Finding(rules.Type(r.Type))
			o.log.InfoContext(ctx, "finding alerted", "type", r.Type, "alert", a.ID, "tbsSha256", r.TBSSHA256, "sha256", a.Cert.SHA256)
		}
	}
	return failed
}
