package inventory

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// LintRun is what zlint found on one certificate or precertificate (cert_lint_runs, with its
// results in cert_lints), keyed by sha256 alone: it never needs the certificate's row, which the
// event writer may store later. A later run of the same certificate replaces it whole.
type LintRun struct {
	SHA256      string
	Version     string // zlint module version
	Fingerprint string // of the version and the lints that ran (lint.Linter.Fingerprint)
	// Unparsable is true when zcrypto could not parse the DER: nothing was linted.
	Unparsable bool
	Counts     LintCounts
	LintedAt   time.Time
	// Results are the results worth showing (fatal, error, warn, notice), one per lint.
	Results []LintResult
}

// LintCounts is how many lints gave each status.
type LintCounts struct {
	Fatal  int `json:"fatal"`
	Error  int `json:"error"`
	Warn   int `json:"warn"`
	Notice int `json:"notice"`
	Pass   int `json:"pass"`
	NA     int `json:"NA"` // the lint does not apply to this kind of certificate
	NE     int `json:"NE"` // not in force at its notBefore
}

// LintResult is one lint's verdict on one certificate: Status is fatal, error, warn or notice.
type LintResult struct {
	Lint        string `json:"lint"`
	Status      string `json:"status"`
	Source      string `json:"source"`
	Citation    string `json:"citation,omitempty"`
	Description string `json:"description,omitempty"`
	Details     string `json:"details,omitempty"`
}

// CertLints is a certificate's lint run as the read API shows it, results most severe first.
type CertLints struct {
	ZlintVersion string       `json:"zlintVersion"`
	LintedAt     time.Time    `json:"lintedAt"`
	Unparsable   bool         `json:"unparsable,omitempty"`
	Counts       LintCounts   `json:"counts"`
	Results      []LintResult `json:"results"`
}

// Lint statuses a stored result may have, most severe first (their severity column).
var lintStatuses = []string{"fatal", "error", "warn", "notice"}

// LintStatuses are the statuses a stored lint result has, most severe first: the values of the
// lintStatus filter.
func LintStatuses() []string { return slices.Clone(lintStatuses) }

func lintSeverity(status string) int {
	if i := slices.Index(lintStatuses, status); i >= 0 {
		return i
	}
	return len(lintStatuses)
}

// chunk bounds the parameters of one IN list, well under every database's limit.
const chunk = 500

