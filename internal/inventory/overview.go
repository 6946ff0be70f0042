package inventory

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The overview's questions, each one small query over an index: the console composes its front
// page from them rather than from one report over the whole inventory.

// FeedStat is the newest event received of one type from one source (received_events).
type FeedStat struct {
	Type   string    `json:"type"`
	Source string    `json:"source"`
	Last   time.Time `json:"last"`
}

// Feeds returns the newest receipt of each of types from each of sources that has any, by type
// and source: one lookup in the (type, source, received_at) index per pair, however many events
// are stored. It reads the database every replica writes, so it shows every replica's events.
func (s *Store) Feeds(ctx context.Context, types, sources []string) ([]FeedStat, error) {
	out := []FeedStat{}
	for _, typ := range slices.Sorted(slices.Values(types)) {
		for _, src := range slices.Sorted(slices.Values(sources)) {
			var last nullTime
			if err := s.read.QueryRowContext(ctx, "SELECT MAX(received_at) FROM received_events WHERE type = $1 AND source = $2", typ, src).Scan(&last); err != nil {
				return nil, fmt.Errorf("feeds: %w", err)
			}
			if last.t != nil {
				out = append(out, FeedStat{Type: typ, Source: src, Last: *last.t})
			}
		}
	}
	return out, nil
}

// FindingCounts returns how many findings of each type were made since since, most first.
func (s *Store) FindingCounts(ctx context.Context, since time.Time) ([]Count, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT type, COUNT(*) FROM findings WHERE created_at >= $1 GROUP BY type ORDER BY COUNT(*) DESC, type",
		s.dialect.timeArg(Ms(since)))
	if err != nil {
		return nil, fmt.Errorf("finding counts: %w", err)
	}
	defer rows.Close()
	out := []Count{}
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Key, &c.Count); err != nil {
			return nil, fmt.Errorf("finding counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding counts: %w", err)
	}
	return out, nil
}

// SuppressedFindings returns how many of the findings made since since were recorded without an
// alert (an import's history): of FindingCounts, those that paged no one.
func (s *Store) SuppressedFindings(ctx context.Context, since time.Time) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM findings WHERE created_at >= $1 AND suppressed",
		s.dialect.timeArg(Ms(since))).Scan(&n); err != nil {
		return 0, fmt.Errorf("suppressed findings: %w", err)
	}
	return n, nil
}

// ExpiringCounts is Report's Expiring alone: for each of ReportWindows, the issuances not yet
// expired at now that expire within it. It reads only the (not_after, issuance) index over the
// largest window, grouping in index order: a precertificate and its certificate share their
// notAfter (one TBS), so each issuance is one group and no set of issuances is built.
func (s *Store) ExpiringCounts(ctx context.Context, now time.Time) ([]ExpiringCount, error) {
	now = Ms(now)
	t := s.dialect.timeArg
	windows := ReportWindows()
	var a args
	q := "SELECT "
	for i, d := range windows {
		if i > 0 {
			q += ", "
		}
		q += "COALESCE(SUM(CASE WHEN na < " + a.add(t(now.AddDate(0, 0, d))) + " THEN 1 ELSE 0 END), 0)"
	}
	q += " FROM (SELECT not_after AS na FROM certificates WHERE not_after >= " + a.add(t(now)) + " AND not_after < " +
		a.add(t(now.AddDate(0, 0, windows[len(windows)-1]))) + " GROUP BY not_after, issuance) issuances"
	counts := make([]int, len(windows))
	dest := make([]any, len(windows))
	for i := range counts {
		dest[i] = &counts[i]
	}
	if err := s.read.QueryRowContext(ctx, q, a.vals...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("expiring counts: %w", err)
	}
	out := make([]ExpiringCount, len(windows))
	for i, d := range windows {
		out[i] = ExpiringCount{WithinDays: d, Count: counts[i]}
	}
	return out, nil
}

// DayCount is the number of issuances of one UTC day.
type DayCount struct {
	Day   time.Time `json:"day"` // 00:00 UTC
	Count int       `json:"count"`
}

// IssuancesPerDay returns, for each of the days UTC days up to and including now's, how many
// issuances have their notBefore on it (a precertificate and its certificate count once), oldest
// first; days without any have a zero count.
func (s *Store) IssuancesPerDay(ctx context.Context, now time.Time, days int) ([]DayCount, error) {
	if days < 1 {
		return []DayCount{}, nil
	}
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -(days - 1))
	day := "not_before / 86400000" // SQLite: milliseconds
	if s.dialect.name == dialectPostgres {
		day = "CAST(floor(extract(epoch FROM not_before) / 86400) AS BIGINT)"
	}
	rows, err := s.read.QueryContext(ctx, "SELECT "+day+" AS d, COUNT(DISTINCT issuance) FROM certificates WHERE not_before >= $1 AND not_before < $2 GROUP BY d",
		s.dialect.timeArg(from), s.dialect.timeArg(today.AddDate(0, 0, 1)))
	if err != nil {
		return nil, fmt.Errorf("issuances per day: %w", err)
	}
	defer rows.Close()
	out := make([]DayCount, days)
	for i := range out {
		out[i].Day = from.AddDate(0, 0, i)
	}
	first := from.Unix() / 86400
	for rows.Next() {
		var d int64
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("issuances per day: %w", err)
		}
		if i := d - first; i >= 0 && i < int64(days) {
			out[i].Count = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("issuances per day: %w", err)
	}
	return out, nil
}

// CountCertificates returns how many certificates and precertificates are stored.
func (s *Store) CountCertificates(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM certificates").Scan(&n); err != nil {
		return 0, fmt.Errorf("count certificates: %w", err)
	}
	return n, nil
}
