package inventory

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

func TestCertSyncRunsSQLite(t *testing.T) {
	testCertSyncRuns(t, "sqlite://"+filepath.Join(t.TempDir(), "runs.db"))
}

func TestCertSyncRunsPostgres(t *testing.T) { testCertSyncRuns(t, testenv.PostgresSchema(t)) }

// Runs come back newest first, every field as recorded, at the store's millisecond precision.
func testCertSyncRuns(t *testing.T, dbURL string) {
	ctx := context.Background()
	s, err := Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.Close)

	runs, err := s.CertSyncRuns(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, runs, "a new store has none")

	start := time.Date(2026, 5, 1, 3, 0, 0, 123456789, time.UTC)
	for i, r := range []CertSyncRun{
		{Org: "demo", Outcome: CertSyncOK, Certificates: 10, New: 10},
		{Org: "demo", Outcome: CertSyncFailed, Certificates: 4, Rejected: 1, Error: "list certificates: operation failed"},
		{Org: "demo", Outcome: CertSyncOK, Certificates: 10, Changed: 2},
	} {
		r.StartedAt = start.Add(time.Duration(i) * 24 * time.Hour)
		r.FinishedAt = r.StartedAt.Add(90 * time.Second)
		require.NoError(t, s.RecordCertSyncRun(ctx, r))
	}
	runs, err = s.CertSyncRuns(ctx, 2)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, CertSyncOK, runs[0].Outcome)
	assert.Equal(t, 2, runs[0].Changed)
	assert.Equal(t, start.Add(48*time.Hour).Truncate(time.Millisecond), runs[0].StartedAt)
	assert.Equal(t, start.Add(48*time.Hour+90*time.Second).Truncate(time.Millisecond), runs[0].FinishedAt)
	assert.Equal(t, CertSyncRun{ID: runs[1].ID, Org: "demo", StartedAt: start.Add(24 * time.Hour).Truncate(time.Millisecond),
		FinishedAt: start.Add(24*time.Hour + 90*time.Second).Truncate(time.Millisecond), Outcome: CertSyncFailed,
		Certificates: 4, Rejected: 1, Error: "list certificates: operation failed"}, runs[1])
	assert.Greater(t, runs[0].ID, runs[1].ID)
}
