package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// StoredCert is what the inventory holds of one certificate, for comparing it with a newer copy
// (the certificate sync, and the changes that matter when an event updates a row).
type StoredCert struct {
	SHA256            string
	Detail            int // DetailCTLeaf or DetailCertNew
	Ownership         string
	EffectiveNotAfter time.Time
	LastSeen          time.Time
	ObservedAt        time.Time
	Payload           []byte // the certificate JSON; on PostgreSQL as jsonb gives it back (keys reordered)
}

// StoredCerts returns the stored rows of the given sha256s (lowercase hex) that exist, by sha256.
// It reads committed data, outside any write transaction.
func (s *Store) StoredCerts(ctx context.Context, sha256s []string) (map[string]StoredCert, error) {
	shas := slices.Compact(slices.Sorted(slices.Values(sha256s)))
	out := make(map[string]StoredCert, len(shas))
	const chunk = 500 // well under every database's parameter limit
	for len(shas) > 0 {
		n := min(chunk, len(shas))
		var a args
		rows, err := s.read.QueryContext(ctx, `SELECT c.sha256, c.detail, c.ownership, c.effective_not_after, c.last_seen,
c.observed_at, c.payload FROM certificates c WHERE c.sha256 IN (`+a.addAll(shas[:n])+")", a.vals...)
		if err != nil {
			return nil, fmt.Errorf("stored certificates: %w", err)
		}
		for rows.Next() {
			var (
				c       StoredCert
				payload string
			)
			if err := rows.Scan(&c.SHA256, &c.Detail, &c.Ownership, dbTime{&c.EffectiveNotAfter}, dbTime{&c.LastSeen},
				dbTime{&c.ObservedAt}, &payload); err != nil {
				rows.Close()
				return nil, fmt.Errorf("stored certificates: %w", err)
			}
			c.Payload = []byte(payload)
			out[strings.ToLower(c.SHA256)] = c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("stored certificates: %w", err)
		}
		shas = shas[n:]
	}
	return out, nil
}
