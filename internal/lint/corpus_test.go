package lint_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"

	"github.com/hzhook/hzhook/internal/lint"
	"github.com/hzhook/hzhook/internal/lint/corpus"
)

// TestCorpus lints every certificate of zlint's own testdata and checks the Linter against zlint
// run directly with zlint's own source filter: the same lints, the same verdicts. Only DER that
// zcrypto cannot parse fails, with ErrUnparsable.
func TestCorpus(t *testing.T) {
	certs := corpus.Certs(t)
	l, err := lint.New(lint.DefaultConfig())
	require.NoError(t, err)

	var sources zl.SourceList
	for _, s := range lint.DefaultSources() {
		sources = append(sources, zl.LintSource(s))
	}
	direct, err := zl.GlobalRegistry().Filter(zl.FilterOptions{IncludeSources: sources})
	require.NoError(t, err)
	require.ElementsMatch(t, direct.CertificateLints().Names(), l.Names(), "the Linter runs what zlint's source filter selects")

	var unparsable, linted, withError, alerting int
	for _, c := range certs {
		z, zerr := x509.ParseCertificate(c.DER)
		r, err := l.Lint(c.DER)
		if zerr != nil {
			require.ErrorIs(t, err, lint.ErrUnparsable, c.Name)
			unparsable++
			continue
		}
		require.NoError(t, err, c.Name)
		linted++
		want := zlint.LintCertificateEx(z, direct)
		counts := map[lint.Status]int{}
		for name, res := range want.Results {
			st := status(res.Status)
			counts[st]++
			if !st.Finding() {
				continue
			}
			got, ok := r.Result(name)
			if assert.True(t, ok, "%s: %s missing", c.Name, name) {
				assert.Equal(t, st, got.Status, "%s: %s", c.Name, name)
				assert.Equal(t, string(res.LintMetadata.Source), got.Source)
			}
		}
		for _, s := range lint.Statuses() {
			assert.Equal(t, counts[s], r.Count(s), "%s: %s", c.Name, s)
		}
		assert.Equal(t, z.IsPrecert, r.Precert)
		if r.Count(lint.StatusError) > 0 {
			withError++
		}
		if len(l.Config().Alert.Alerts(r)) > 0 {
			alerting++
		}
	}
	t.Logf("%d certificates: %d linted (%d with an error, %d alerting by default), %d zcrypto cannot parse",
		len(certs), linted, withError, alerting, unparsable)
	assert.Positive(t, withError)
	assert.Less(t, unparsable, 10, "zcrypto parses nearly all of zlint's testdata")
}

// status maps zlint's verdict to ours by hand, not through the code under test.
func status(s zl.LintStatus) lint.Status {
	return map[zl.LintStatus]lint.Status{
		zl.Fatal: lint.StatusFatal, zl.Error: lint.StatusError, zl.Warn: lint.StatusWarn, zl.Notice: lint.StatusNotice,
		zl.Pass: lint.StatusPass, zl.NA: lint.StatusNA, zl.NE: lint.StatusNE,
	}[s]
}
