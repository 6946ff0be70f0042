package ingest

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/inventory"
)

func handle(t *testing.T, s store, msgs ...dispatch.Message) []error {
	t.Helper()
	return route(context.Background(), New(s, Options{}), msgs)
}

func requireStored(t *testing.T, s store, msgs ...dispatch.Message) {
	t.Helper()
	for i, err := range handle(t, s, msgs...) {
		require.NoError(t, err, "message %d", i)
	}
}

func testLinkedGroup(t *testing.T, s store) {
	ctx := context.Background()
	ca := newTestCA(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 7, []string{"www.example.com", "example.com"}, now, now.AddDate(0, 0, 90))

	requireStored(t, s,
		message(t, 1, events.TypeCTEntry, is.ctEntry(true, logName(0), 10, now)),
		message(t, 2, events.TypeCTEntry, is.ctEntry(true, logName(1), 11, now.Add(time.Second))),
	)
	d, err := s.Certificate(ctx, is.precertSHA)
	require.NoError(t, err)
	assert.Equal(t, "ct.entry", d.Source, "only CT knows it so far")
	assert.Equal(t, "", d.Ownership)
	assert.True(t, d.Precert)
	assert.Equal(t, []string{"www.example.com", "example.com"}, d.Hosts)
	assert.Equal(t, "ECDSAwithSHA256", d.SigAlg)
	assert.Equal(t, "Test CA Org", d.IssuerCA)
	assert.Equal(t, now, d.FirstSeen)
	assert.Equal(t, now.Add(time.Second), d.LastSeen)

	requireStored(t, s,
		message(t, 3, events.TypeCertNew, is.certNew(true, "own", now, now)),
		message(t, 4, events.TypeCertNew, is.certNew(false, "own", now.Add(time.Hour), now.Add(time.Hour))),
		// A CT entry arriving after pki.cert.new adds the entry and never makes the row poorer.
		message(t, 5, events.TypeCTEntry, is.ctEntry(true, logName(2), 12, now.Add(2*time.Second))),
	)
	cert, err := s.Certificate(ctx, is.certSH)
	require.NoError(t, err)
	assert.Equal(t, "pki.cert.new", cert.Source)
	assert.Equal(t, is.tbs, cert.TBSSHA256)
	require.Len(t, cert.Twins, 1)
	assert.Equal(t, is.precertSHA, cert.Twins[0].SHA256)
	require.Len(t, cert.CTEntries, 3)
	for i, e := range cert.CTEntries {
		assert.Equal(t, is.precertSHA, e.SHA256)
		assert.Equal(t, int64(10+i), e.Index)
		assert.True(t, e.Precert)
	}
	assert.JSONEq(t, `"`+is.certSH+`"`, string(mustField(t, cert.Payload, "sha256")))

	pre, err := s.Certificate(ctx, is.precertSHA)
	require.NoError(t, err)
	assert.Equal(t, "pki.cert.new", pre.Source)
	assert.Equal(t, "own", pre.Ownership)
	assert.Equal(t, "Test CA", pre.IssuerCA, "the richer pki.cert.new data stays")
	require.Len(t, pre.Twins, 1)
	assert.Equal(t, is.certSH, pre.Twins[0].SHA256)
	assert.Len(t, pre.CTEntries, 3)

	r, err := s.Report(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 1, r.Issuances, "precert and cert are one issuance")
	assert.Equal(t, 2, r.Certificates)

	_, err = s.Certificate(ctx, hexSum([]byte("nothing")))
	require.ErrorIs(t, err, inventory.ErrNotFound)
}

