package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// PostgresBase is the PostgreSQL server the tests use (HZ_TEST_POSTGRES_URL, set by
// scripts/with-services.sh). Without it the test fails under CI=true and is skipped elsewhere.
func PostgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HZ_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HZ_TEST_POSTGRES_URL is not set: PostgreSQL is required under CI (run through scripts/with-services.sh)")
		}
		t.Skip("HZ_TEST_POSTGRES_URL is not set; run through scripts/with-services.sh to test PostgreSQL")
	}
	return base
}

// schemaMu serialises CREATE SCHEMA IF NOT EXISTS, which races with itself.
var schemaMu sync.Mutex

// PostgresSchema creates a fresh, empty schema on the test server and returns a URL whose
// connections use it; the schema is dropped when the test ends.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	return schemaOn(t, PostgresBase(t))
}

// DurablePostgresURL is the PostgreSQL server with fsync=on that scripts/with-services.sh starts
// beside the test server when HZ_WITH_DURABLE_POSTGRES=1 (HZ_TEST_DURABLE_POSTGRES_URL), or ""
// without one.
func DurablePostgresURL() string { return os.Getenv("HZ_TEST_DURABLE_POSTGRES_URL") }

// DurablePostgresSchema is PostgresSchema on the DurablePostgresURL server, which must be set.
func DurablePostgresSchema(t testing.TB) string {
	t.Helper()
	base := DurablePostgresURL()
	require.NotEmpty(t, base, "HZ_TEST_DURABLE_POSTGRES_URL is not set (HZ_WITH_DURABLE_POSTGRES=1 scripts/with-services.sh)")
	return schemaOn(t, base)
}

func schemaOn(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	schemaMu.Lock()
	defer schemaMu.Unlock()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
