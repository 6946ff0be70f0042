package inventory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Apply writes every change of ws, findings included, in one transaction: all of it or none.
// Rows are written table by table in key order, so concurrent transactions of several PostgreSQL
// replicas lock rows in the same order and do not deadlock each other. Applying the same writes
// again, or in another order, gives the same rows.
func (s *Store) Apply(ctx context.Context, ws []Write) error {
	var (
		evs     []EventRow
		certs   []*CertRow
		entries []*EntryRow
		hosts   []hostRow
		finds   []FindingRow
	)
	for _, w := range ws {
		evs = append(evs, w.Event)
		finds = append(finds, w.Findings...)
		if w.Cert != nil {
			certs = append(certs, w.Cert)
			for _, h := range w.Cert.Hosts {
				hosts = append(hosts, hostRow{h, w.Cert.SHA256})
			}
		}
		if w.Entry != nil {
			entries = append(entries, w.Entry)
			for _, h := range w.Entry.Hosts {
				hosts = append(hosts, hostRow{h, w.Entry.SHA256})
			}
		}
	}
	slices.SortFunc(evs, func(a, b EventRow) int {
		return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.HookID, b.HookID), cmp.Compare(a.ID, b.ID))
	})
	slices.SortStableFunc(certs, func(a, b *CertRow) int { return cmp.Compare(a.SHA256, b.SHA256) })
	slices.SortFunc(entries, func(a, b *EntryRow) int {
		return cmp.Or(cmp.Compare(a.Log, b.Log), cmp.Compare(a.Index, b.Index))
	})
	slices.SortFunc(hosts, func(a, b hostRow) int { return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.sha256, b.sha256)) })
	hosts = slices.Compact(hosts)

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := writeRows(ctx, s, tx, eventsTable, evs, func(e EventRow) string { return e.Org + "\x00" + e.HookID + "\x00" + e.ID }); err != nil {
		return fmt.Errorf("store: events: %w", err)
	}
	if err := writeRows(ctx, s, tx, certsTable, certs, func(c *CertRow) string { return c.SHA256 }); err != nil {
		return fmt.Errorf("store: certificates: %w", err)
	}
	if err := writeRows(ctx, s, tx, hostsTable, hosts, nil); err != nil {
		return fmt.Errorf("store: hosts: %w", err)
	}
	if err := writeRows(ctx, s, tx, entriesTable, entries, nil); err != nil {
		return fmt.Errorf("store: ct entries: %w", err)
	}
	// In the same transaction as the certificate rows: a finding never exists without its
	// certificate, and a certificate is never stored without its findings.
	if err := s.insertFindings(ctx, tx, finds); err != nil {
		return fmt.Errorf("store: findings: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
