package inventory

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// migrations holds one directory per dialect of files named NNNN_description.sql. A file, once
// released, never changes: a schema change is a new file with the next number.
//
//go:embed migrations
var migrations embed.FS

// advisoryLockKey serialises migrations across PostgreSQL replicas ("hzinv" in ASCII).
const advisoryLockKey = 0x687a696e76

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies every migration not yet recorded in schema_migrations, all in one transaction.
// PostgreSQL: the transaction first takes an advisory lock, so replicas starting together apply
// each migration once; the others wait and then find nothing left to do. SQLite: the writer's
// transactions are IMMEDIATE, which locks the file the same way. It returns how many it applied.
func (s *Store) migrate(ctx context.Context) (int, error) {
	ms, err := loadMigrations(s.dialect.name)
	if err != nil {
		return 0, err
	}
	tx, err := s.beginMigration(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if s.dialect.name == dialectPostgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(advisoryLockKey)); err != nil {
			return 0, fmt.Errorf("migrate: advisory lock: %w", err)
		}
		if err := checkEncoding(ctx, tx); err != nil {
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("migrate: read versions: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("migrate: read versions: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("migrate: read versions: %w", err)
	}
	applied := 0
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return 0, fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return 0, fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
		applied++
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}

// checkEncoding refuses a PostgreSQL database that cannot hold every certificate's text: names from
// CT logs are Unicode, and a SQL_ASCII or LATIN1 database refuses or mangles them row by row.
func checkEncoding(ctx context.Context, tx *sql.Tx) error {
	var enc string
	if err := tx.QueryRowContext(ctx, "SHOW server_encoding").Scan(&enc); err != nil {
		return fmt.Errorf("migrate: read the database's encoding: %w", err)
	}
	if enc != "UTF8" {
		return fmt.Errorf("the database's encoding is %s, and hzhook stores Unicode certificate names: "+
			"create the database with CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0 (or a cluster with initdb -E UTF8)", enc)
	}
	return nil
}

// beginMigration begins the migration transaction. SQLite answers SQLITE_BUSY without waiting while
// another process switches a new database file to WAL mode, so that case is retried for a while.
func (s *Store) beginMigration(ctx context.Context) (*sql.Tx, error) {
	for attempt, wait := 1, 10*time.Millisecond; ; attempt, wait = attempt+1, min(2*wait, 500*time.Millisecond) {
		tx, err := s.write.BeginTx(ctx, nil)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_BUSY || attempt == 25 {
			return tx, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}
