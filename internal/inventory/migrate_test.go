package inventory

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

func TestMigrationsSQLite(t *testing.T) {
	testMigrations(t, "sqlite://"+filepath.Join(t.TempDir(), "migrate.db"))
}

func TestMigrationsPostgres(t *testing.T) {
	testMigrations(t, testenv.PostgresSchema(t))
}

// Migrations are applied once, also when several replicas start at once.
func testMigrations(t *testing.T, dbURL string) {
	var wg sync.WaitGroup
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), dbURL, slog.New(slog.DiscardHandler)) })
	}
	wg.Wait()
	for i, s := range stores {
		require.NoError(t, errs[i])
		t.Cleanup(s.Close)
	}
	var n int
	require.NoError(t, stores[0].read.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n))
	ms, err := loadMigrations(stores[0].dialect.name)
	require.NoError(t, err)
	assert.Equal(t, len(ms), n)
	applied, err := stores[1].migrate(context.Background())
	require.NoError(t, err)
	assert.Zero(t, applied)
}
