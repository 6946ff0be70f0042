package inventory

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Finding is one stored finding as the read API shows it: one rule broken by one issuance.
// PublishedAt is nil until its alert was stored in HZ_ALERTS, and forever for a suppressed or an
// authorized one.
type Finding struct {
	Type          string     `json:"type"`
	DedupType     string     `json:"dedupType"` // type, or expiringSoon/<days>
	TBSSHA256     string     `json:"tbsSha256"`
	SHA256        string     `json:"sha256"`
	Detail        string     `json:"detail"`
	WatchItem     string     `json:"watchItem,omitempty"`
	ThresholdDays int        `json:"thresholdDays,omitempty"`
	Lints         []string   `json:"lints,omitempty"` // lintError: the zlint lints that alerted
	CreatedAt     time.Time  `json:"createdAt"`
	PublishedAt   *time.Time `json:"publishedAt"`
	// Suppressed findings were recorded without an alert (an import's history): PublishedAt stays
	// nil and nothing is sent.
	Suppressed bool `json:"suppressed"`
	// AuthorizedAt and AuthorizedBy say when and by whom (console, api, hzctl) an authorization
	// stored in the inventory covered the finding; its alert is then never published.
	AuthorizedAt *time.Time `json:"authorizedAt,omitempty"`
	AuthorizedBy string     `json:"authorizedBy,omitempty"`
}

// FindingQuery filters and pages a finding list, newest first. Zero values do not filter.
type FindingQuery struct {
	Type string // a finding type (rules.Type): expiringSoon matches every threshold
	// SHA256 selects the findings of the issuance of the certificate or precertificate with this
	// fingerprint (a precertificate and its certificate share their findings).
	SHA256         string
	Page, PageSize int // from 1
}

func (s *Store) insertFindings(ctx context.Context, tx *sql.Tx, fs []FindingRow) error {
	slices.SortStableFunc(fs, func(a, b FindingRow) int {
		return cmp.Or(cmp.Compare(a.TBSSHA256, b.TBSSHA256), cmp.Compare(a.DedupType, b.DedupType),
			cmp.Compare(boolRank(a.Suppressed), boolRank(b.Suppressed))) // the first of a key wins: alerting first
	})
	return writeRows(ctx, s, tx, findingsTable, fs, nil)
}

