package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)
)

// ErrNotFound reports that no certificate has the asked sha256.
var ErrNotFound = errors.New("not found")

// Store is the inventory in SQLite or PostgreSQL. All methods are safe for concurrent use. SQL text
// is shared by both databases; they differ only in their schema and in how times are stored
// (INTEGER milliseconds in SQLite, TIMESTAMPTZ in PostgreSQL), which dialect hides.
type Store struct {
	write   *sql.DB // SQLite: one connection, the only writer; PostgreSQL: the pool
	read    *sql.DB // SQLite: read-only connections (WAL lets them run beside the writer)
	dialect dialect
	closers []func()
}

type dialect struct {
	name string
	// timeArg converts a time to the value the database stores.
	timeArg func(time.Time) any
}

const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// Open opens the store a --db URL names and applies the embedded schema migrations:
// sqlite://PATH (sqlite://./data/hzhook.db, sqlite:///var/lib/hzhook.db; the directory is
// created) or postgres://... / postgresql://... (a pgx pool; migrations hold an advisory lock, so
// several replicas may start at once). Close the store when done.
func Open(ctx context.Context, dbURL string, log *slog.Logger) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(dbURL, "sqlite://"):
		s, err = openSQLite(strings.TrimPrefix(dbURL, "sqlite://"))
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		s, err = openPostgres(ctx, dbURL)
	default:
		return nil, fmt.Errorf("open store: unsupported URL %q: use sqlite://PATH or postgres://...", redact(dbURL))
	}
	if err != nil {
		return nil, err
	}
	applied, err := s.migrate(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	log.InfoContext(ctx, "inventory store open", "db", s.dialect.name, "url", redact(dbURL), "migrations_applied", applied)
	return s, nil
}

func openSQLite(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: sqlite:// needs a file path, e.g. sqlite://./data/hzhook.db")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	// synchronous(FULL): a message is acknowledged after its commit, so the commit must survive a
	// power loss. Batching amortises the fsync. busy_timeout covers another process on the file.
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	// Readers keep a larger page cache and map the file: the console's overview and lists read
	// indexes of every certificate, which a 2 MiB cache per connection would read again each time.
	r, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=cache_size(-32768)&_pragma=mmap_size(268435456)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	r.SetMaxOpenConns(4)
	return &Store{
		write: w, read: r,
		dialect: dialect{name: dialectSQLite, timeArg: func(t time.Time) any { return t.UnixMilli() }},
		closers: []func(){func() { r.Close() }, func() { w.Close() }},
	}, nil
}

func openPostgres(ctx context.Context, dbURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("open store: parse postgres URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return &Store{
		write: db, read: db,
		dialect: dialect{name: dialectPostgres, timeArg: func(t time.Time) any { return t.UTC().Truncate(time.Millisecond) }},
		closers: []func(){func() { db.Close() }, pool.Close},
	}, nil
}

// Ping reports whether the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("inventory store: %w", err)
	}
	return nil
}

// Close releases every connection.
func (s *Store) Close() {
	for _, c := range s.closers {
		c()
	}
}

// redact hides a password in a URL for logs and errors.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return u
}

// dbTime scans either database's time representation.
type dbTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (d dbTime) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*d.t = time.UnixMilli(x).UTC()
	case time.Time:
		*d.t = x.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}
