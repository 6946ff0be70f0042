package inventory

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/testenv"
)

func TestLintStoreSQLite(t *testing.T) {
	testLintStore(t, "sqlite://"+filepath.Join(t.TempDir(), "lints.db"))
}

func TestLintStorePostgres(t *testing.T) { testLintStore(t, testenv.PostgresSchema(t)) }

// testLintStore is the lint storage contract on one backend: runs keyed by sha256 without a
// certificate row, replaced whole by a later run, read back most severe first, filtered and counted
// by issuance once the certificate is stored, and lintError findings that keep their lints.
func testLintStore(t *testing.T, dbURL string) {
	ctx := context.Background()
	s, err := Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	now := Ms(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	pre, cert, other := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	tbs := strings.Repeat("d", 64)
	run := func(sha, fp string, results ...LintResult) *LintRun {
		r := &LintRun{SHA256: sha, Version: "v3.7.3", Fingerprint: fp, LintedAt: now, Results: results,
			Counts: LintCounts{Pass: 200, NA: 50, NE: 3}}
		for _, res := range results {
			switch res.Status {
			case "error":
				r.Counts.Error++
			case "warn":
				r.Counts.Warn++
			case "notice":
				r.Counts.Notice++
			}
		}
		return r
	}
	bits := LintResult{Lint: "e_rsa_mod_less_than_2048_bits", Status: "error", Source: "CABF_BR", Citation: "BRs: 6.1.5",
		Description: "RSA keys must be at least 2048 bits", Details: ""}
	aia := LintResult{Lint: "e_sub_cert_aia_missing", Status: "error", Source: "CABF_BR"}
	cn := LintResult{Lint: "w_subject_common_name_included", Status: "warn", Source: "CABF_BR"}
	notice := LintResult{Lint: "n_subject_common_name_included", Status: "notice", Source: "Community", Details: "x"}

	// Runs need no certificate row: the lint stage may come first.
	require.NoError(t, s.ApplyLints(ctx, []*LintRun{
		run(cert, "fp1", cn, bits, notice), run(pre, "fp1", cn), {SHA256: other, Version: "v3.7.3", Fingerprint: "fp1", Unparsable: true, LintedAt: now},
	}, nil))
	got, err := s.LintedWith(ctx, "fp1", []string{pre, cert, other, strings.Repeat("e", 64), cert})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{pre: true, cert: true, other: true}, got)
	got, err = s.LintedWith(ctx, "fp2", []string{pre, cert})
	require.NoError(t, err)
	assert.Empty(t, got, "another fingerprint: due again")

	store := func(sha string, precert bool) {
		t.Helper()
		require.NoError(t, s.Apply(ctx, []Write{{
			Event: EventRow{Org: "o", HookID: "h", ID: sha[:8], Type: "pki.cert.new", CreatedOn: now, Source: "webhook", ReceivedAt: now},
			Cert: &CertRow{SHA256: sha, TBSSHA256: tbs, Detail: DetailCertNew, Precert: precert, Hosts: []string{"www.example.com"},
				NotBefore: now, NotAfter: now.AddDate(0, 0, 90), EffectiveNotAfter: now.AddDate(0, 0, 90),
				FirstSeen: now, LastSeen: now, Payload: []byte(`{}`)},
		}}))
	}
	store(pre, true)
	store(cert, false)

	d, err := s.Certificate(ctx, cert)
	require.NoError(t, err)
	require.NotNil(t, d.Lints)
	assert.Equal(t, &CertLints{ZlintVersion: "v3.7.3", LintedAt: now,
		Counts:  LintCounts{Error: 1, Warn: 1, Notice: 1, Pass: 200, NA: 50, NE: 3},
		Results: []LintResult{bits, cn, notice}}, d.Lints, "most severe first, then by name")

	list := func(q CertificateQuery) []string {
		t.Helper()
		q.Page, q.PageSize, q.Now = 1, 50, now
		p, err := s.ListCertificates(ctx, q)
		require.NoError(t, err)
		var out []string
		for _, c := range p.Items {
			out = append(out, c.SHA256)
		}
		return out
	}
	assert.Equal(t, []string{cert}, list(CertificateQuery{Lint: bits.Lint}))
	assert.ElementsMatch(t, []string{pre, cert}, list(CertificateQuery{Lint: cn.Lint}))
	assert.Equal(t, []string{cert}, list(CertificateQuery{LintStatus: "error"}))
	assert.ElementsMatch(t, []string{pre, cert}, list(CertificateQuery{LintStatus: "warn"}))
	assert.Empty(t, list(CertificateQuery{Lint: bits.Lint, LintStatus: "warn"}), "both: a result of that lint with that status")

	r, err := s.Report(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, LintReport{Linted: 1, WithErrors: 1, WithWarnings: 1, ByLint: []LintCount{
		{Lint: bits.Lint, Status: "error", Count: 1}, {Lint: cn.Lint, Status: "warn", Count: 1}, {Lint: notice.Lint, Status: "notice", Count: 1},
	}}, r.Lints, "by issuance: the precertificate and its certificate count once; the unstored one not at all")

	// A later run (another zlint or selection of lints) replaces the whole run: results of lints
	// that no longer run are gone. Findings are stored with it and keep their lints.
	f := FindingRow{TBSSHA256: tbs, DedupType: "lintError", Type: "lintError", SHA256: cert, Detail: "zlint: 2 alerting results",
		Alert: []byte(`{}`), CreatedAt: now, Lints: []string{aia.Lint, bits.Lint}}
	require.NoError(t, s.ApplyLints(ctx, []*LintRun{run(cert, "fp2", aia, bits)}, []FindingRow{f}))
	require.NoError(t, s.ApplyLints(ctx, []*LintRun{run(cert, "fp2", aia, bits)}, []FindingRow{f}), "again: the same rows")
	d, err = s.Certificate(ctx, cert)
	require.NoError(t, err)
	assert.Equal(t, []LintResult{bits, aia}, d.Lints.Results)
	assert.Equal(t, LintCounts{Error: 2, Pass: 200, NA: 50, NE: 3}, d.Lints.Counts)
	assert.Empty(t, list(CertificateQuery{Lint: notice.Lint}))
	got, err = s.LintedWith(ctx, "fp2", []string{pre, cert})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{cert: true}, got)

	fs, err := s.ListFindings(ctx, FindingQuery{SHA256: pre, Page: 1, PageSize: 10})
	require.NoError(t, err)
	require.Len(t, fs.Items, 1, "the issuance's finding, from its precertificate too")
	assert.Equal(t, []string{aia.Lint, bits.Lint}, fs.Items[0].Lints)

	d, err = s.Certificate(ctx, pre)
	require.NoError(t, err)
	assert.Equal(t, []LintResult{cn}, d.Lints.Results)

	// Not linted yet: null.
	store(strings.Repeat("f", 64), false)
	d, err = s.Certificate(ctx, strings.Repeat("f", 64))
	require.NoError(t, err)
	assert.Nil(t, d.Lints)

	// A batch naming a certificate twice keeps one run.
	require.NoError(t, s.ApplyLints(ctx, []*LintRun{run(other, "fp3", cn), run(other, "fp3", cn)}, nil))
	got, err = s.LintedWith(ctx, "fp3", []string{other})
	require.NoError(t, err)
	assert.True(t, got[other])
}
