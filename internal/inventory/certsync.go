package inventory

import (
	"context"
	"fmt"
	"time"
)

// Outcomes of a certificate sync run (CertSyncRun.Outcome).
const (
	CertSyncOK     = "ok"
	CertSyncFailed = "failed"
)

// certSyncRunsKept is how many runs RecordCertSyncRun keeps: years of daily syncs.
const certSyncRunsKept = 1000

// CertSyncRun is one run of the worker's certificate sync (cert_sync_runs): when it ran, what it
// found and whether it failed.
type CertSyncRun struct {
	ID           int64     `json:"id"`
	Org          string    `json:"org"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	Outcome      string    `json:"outcome"`      // CertSyncOK or CertSyncFailed
	Certificates int       `json:"certificates"` // certificate objects the API listed
	New          int       `json:"new"`          // not in the inventory before: sent to be stored
	Changed      int       `json:"changed"`      // different from the inventory's copy: sent to be stored again
	Rejected     int       `json:"rejected"`     // objects that are not valid certificates: not stored
	Error        string    `json:"error,omitempty"`
}

// RecordCertSyncRun stores one run (its ID is assigned by the database) and forgets all but the
// newest certSyncRunsKept.
func (s *Store) RecordCertSyncRun(ctx context.Context, r CertSyncRun) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := execRows(ctx, tx, certSyncRunsTable.rowSQL(), certSyncRunsTable.values([]CertSyncRun{r}, s.dialect)); err != nil {
		return fmt.Errorf("store: record cert sync run: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cert_sync_runs WHERE id < (SELECT MIN(k.id) FROM
(SELECT id FROM cert_sync_runs ORDER BY id DESC LIMIT $1) k)`, certSyncRunsKept); err != nil {
		return fmt.Errorf("store: prune cert sync runs: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// CertSyncRuns returns up to limit runs, newest first.
func (s *Store) CertSyncRuns(ctx context.Context, limit int) ([]CertSyncRun, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, org, started_at, finished_at, outcome, certificates, new_certs, changed,
rejected, error FROM cert_sync_runs ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("cert sync runs: %w", err)
	}
	defer rows.Close()
	out := []CertSyncRun{}
	for rows.Next() {
		var r CertSyncRun
		if err := rows.Scan(&r.ID, &r.Org, dbTime{&r.StartedAt}, dbTime{&r.FinishedAt}, &r.Outcome, &r.Certificates,
			&r.New, &r.Changed, &r.Rejected, &r.Error); err != nil {
			return nil, fmt.Errorf("cert sync runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cert sync runs: %w", err)
	}
	return out, nil
}
