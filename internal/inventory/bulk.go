package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// writeRows writes rows of table t (in key order) in transaction tx: as many single-row statements
// on SQLite (in-process, where a statement costs microseconds) or, on PostgreSQL, as one
// INSERT ... SELECT FROM unnest of one array per column, so a batch costs one round trip per table
// instead of one per row. key, when not nil, names the conflict key of a DO UPDATE clause:
// PostgreSQL refuses to update one row twice in a statement, so rows repeating a key go into later
// statements ("waves"), in their order. The merges are order-independent, so the waves give the
// same result as one row at a time.
func writeRows[R any](ctx context.Context, s *Store, tx *sql.Tx, t table[R], rows []R, key func(R) string) error {
	if len(rows) == 0 {
		return nil
	}
	if s.dialect.name != dialectPostgres {
		return execRows(ctx, tx, t.rowSQL(), t.values(rows, s.dialect))
	}
	waves := [][]R{rows}
	if key != nil {
		waves = splitWaves(rows, key)
	}
	query := t.unnestSQL()
	for _, w := range waves {
		cols, err := columns(t.values(w, s.dialect))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, query, cols...); err != nil {
			return err
		}
	}
	return nil
}

// splitWaves puts the n-th row of each key into wave n.
func splitWaves[R any](rows []R, key func(R) string) [][]R {
	seen := make(map[string]int, len(rows))
	var waves [][]R
	for _, r := range rows {
		k := key(r)
		n := seen[k]
		seen[k] = n + 1
		if n == len(waves) {
			waves = append(waves, nil)
		}
		waves[n] = append(waves[n], r)
	}
	return waves
}

// columns turns rows into one typed slice per column, as pgx encodes arrays.
func columns(rows [][]any) ([]any, error) {
	out := make([]any, len(rows[0]))
	for c := range out {
		switch rows[0][c].(type) {
		case string:
			out[c] = columnOf[string](rows, c)
		case time.Time:
			out[c] = columnOf[time.Time](rows, c)
		case int:
			out[c] = columnOf[int](rows, c)
		case int64:
			out[c] = columnOf[int64](rows, c)
		case bool:
			out[c] = columnOf[bool](rows, c)
		default:
			return nil, fmt.Errorf("column %d: no array type for %T", c, rows[0][c])
		}
	}
	return out, nil
}

func columnOf[T any](rows [][]any, c int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r[c].(T)
	}
	return out
}

// execRows runs one prepared statement for every row.
func execRows(ctx context.Context, tx *sql.Tx, query string, rows [][]any) error {
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return nil
}