// ApplyLints stores the runs of a batch of certificates, replacing each one's earlier run and
// results, and findings (lintError) beside them, in one transaction: all of it or none. Runs are
// written in sha256 order, so concurrent transactions of several replicas lock them in the same
// order; when one batch names a certificate twice, its last run is kept. A finding already stored
// for its issuance and DedupType is left as it is.
func (s *Store) ApplyLints(ctx context.Context, runs []*LintRun, finds []FindingRow) error {
	byKey := make(map[string]*LintRun, len(runs))
	for _, r := range runs {
		byKey[r.SHA256] = r
	}
	runs = make([]*LintRun, 0, len(byKey))
	for _, r := range byKey {
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b *LintRun) int { return cmp.Compare(a.SHA256, b.SHA256) })
	var (
		shas    []string
		results []lintResultRow
	)
	for _, r := range runs {
		shas = append(shas, r.SHA256)
		for _, res := range r.Results {
			results = append(results, lintResultRow{sha256: r.SHA256, LintResult: res})
		}
	}
	slices.SortFunc(results, func(a, b lintResultRow) int {
		return cmp.Or(cmp.Compare(a.sha256, b.sha256), cmp.Compare(a.Lint, b.Lint))
	})
	results = slices.CompactFunc(results, func(a, b lintResultRow) bool { return a.sha256 == b.sha256 && a.Lint == b.Lint })

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// The run rows first: on PostgreSQL their locks order concurrent writers of one certificate,
	// so that each deletes the results the other committed before writing its own.
	if err := writeRows(ctx, s, tx, lintRunsTable, runs, nil); err != nil {
		return fmt.Errorf("store: lint runs: %w", err)
	}
	for rest := shas; len(rest) > 0; {
		n := min(chunk, len(rest))
		var a args
		if _, err := tx.ExecContext(ctx, "DELETE FROM cert_lints WHERE sha256 IN ("+a.addAll(rest[:n])+")", a.vals...); err != nil {
			return fmt.Errorf("store: earlier lint results: %w", err)
		}
		rest = rest[n:]
	}
	if err := writeRows(ctx, s, tx, lintResultsTable, results, nil); err != nil {
		return fmt.Errorf("store: lint results: %w", err)
	}
	if err := s.insertFindings(ctx, tx, finds); err != nil {
		return fmt.Errorf("store: findings: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// LintedWith returns which of the certificates shas have a lint run with this fingerprint.
func (s *Store) LintedWith(ctx context.Context, fingerprint string, shas []string) (map[string]bool, error) {
	out := make(map[string]bool, len(shas))
	shas = slices.Compact(slices.Sorted(slices.Values(shas)))
	for len(shas) > 0 {
		n := min(chunk, len(shas))
		var a args
		fp := a.add(fingerprint)
		rows, err := s.read.QueryContext(ctx, "SELECT sha256 FROM cert_lint_runs WHERE fingerprint = "+fp+
			" AND sha256 IN ("+a.addAll(shas[:n])+")", a.vals...)
		if err != nil {
			return nil, fmt.Errorf("store: lint runs: %w", err)
		}
		for rows.Next() {
			var sha string
			if err := rows.Scan(&sha); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: lint runs: %w", err)
			}
			out[sha] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: lint runs: %w", err)
		}
		shas = shas[n:]
	}
	return out, nil
}

// certLints reads the lint run of sha256; nil when it was not linted yet.
func (s *Store) certLints(ctx context.Context, sha256 string) (*CertLints, error) {
	var l CertLints
	c := &l.Counts
	err := s.read.QueryRowContext(ctx, `SELECT lint_version, linted_at, unparsable, fatal, errors, warnings, notices,
passed, not_applicable, not_effective FROM cert_lint_runs WHERE sha256 = $1`, sha256).Scan(
		&l.ZlintVersion, dbTime{&l.LintedAt}, &l.Unparsable, &c.Fatal, &c.Error, &c.Warn, &c.Notice, &c.Pass, &c.NA, &c.NE)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get lint run: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT lint, status, source, citation, description, details FROM cert_lints
WHERE sha256 = $1 ORDER BY severity, lint`, sha256)
	if err != nil {
		return nil, fmt.Errorf("get lint results: %w", err)
	}
	defer rows.Close()
	l.Results = []LintResult{}
	for rows.Next() {
		var r LintResult
		if err := rows.Scan(&r.Lint, &r.Status, &r.Source, &r.Citation, &r.Description, &r.Details); err != nil {
			return nil, fmt.Errorf("get lint results: %w", err)
		}
		l.Results = append(l.Results, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get lint results: %w", err)
	}
	return &l, nil
}

// LintReport counts zlint's results over the inventory's certificates, by issuance like the rest
// of the report (a precertificate and its certificate count once). Certificates linted but not
// yet stored by the event writer are not counted.
type LintReport struct {
	Linted       int `json:"linted"`       // issuances with a linted certificate
	Unparsable   int `json:"unparsable"`   // issuances with a certificate zcrypto cannot parse
	WithErrors   int `json:"withErrors"`   // issuances with a fatal or error result
	WithWarnings int `json:"withWarnings"` // issuances with a warn result
	// ByLint counts the issuances with each lint's result, by status: most frequent first.
	ByLint []LintCount `json:"byLint"`
}

// LintCount is how many issuances have a result of one lint with one status.
type LintCount struct {
	Lint   string `json:"lint"`
	Status string `json:"status"`
	Count  int    `json:"count"`
}

func (s *Store) lintReport(ctx context.Context) (LintReport, error) {
	var r LintReport
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(DISTINCT c.issuance),
COUNT(DISTINCT CASE WHEN r.unparsable THEN c.issuance END),
COUNT(DISTINCT CASE WHEN r.fatal + r.errors > 0 THEN c.issuance END),
COUNT(DISTINCT CASE WHEN r.warnings > 0 THEN c.issuance END)
FROM cert_lint_runs r JOIN certificates c ON c.sha256 = r.sha256`).Scan(&r.Linted, &r.Unparsable, &r.WithErrors, &r.WithWarnings)
	if err != nil {
		return LintReport{}, fmt.Errorf("lint report: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT l.lint, l.status, COUNT(DISTINCT c.issuance) FROM cert_lints l
JOIN certificates c ON c.sha256 = l.sha256 GROUP BY l.lint, l.status, l.severity
ORDER BY COUNT(DISTINCT c.issuance) DESC, l.severity, l.lint`)
	if err != nil {
		return LintReport{}, fmt.Errorf("lint report: %w", err)
	}
	defer rows.Close()
	r.ByLint = []LintCount{}
	for rows.Next() {
		var c LintCount
		if err := rows.Scan(&c.Lint, &c.Status, &c.Count); err != nil {
			return LintReport{}, fmt.Errorf("lint report: %w", err)
		}
		r.ByLint = append(r.ByLint, c)
	}
	if err := rows.Err(); err != nil {
		return LintReport{}, fmt.Errorf("lint report: %w", err)
	}
	return r, nil
}

// lintFilter is the condition of CertificateQuery.Lint and LintStatus on certificate alias c.
func lintFilter(a *args, lint, status string) string {
	var conds []string
	if lint != "" {
		conds = append(conds, "l.lint = "+a.add(lint))
	}
	if status != "" {
		conds = append(conds, "l.status = "+a.add(status))
	}
	return "EXISTS (SELECT 1 FROM cert_lints l WHERE l.sha256 = c.sha256 AND " + strings.Join(conds, " AND ") + ")"
}
