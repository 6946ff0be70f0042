package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuthorizationRow is an authorization stored in the inventory (authorizations): one issuance by
// TBSSHA256, or a key by SPKISHA256 for Names. ID is a digest of what it authorizes, so the same
// authorization is stored once, whoever makes it and however often.
type AuthorizationRow struct {
	ID         string    `json:"id"`
	TBSSHA256  string    `json:"tbsSha256,omitempty"`
	SPKISHA256 string    `json:"spkiSha256,omitempty"`
	Names      []string  `json:"names,omitempty"`
	Note       string    `json:"note"`
	Author     string    `json:"author"`
	CreatedAt  time.Time `json:"createdAt"`
}

var authorizationsTable = table[AuthorizationRow]{
	name: "authorizations",
	columns: []column[AuthorizationRow]{
		{"id", "text", func(a AuthorizationRow) any { return a.ID }},
		{"tbs_sha256", "text", func(a AuthorizationRow) any { return a.TBSSHA256 }},
		{"spki_sha256", "text", func(a AuthorizationRow) any { return a.SPKISHA256 }},
		{"names", "text", func(a AuthorizationRow) any { return jsonList(a.Names) }},
		{"note", "text", func(a AuthorizationRow) any { return a.Note }},
		{"author", "text", func(a AuthorizationRow) any { return a.Author }},
		{"created_at", "timestamptz", func(a AuthorizationRow) any { return a.CreatedAt }},
	},
	conflict: "ON CONFLICT (id) DO NOTHING",
}

// Authorize stores a (unless an authorization with its ID is stored already) and marks the
// findings it covers as authorized by a.Author at a.CreatedAt, in one transaction. A TBSSHA256
// authorization covers every finding of that issuance; an SPKISHA256 one covers the findings of
// issuances on that key for which covers(hosts) is true (the rules decide which names fall within
// a.Names). Findings authorized before keep who and when. It returns whether a was new and how
// many findings it marked.
func (s *Store) Authorize(ctx context.Context, a AuthorizationRow, covers func(hosts []string) bool) (added bool, marked int, err error) {
	a.CreatedAt = Ms(a.CreatedAt)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, fmt.Errorf("authorize: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	res, err := tx.ExecContext(ctx, authorizationsTable.rowSQL(), authorizationsTable.values([]AuthorizationRow{a}, s.dialect)[0]...)
	if err != nil {
		return false, 0, fmt.Errorf("authorize: store: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, fmt.Errorf("authorize: store: %w", err)
	}
	issuances := []string{a.TBSSHA256}
	if a.SPKISHA256 != "" {
		if issuances, err = s.keyIssuances(ctx, tx, a.SPKISHA256, covers); err != nil {
			return false, 0, err
		}
	}
	for _, is := range issuances {
		res, err := tx.ExecContext(ctx, "UPDATE findings SET authorized_at = $1, authorized_by = $2 WHERE tbs_sha256 = $3 AND authorized_at IS NULL",
			s.dialect.timeArg(a.CreatedAt), a.Author, is)
		if err != nil {
			return false, 0, fmt.Errorf("authorize: mark findings: %w", err)
		}
		m, err := res.RowsAffected()
		if err != nil {
			return false, 0, fmt.Errorf("authorize: mark findings: %w", err)
		}
		marked += int(m)
	}
	if err := tx.Commit(); err != nil {
		return false, 0, fmt.Errorf("authorize: commit: %w", err)
	}
	return n == 1, marked, nil
}

// keyIssuances are the issuances with findings not yet authorized whose certificates are on the
// key spki and whose names covers accepts. It starts from the findings, which are few beside
// the certificates.
func (s *Store) keyIssuances(ctx context.Context, tx *sql.Tx, spki string, covers func([]string) bool) ([]string, error) {
	key := "lower(json_extract(c.payload, '$.spkiSha256'))"
	if s.dialect.name == dialectPostgres {
		key = "lower(c.payload->>'spkiSha256')"
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT c.issuance, c.hosts FROM findings f JOIN certificates c ON c.issuance = f.tbs_sha256
WHERE f.authorized_at IS NULL AND `+key+" = $1 ORDER BY c.issuance", strings.ToLower(spki))
	if err != nil {
		return nil, fmt.Errorf("authorize: findings on key: %w", err)
	}
	defer rows.Close()
	var order []string
	ok := map[string]bool{}
	for rows.Next() {
		var is, hosts string
		if err := rows.Scan(&is, &hosts); err != nil {
			return nil, fmt.Errorf("authorize: findings on key: %w", err)
		}
		hs, err := parseList(hosts)
		if err != nil {
			return nil, fmt.Errorf("authorize: findings on key: %w", err)
		}
		prev, seen := ok[is]
		if !seen {
			order = append(order, is)
			prev = true
		}
		// Every certificate of the issuance must be covered (they normally share their names).
		ok[is] = prev && covers(hs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("authorize: findings on key: %w", err)
	}
	var out []string
	for _, is := range order {
		if ok[is] {
			out = append(out, is)
		}
	}
	return out, nil
}

// Authorizations returns every stored authorization, oldest first.
func (s *Store) Authorizations(ctx context.Context) ([]AuthorizationRow, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT id, tbs_sha256, spki_sha256, names, note, author, created_at FROM authorizations ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("authorizations: %w", err)
	}
	defer rows.Close()
	out := []AuthorizationRow{}
	for rows.Next() {
		var (
			a     AuthorizationRow
			names string
		)
		if err := rows.Scan(&a.ID, &a.TBSSHA256, &a.SPKISHA256, &names, &a.Note, &a.Author, dbTime{&a.CreatedAt}); err != nil {
			return nil, fmt.Errorf("authorizations: %w", err)
		}
		if a.Names, err = parseList(names); err != nil {
			return nil, fmt.Errorf("authorizations: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("authorizations: %w", err)
	}
	return out, nil
}

// AuthorizationsVersion changes whenever an authorization is added: a poll of it is cheap where
// reading every authorization is not.
func (s *Store) AuthorizationsVersion(ctx context.Context) (string, error) {
	var (
		n    int
		last nullTime
	)
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*), MAX(created_at) FROM authorizations").Scan(&n, &last); err != nil {
		return "", fmt.Errorf("authorizations version: %w", err)
	}
	v := strconv.Itoa(n)
	if last.t != nil {
		v += "/" + strconv.FormatInt(last.t.UnixMilli(), 10)
	}
	return v, nil
}
