package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver for dump
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/testenv"
)

// store is an inventory under test with the --db URL it was opened from.
type store struct {
	*inventory.Store
	url string
}

// postgres reports whether the store is on PostgreSQL.
func (s store) postgres() bool { return strings.HasPrefix(s.url, "postgres") }

// opener opens the store of a fresh, empty database named by key.
type opener func(t *testing.T, key string) store

func openTest(t *testing.T, dbURL string) store {
	t.Helper()
	s, err := inventory.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return store{Store: s, url: dbURL}
}

func sqliteOpener(t *testing.T) opener {
	dir := t.TempDir()
	return func(t *testing.T, key string) store { return openTest(t, "sqlite://"+filepath.Join(dir, key+".db")) }
}

func postgresOpener(t *testing.T) opener {
	testenv.PostgresBase(t)
	return func(t *testing.T, key string) store { return openTest(t, testenv.PostgresSchema(t)) }
}

// route hands msgs to the writer's handler of each one's type, one Handle call per run of a type,
// as the dispatcher does, and returns one error per message in order.
func route(ctx context.Context, w *Writer, msgs []dispatch.Message) []error {
	hs := w.Handlers()
	errs := make([]error, len(msgs))
	for start := 0; start < len(msgs); {
		typ := msgs[start].Event.Type
		end := start + 1
		for end < len(msgs) && msgs[end].Event.Type == typ {
			end++
		}
		h, ok := hs[typ]
		if !ok {
			panic("no handler for " + typ + ": the dispatcher acknowledges such types itself")
		}
		copy(errs[start:end], h.Handle(ctx, msgs[start:end]))
		start = end
	}
	return errs
}

// dump lists every row of table, each as "column=value ...", sorted, read through a connection
// of its own.
func dump(t *testing.T, s store, table string) []string {
	t.Helper()
	driver, dsn := "sqlite", strings.TrimPrefix(s.url, "sqlite://")
	if s.postgres() {
		driver, dsn = "pgx", s.url
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT * FROM " + table)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var b strings.Builder
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}
