package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// A PostgreSQL database that cannot hold Unicode names is refused at start, with what to do,
// instead of refusing certificates one by one later.
func TestPostgresNotUTF8IsRefused(t *testing.T) {
	ctx := context.Background()
	base := testenv.PostgresBase(t)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("hz_ascii_%d", time.Now().UnixNano())
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name+" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name

	_, err = Open(ctx, u.String(), slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "encoding is SQL_ASCII")
	assert.Contains(t, err.Error(), "ENCODING 'UTF8'")
}
