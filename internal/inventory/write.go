package inventory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// events: the earliest receipt keeps its time and source.
var eventsTable = table{
	name:    "received_events",
	columns: []string{"org", "hook_id", "event_id", "type", "created_on", "source", "received_at"},
	pgTypes: []string{"text", "text", "text", "text", "timestamptz", "text", "timestamptz"},
	conflict: `ON CONFLICT (org, hook_id, event_id) DO UPDATE SET received_at = excluded.received_at, source = excluded.source
WHERE excluded.received_at < received_events.received_at
   OR (excluded.received_at = received_events.received_at AND excluded.source < received_events.source)`,
}

// certColumns are the certificate columns in insert order.
var certColumns = []string{
	"sha256", "tbs_sha256", "issuance", "detail", "subject", "issuer", "issuer_ca", "serial",
	"not_before", "not_after", "effective_not_after", "hosts", "key_alg", "key_len", "key_strength", "sig_alg",
	"wildcard", "self_signed", "precert", "ownership", "matches_org_host", "origin",
	"first_seen", "last_seen", "payload",
}

var certsTable = table{
	name:    "certificates AS c",
	columns: certColumns,
	pgTypes: []string{"text", "text", "text", "smallint", "text", "text", "text", "text",
		"timestamptz", "timestamptz", "timestamptz", "text", "text", "integer", "integer", "text",
		"boolean", "boolean", "boolean", "text", "boolean", "text",
		"timestamptz", "timestamptz", "jsonb"},
	conflict: certConflictSQL(),
}

// certConflictSQL merges a certificate row so that the result is the same in any order:
//   - the incoming row "wins" the descriptive columns when it ranks higher (pki.cert.new over a
//     ct.entry leaf), or ranks the same and was seen later, or, as a last deterministic tie-break,
//     has the greater payload;
//   - first_seen is the earliest and last_seen the latest of the rows of the highest rank;
//   - a known tbs_sha256 (and so the issuance link) is never replaced by an unknown one.
func certConflictSQL() string {
	const (
		wins = `(excluded.detail > c.detail OR (excluded.detail = c.detail AND (excluded.last_seen > c.last_seen
	OR (excluded.last_seen = c.last_seen AND excluded.payload > c.payload))))`
		keepKnown = `CASE WHEN c.tbs_sha256 = '' THEN excluded.%[1]s WHEN excluded.tbs_sha256 = '' THEN c.%[1]s
	WHEN ` + wins + ` THEN excluded.%[1]s ELSE c.%[1]s END`
	)
	var sets []string
	for _, col := range certColumns {
		switch col {
		case "sha256", "detail":
		case "tbs_sha256", "issuance":
			sets = append(sets, col+" = "+fmt.Sprintf(keepKnown, col))
		case "first_seen":
			sets = append(sets, `first_seen = CASE WHEN excluded.detail > c.detail THEN excluded.first_seen
	WHEN excluded.detail < c.detail THEN c.first_seen
	WHEN excluded.first_seen < c.first_seen THEN excluded.first_seen ELSE c.first_seen END`)
		case "last_seen":
			sets = append(sets, `last_seen = CASE WHEN excluded.detail > c.detail THEN excluded.last_seen
	WHEN excluded.detail < c.detail THEN c.last_seen
	WHEN excluded.last_seen > c.last_seen THEN excluded.last_seen ELSE c.last_seen END`)
		default:
			sets = append(sets, col+" = CASE WHEN "+wins+" THEN excluded."+col+" ELSE c."+col+" END")
		}
	}
	sets = append(sets, "detail = CASE WHEN excluded.detail > c.detail THEN excluded.detail ELSE c.detail END")
	return "ON CONFLICT (sha256) DO UPDATE SET\n" + strings.Join(sets, ",\n")
}

var hostsTable = table{
	name:     "cert_hosts",
	columns:  []string{"host", "sha256"},
	pgTypes:  []string{"text", "text"},
	conflict: "ON CONFLICT (host, sha256) DO NOTHING",
}