func testQueries(t *testing.T, s store) {
	ctx := context.Background()
	ca := newTestCA(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	alpha := ca.issue(t, 1, []string{"www.alpha.com"}, now.Add(-10*day), now.Add(5*day))
	beta := ca.issue(t, 2, []string{"*.beta.com", "beta.com"}, now.Add(-20*day), now.Add(20*day))
	gamma := ca.issue(t, 3, []string{"api.gamma.org"}, now.Add(-30*day), now.Add(60*day))
	old := ca.issue(t, 4, []string{"old.alpha.com"}, now.Add(-100*day), now.Add(-day))

	alphaCert := alpha.certNew(false, "own", now.Add(-3*day), now)
	alphaCert.IssuerCA = "Alpha Trust"
	alphaPre := alpha.certNew(true, "own", now.Add(-4*day), now)
	alphaPre.IssuerCA = alphaCert.IssuerCA
	betaCert := beta.certNew(false, "thirdParty", now.Add(-2*day), now)
	oldCert := old.certNew(false, "own", now.Add(-99*day), now)
	requireStored(t, s,
		message(t, 1, events.TypeCertNew, alphaCert),
		message(t, 2, events.TypeCertNew, alphaPre),
		message(t, 3, events.TypeCertNew, betaCert),
		message(t, 4, events.TypeCTEntry, gamma.ctEntry(false, logName(1), 40, now.Add(-day))),
		message(t, 5, events.TypeCertNew, oldCert),
		message(t, 6, events.TypeCTEntry, alpha.ctEntry(true, logName(0), 1, now.Add(-4*day))),
		message(t, 7, events.TypeCTEntry, alpha.ctEntry(true, logName(1), 2, now.Add(-4*day))),
	)
	A, P, B, G, O := alpha.certSH, alpha.precertSHA, beta.certSH, gamma.certSH, old.certSH
	all := inventory.CertificateQuery{Page: 1, PageSize: 50, Now: now}
	with := func(f func(*inventory.CertificateQuery)) inventory.CertificateQuery { q := all; f(&q); return q }
	tests := []struct {
		name  string
		q     inventory.CertificateQuery
		want  []string
		total int
	}{
		{"default sort is firstSeen ascending", all, []string{O, P, A, B, G}, 5},
		{"sort -notAfter", with(func(q *inventory.CertificateQuery) { q.Sort = inventory.Sort{Key: "notAfter", Desc: true} }), []string{G, B, min(A, P), max(A, P), O}, 5},
		{"q in subject, case-insensitive", with(func(q *inventory.CertificateQuery) { q.Q = "ALPHA" }), []string{O, P, A}, 3},
		{"q in hosts", with(func(q *inventory.CertificateQuery) { q.Q = "gamma.org" }), []string{G}, 1},
		{"q with LIKE metacharacters is literal", with(func(q *inventory.CertificateQuery) { q.Q = "%" }), []string{}, 0},
		{"host exact", with(func(q *inventory.CertificateQuery) { q.Host = "www.alpha.com" }), []string{P, A}, 2},
		{"host covered by a wildcard", with(func(q *inventory.CertificateQuery) { q.Host = "WWW.Beta.com" }), []string{B}, 1},
		{"wildcard does not cover the apex twice", with(func(q *inventory.CertificateQuery) { q.Host = "beta.com" }), []string{B}, 1},
		{"wildcard host exact", with(func(q *inventory.CertificateQuery) { q.Host = "*.beta.com" }), []string{B}, 1},
		{"wildcard does not cover two levels", with(func(q *inventory.CertificateQuery) { q.Host = "a.b.beta.com" }), []string{}, 0},
		{"issuer in issuerCa", with(func(q *inventory.CertificateQuery) { q.Issuer = "alpha trust" }), []string{P, A}, 2},
		{"issuer in issuer DN", with(func(q *inventory.CertificateQuery) { q.Issuer = "Test Issuing" }), []string{O, P, A, B, G}, 5},
		{"precert true", with(func(q *inventory.CertificateQuery) { q.Precert = ptr(true) }), []string{P}, 1},
		{"precert false", with(func(q *inventory.CertificateQuery) { q.Precert = ptr(false) }), []string{O, A, B, G}, 4},
		{"ownership own", with(func(q *inventory.CertificateQuery) { q.Ownership = inventory.OwnershipOwn }), []string{O, P, A}, 3},
		{"ownership thirdParty", with(func(q *inventory.CertificateQuery) { q.Ownership = inventory.OwnershipThirdParty }), []string{B}, 1},
		{"ownership unknown", with(func(q *inventory.CertificateQuery) { q.Ownership = inventory.OwnershipUnknown }), []string{G}, 1},
		{"expires within 7 days, expired excluded", with(func(q *inventory.CertificateQuery) { q.ExpiresWithinDays = ptr(7) }), []string{P, A}, 2},
		{"expires within 30 days", with(func(q *inventory.CertificateQuery) { q.ExpiresWithinDays = ptr(30) }), []string{P, A, B}, 3},
		{"expires within 0 days", with(func(q *inventory.CertificateQuery) { q.ExpiresWithinDays = ptr(0) }), []string{}, 0},
		{"filters combine", with(func(q *inventory.CertificateQuery) { q.Q = "alpha"; q.Precert = ptr(false); q.Ownership = "own" }), []string{O, A}, 2},
		{"page 2 of size 2", with(func(q *inventory.CertificateQuery) { q.Page, q.PageSize = 2, 2 }), []string{A, B}, 5},
		{"last partial page", with(func(q *inventory.CertificateQuery) { q.Page, q.PageSize = 3, 2 }), []string{G}, 5},
		{"page past the end is empty", with(func(q *inventory.CertificateQuery) { q.Page, q.PageSize = 4, 2 }), []string{}, 5},
		{"sort keyLen then sha256", with(func(q *inventory.CertificateQuery) { q.Sort = inventory.Sort{Key: "keyLen"}; q.Precert = ptr(false) }), sorted(O, A, B, G), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListCertificates(ctx, tc.q)
			require.NoError(t, err)
			got := []string{}
			for _, c := range page.Items {
				got = append(got, c.SHA256)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.total, page.Total)
		})
	}
	_, err := s.ListCertificates(ctx, with(func(q *inventory.CertificateQuery) { q.Sort = inventory.Sort{Key: "bogus"} }))
	require.Error(t, err)

	entryTests := []struct {
		name string
		q    inventory.CTEntryQuery
		want []int64
	}{
		{"all by timestamp", inventory.CTEntryQuery{}, []int64{1, 2, 40}},
		{"by index descending", inventory.CTEntryQuery{Sort: inventory.Sort{Key: "index", Desc: true}}, []int64{40, 2, 1}},
		{"by sha256", inventory.CTEntryQuery{SHA256: P}, []int64{1, 2}},
		{"by log", inventory.CTEntryQuery{Log: logName(1)}, []int64{2, 40}},
		{"by host", inventory.CTEntryQuery{Host: "api.gamma.org"}, []int64{40}},
		{"page 2", inventory.CTEntryQuery{Page: 2, PageSize: 2}, []int64{40}},
	}
	for _, tc := range entryTests {
		t.Run("ct entries "+tc.name, func(t *testing.T) {
			if tc.q.Page == 0 {
				tc.q.Page, tc.q.PageSize = 1, 50
			}
			page, err := s.ListCTEntries(ctx, tc.q)
			require.NoError(t, err)
			got := []int64{}
			for _, e := range page.Items {
				got = append(got, e.Index)
			}
			assert.Equal(t, tc.want, got)
		})
	}

	r, err := s.Report(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 4, r.Issuances)
	assert.Equal(t, 5, r.Certificates)
	assert.Equal(t, 1, r.Expired)
	assert.Equal(t, 1, r.Wildcards)
	assert.Equal(t, []inventory.ExpiringCount{{WithinDays: 7, Count: 1}, {WithinDays: 30, Count: 2}, {WithinDays: 90, Count: 3}}, r.Expiring)
	assert.Equal(t, []inventory.Count{{Key: "Test CA", Count: 2}, {Key: "Alpha Trust", Count: 1}, {Key: "Test CA Org", Count: 1}}, r.ByIssuerCA)
	assert.Equal(t, []inventory.Count{{Key: "ECDSAwithSHA256", Count: 4}}, r.BySigAlg)
	assert.Equal(t, []inventory.Count{{Key: "EC 256", Count: 4}}, r.ByKey)
	assert.Equal(t, []inventory.Count{{Key: "own", Count: 2}, {Key: "thirdParty", Count: 1}, {Key: "unknown", Count: 1}}, r.ByOwnership)
}

