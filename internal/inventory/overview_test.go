package inventory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverviewQueries(t *testing.T) {
	backends(t, testOverviewQueries)
}

// Each overview query answers from the rows as the report would: issuances counted once, the
// newest event per type and source, findings of a window by type, a dense day series.
func testOverviewQueries(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	day := 24 * time.Hour
	pre := testCert("a", now.Add(-2*day), now.Add(5*day), "a.example.com")
	pre.SHA256, pre.Precert = hexOf("precert a"), true
	ev := func(id, typ, source string, at time.Time) EventRow {
		return EventRow{Org: "demo", HookID: "h", ID: id, Type: typ, Source: source, CreatedOn: Ms(at), ReceivedAt: Ms(at)}
	}
	write(t, s,
		Write{Event: ev("1", "pki.cert.new", "webhook", now.Add(-time.Hour)), Cert: testCert("a", now.Add(-2*day), now.Add(5*day), "a.example.com")},
		Write{Event: ev("2", "ct.entry", "webhook", now.Add(-3*time.Hour)), Cert: pre},
		Write{Event: ev("3", "pki.cert.new", "webhook", now.Add(-2*time.Hour)), Cert: testCert("b", now.Add(-2*day), now.Add(20*day))},
		Write{Event: ev("4", "pki.cert.new", "backfill", now.Add(-30*day)), Cert: testCert("c", now.Add(-40*day), now.Add(60*day))},
		Write{Event: ev("5", "pki.cert.new", "pubsub", now.Add(-time.Minute)), Cert: testCert("d", now, now.Add(200*day)),
			Findings: []FindingRow{
				{TBSSHA256: hexOf("tbs d"), DedupType: "wildcard", Type: "wildcard", SHA256: hexOf("cert d"), Alert: []byte("{}"), CreatedAt: now.Add(-day)},
				{TBSSHA256: hexOf("tbs d"), DedupType: "weakKey", Type: "weakKey", SHA256: hexOf("cert d"), Alert: []byte("{}"), CreatedAt: now.Add(-8 * day)},
			}},
		Write{Event: ev("6", "pki.cert.new", "webhook", now.Add(-4*time.Hour)), Cert: testCert("e", now.Add(-50*day), now.Add(-day)),
			Findings: []FindingRow{{TBSSHA256: hexOf("tbs e"), DedupType: "wildcard", Type: "wildcard", SHA256: hexOf("cert e"), Alert: []byte("{}"), CreatedAt: now.Add(-2 * day), Suppressed: true}}},
	)

	feeds, err := s.Feeds(ctx, []string{"pki.cert.new", "ct.entry", "test"}, []string{"webhook", "pubsub", "backfill"})
	require.NoError(t, err)
	assert.Equal(t, []FeedStat{
		{Type: "ct.entry", Source: "webhook", Last: Ms(now.Add(-3 * time.Hour))},
		{Type: "pki.cert.new", Source: "backfill", Last: Ms(now.Add(-30 * day))},
		{Type: "pki.cert.new", Source: "pubsub", Last: Ms(now.Add(-time.Minute))},
		{Type: "pki.cert.new", Source: "webhook", Last: Ms(now.Add(-time.Hour))},
	}, feeds)

	counts, err := s.FindingCounts(ctx, now.Add(-7*day))
	require.NoError(t, err)
	assert.Equal(t, []Count{{Key: "wildcard", Count: 2}}, counts)
	suppressed, err := s.SuppressedFindings(ctx, now.Add(-7*day))
	require.NoError(t, err)
	assert.Equal(t, 1, suppressed, "of them, the one recorded without an alert")

	exp, err := s.ExpiringCounts(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, []ExpiringCount{{WithinDays: 7, Count: 1}, {WithinDays: 30, Count: 2}, {WithinDays: 90, Count: 3}}, exp)
	r, err := s.Report(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, r.Expiring, exp, "the overview and the report agree")

	perDay, err := s.IssuancesPerDay(ctx, now, 3)
	require.NoError(t, err)
	today := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, []DayCount{{Day: today.Add(-2 * day), Count: 2}, {Day: today.Add(-day)}, {Day: today, Count: 1}}, perDay)

	n, err := s.CountCertificates(ctx)
	require.NoError(t, err)
	assert.Equal(t, 6, n)

	got, err := s.Certificates(ctx, []string{hexOf("cert b"), hexOf("cert a"), hexOf("cert a"), hexOf("nothing")})
	require.NoError(t, err)
	assert.Len(t, got, 2)
	assert.Equal(t, "CN=b", got[hexOf("cert b")].Subject)
}