// CT logs are append-only: a (log, index) names one entry forever, so the first write is final.
var entriesTable = table{
	name:     "ct_entries",
	columns:  []string{"log", "log_index", "sha256", "tbs_sha256", "precert", "logged_at", "subject", "issuer", "hosts", "matched_hosts"},
	pgTypes:  []string{"text", "bigint", "text", "text", "boolean", "timestamptz", "text", "text", "text", "text"},
	conflict: "ON CONFLICT (log, log_index) DO NOTHING",
}

// apply writes every change of ws, findings included, in one transaction. Rows are written table by table in key order,
// so concurrent transactions of several PostgreSQL replicas lock rows in the same order and do not
// deadlock each other.
func (s *Store) apply(ctx context.Context, ws []write) error {
	var (
		evs     []eventRow
		certs   []*certRow
		entries []*entryRow
		hosts   []hostRow
		finds   []findingRow
	)
	for _, w := range ws {
		evs = append(evs, w.event)
		finds = append(finds, w.findings...)
		if w.cert != nil {
			certs = append(certs, w.cert)
			for _, h := range w.cert.hosts {
				hosts = append(hosts, hostRow{h, w.cert.sha256})
			}
		}
		if w.entry != nil {
			entries = append(entries, w.entry)
			for _, h := range w.entry.hosts {
				hosts = append(hosts, hostRow{h, w.entry.sha256})
			}
		}
	}
	slices.SortFunc(evs, func(a, b eventRow) int {
		return cmp.Or(cmp.Compare(a.org, b.org), cmp.Compare(a.hookID, b.hookID), cmp.Compare(a.id, b.id))
	})
	slices.SortStableFunc(certs, func(a, b *certRow) int { return cmp.Compare(a.sha256, b.sha256) })
	slices.SortFunc(entries, func(a, b *entryRow) int {
		return cmp.Or(cmp.Compare(a.log, b.log), cmp.Compare(a.index, b.index))
	})
	slices.SortFunc(hosts, func(a, b hostRow) int { return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.sha256, b.sha256)) })
	hosts = slices.Compact(hosts)

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	t := s.dialect.timeArg
	if err := s.writeRows(ctx, tx, eventsTable, rowsOf(evs, func(e eventRow) []any {
		return []any{e.org, e.hookID, e.id, e.typ, t(e.createdOn), e.source, t(e.receivedAt)}
	}), func(r []any) string { return r[0].(string) + "\x00" + r[1].(string) + "\x00" + r[2].(string) }); err != nil {
		return fmt.Errorf("store: events: %w", err)
	}
	if err := s.writeRows(ctx, tx, certsTable, rowsOf(certs, func(c *certRow) []any {
		issuance := c.tbs
		if issuance == "" {
			issuance = c.sha256
		}
		return []any{c.sha256, c.tbs, issuance, c.detail, c.subject, c.issuer, c.issuerCA, c.serial,
			t(c.notBefore), t(c.notAfter), t(c.effectiveNotAfter), jsonList(c.hosts), c.keyAlg, c.keyLen, c.keyStrength, c.sigAlg,
			c.wildcard, c.selfSigned, c.precert, c.ownership, c.matchesOrgHost, c.origin,
			t(c.firstSeen), t(c.lastSeen), string(c.payload)}
	}), func(r []any) string { return r[0].(string) }); err != nil {
		return fmt.Errorf("store: certificates: %w", err)
	}
	if err := s.writeRows(ctx, tx, hostsTable, rowsOf(hosts, func(h hostRow) []any { return []any{h.host, h.sha256} }), nil); err != nil {
		return fmt.Errorf("store: hosts: %w", err)
	}
	if err := s.writeRows(ctx, tx, entriesTable, rowsOf(entries, func(e *entryRow) []any {
		return []any{e.log, e.index, e.sha256, e.tbs, e.precert, t(e.loggedAt), e.subject, e.issuer,
			jsonList(e.hosts), jsonList(e.matched)}
	}), nil); err != nil {
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

type hostRow struct{ host, sha256 string }

// rowsOf lists the column values of each row.
func rowsOf[T any](rows []T, args func(T) []any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = args(r)
	}
	return out
}

func jsonList(xs []string) string {
	if len(xs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(xs) // a []string always encodes
	return string(b)
}