// RecordFindings stores findings outside an event batch (the expiry scan), in one transaction; a
// finding already stored for its issuance and DedupType is left as it is.
func (s *Store) RecordFindings(ctx context.Context, fs []FindingRow) error {
	if len(fs) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := s.insertFindings(ctx, tx, fs); err != nil {
		return fmt.Errorf("store: findings: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// OutboxRow is a finding whose alert was not yet published.
type OutboxRow struct {
	TBSSHA256, DedupType, Type string
	Alert                      []byte // JSON alerts.Alert
	TraceParent                string // of the event that made the finding; "" when not traced
}

// Unpublished returns the findings of the given issuances whose alert is not yet published, leaving
// out suppressed ones and those an authorization covers.
func (s *Store) Unpublished(ctx context.Context, issuances []string) ([]OutboxRow, error) {
	issuances = slices.Compact(slices.Sorted(slices.Values(issuances)))
	var out []OutboxRow
	const chunk = 500 // well under every database's parameter limit
	for len(issuances) > 0 {
		n := min(chunk, len(issuances))
		var a args
		rows, err := s.write.QueryContext(ctx, "SELECT tbs_sha256, dedup_type, type, alert, trace_parent FROM findings WHERE published_at IS NULL AND suppressed = false AND authorized_at IS NULL AND tbs_sha256 IN ("+
			a.addAll(issuances[:n])+") ORDER BY tbs_sha256, dedup_type", a.vals...)
		if err != nil {
			return nil, fmt.Errorf("store: unpublished findings: %w", err)
		}
		got, err := scanOutbox(rows)
		rows.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		issuances = issuances[n:]
	}
	return out, nil
}

// UnpublishedOldest returns up to limit findings made at or before upTo whose alert is not yet
// published, oldest first, leaving out authorized ones.
func (s *Store) UnpublishedOldest(ctx context.Context, upTo time.Time, limit int) ([]OutboxRow, error) {
	rows, err := s.write.QueryContext(ctx, "SELECT tbs_sha256, dedup_type, type, alert, trace_parent FROM findings WHERE published_at IS NULL AND suppressed = false AND authorized_at IS NULL AND created_at <= $1 ORDER BY created_at, tbs_sha256, dedup_type LIMIT $2",
		s.dialect.timeArg(Ms(upTo)), limit)
	if err != nil {
		return nil, fmt.Errorf("store: unpublished findings: %w", err)
	}
	defer rows.Close()
	return scanOutbox(rows)
}

func scanOutbox(rows *sql.Rows) ([]OutboxRow, error) {
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		var alert string
		if err := rows.Scan(&r.TBSSHA256, &r.DedupType, &r.Type, &alert, &r.TraceParent); err != nil {
			return nil, fmt.Errorf("store: unpublished findings: %w", err)
		}
		r.Alert = []byte(alert)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unpublished findings: %w", err)
	}
	return out, nil
}

// MarkPublished records that the alert of a finding is in HZ_ALERTS. first is true for the one
// call that moved it from unpublished to published (the finding is counted then, once).
func (s *Store) MarkPublished(ctx context.Context, tbs, dedupType string, at time.Time) (first bool, err error) {
	res, err := s.write.ExecContext(ctx, "UPDATE findings SET published_at = $1 WHERE tbs_sha256 = $2 AND dedup_type = $3 AND published_at IS NULL",
		s.dialect.timeArg(Ms(at)), tbs, dedupType)
	if err != nil {
		return false, fmt.Errorf("store: mark finding published: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: mark finding published: %w", err)
	}
	return n == 1, nil
}

// ListFindings returns one page of the findings q selects, newest first.
func (s *Store) ListFindings(ctx context.Context, q FindingQuery) (Page[Finding], error) {
	var a args
	var where []string
	if q.Type != "" {
		where = append(where, "f.type = "+a.add(q.Type))
	}
	if q.SHA256 != "" {
		p := a.add(strings.ToLower(q.SHA256))
		where = append(where, "(f.sha256 = "+p+" OR f.tbs_sha256 IN (SELECT c.issuance FROM certificates c WHERE c.sha256 = "+p+"))")
	}
	from := "FROM findings f" + whereClause(where)
	var out Page[Finding]
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) "+from, a.vals...).Scan(&out.Total); err != nil {
		return Page[Finding]{}, fmt.Errorf("count findings: %w", err)
	}
	limit := a.add(q.PageSize)
	offset := a.add((q.Page - 1) * q.PageSize)
	rows, err := s.read.QueryContext(ctx, `SELECT f.type, f.dedup_type, f.tbs_sha256, f.sha256, f.detail, f.watch_item,
f.threshold_days, f.lints, f.created_at, f.published_at, f.suppressed, f.authorized_at, f.authorized_by `+from+" ORDER BY f.created_at DESC, f.tbs_sha256, f.dedup_type LIMIT "+limit+" OFFSET "+offset, a.vals...)
	if err != nil {
		return Page[Finding]{}, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	out.Items = []Finding{}
	for rows.Next() {
		var (
			f                     Finding
			lints                 string
			published, authorized nullTime
		)
		if err := rows.Scan(&f.Type, &f.DedupType, &f.TBSSHA256, &f.SHA256, &f.Detail, &f.WatchItem,
			&f.ThresholdDays, &lints, dbTime{&f.CreatedAt}, &published, &f.Suppressed, &authorized, &f.AuthorizedBy); err != nil {
			return Page[Finding]{}, fmt.Errorf("list findings: %w", err)
		}
		if f.Lints, err = parseList(lints); err != nil {
			return Page[Finding]{}, fmt.Errorf("list findings: %w", err)
		}
		if len(f.Lints) == 0 {
			f.Lints = nil
		}
		f.PublishedAt, f.AuthorizedAt = published.t, authorized.t
		out.Items = append(out.Items, f)
	}
	if err := rows.Err(); err != nil {
		return Page[Finding]{}, fmt.Errorf("list findings: %w", err)
	}
	return out, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nullTime scans a nullable time of either database.
type nullTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (n *nullTime) Scan(v any) error {
	if v == nil {
		n.t = nil
		return nil
	}
	var t time.Time
	if err := (dbTime{&t}).Scan(v); err != nil {
		return err
	}
	n.t = &t
	return nil
}