func testPayloadErrors(t *testing.T, s store) {
	ca := newTestCA(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	is := ca.issue(t, 9, []string{"x.example.com"}, now, now.AddDate(0, 0, 30))
	broken := is.ctEntry(false, logName(0), 1, now)
	broken.SHA256 = hexSum([]byte("other"))
	garbage := []byte("not a certificate at all")
	unparsable := is.certNew(false, "own", now, now)
	unparsable.PEM = base64.StdEncoding.EncodeToString(garbage)
	unparsable.SHA256 = hexSum(garbage)
	good := message(t, 3, events.TypeCTEntry, is.ctEntry(false, logName(0), 2, now))

	// Types without a handler (test events, types newer than hzhook) never reach the writer: the
	// dispatcher acknowledges them (dispatch's TestTestAndUnknownTypesAreAcknowledged).
	errs := handle(t, s,
		message(t, 1, events.TypeCTEntry, broken),
		message(t, 2, events.TypeCertNew, unparsable),
		good,
	)
	var perm *events.PermanentError
	require.ErrorAs(t, errs[0], &perm, "fingerprint mismatch")
	require.NoError(t, errs[1], "DER that x509 cannot parse is still stored")
	require.NoError(t, errs[2])

	d, err := s.Certificate(context.Background(), hexSum(garbage))
	require.NoError(t, err)
	assert.Equal(t, "pki.cert.new", d.Source)
	_, err = s.Certificate(context.Background(), is.certSH)
	require.NoError(t, err)
}

func testRefusedRow(t *testing.T, s store) {
	ca := newTestCA(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := ca.issue(t, 1, []string{"a.example.com"}, now, now.AddDate(0, 0, 30))
	b := ca.issue(t, 2, []string{"b.example.com"}, now, now.AddDate(0, 0, 30))
	c := ca.issue(t, 3, []string{"c.example.com"}, now, now.AddDate(0, 0, 30))
	nul := b.certNew(false, "own", now, now)
	nul.Subject = "CN=nul\x00byte" // PostgreSQL's text holds no NUL: the inventory stores U+FFFD
	if s.postgres() {
		// PostgreSQL refuses a value with a data exception (SQLSTATE class 22); a trigger stands in
		// for one, as nothing the writer builds is refused any more.
		db, err := sql.Open("pgx", s.url)
		require.NoError(t, err)
		defer db.Close()
		_, err = db.Exec(`CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = 'invalid_parameter_value'; END $$`)
		require.NoError(t, err)
		_, err = db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON certificates FOR EACH ROW
WHEN (NEW.sha256 = '` + c.certSH + `') EXECUTE FUNCTION refuse_row()`)
		require.NoError(t, err)
	}
	errs := handle(t, s,
		message(t, 1, events.TypeCTEntry, a.ctEntry(false, logName(0), 1, now)),
		message(t, 2, events.TypeCertNew, nul),
		message(t, 3, events.TypeCertNew, c.certNew(false, "own", now, now)),
		message(t, 4, events.TypeCTEntry, a.ctEntry(true, logName(0), 2, now)),
	)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1], "a NUL in a name is stored")
	require.NoError(t, errs[3])
	if s.postgres() {
		var perm *events.PermanentError
		require.ErrorAs(t, errs[2], &perm, "a data exception is permanent")
	} else {
		require.NoError(t, errs[2])
	}
	d, err := s.Certificate(context.Background(), b.certSH)
	require.NoError(t, err)
	assert.Equal(t, "CN=nul\uFFFDbyte", d.Subject)
	_, err = s.Certificate(context.Background(), a.precertSHA)
	require.NoError(t, err, "the other messages of the batch are stored")
}

func mustField(t *testing.T, raw []byte, field string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[field]
}

func sorted(xs ...string) []string {
	out := append([]string(nil), xs...)
	slices.Sort(out)
	return out
}
