package rules

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/lint"
)

func TestEvaluateLints(t *testing.T) {
	ca := newCA(t, "CA")
	linter, err := lint.New(lint.DefaultConfig())
	require.NoError(t, err)
	judge := func(t *testing.T, policy *Policy, o leafOpts) []Finding {
		der := issue(t, ca, o)
		r, err := linter.Lint(der)
		require.NoError(t, err)
		return policy.EvaluateLints(FromCTEntry(ctEntry(t, der, "log", ca), parse(t, der), nil), r)
	}
	weak := leafOpts{key: rsaKey(t, 1024)}

	t.Run("an error-level BR lint alerts once per issuance", func(t *testing.T) {
		got := judge(t, mustParse(t, ""), weak)
		require.Len(t, got, 1)
		f := got[0]
		assert.Equal(t, TypeLintError, f.Type)
		assert.Equal(t, "lintError", f.DedupType())
		assert.Contains(t, f.Lints, "e_rsa_mod_less_than_2048_bits")
		assert.Contains(t, f.Detail, "e_rsa_mod_less_than_2048_bits (error, BRs: 6.1.5)")
		assert.NotEmpty(t, f.TBSSHA256)
	})
	t.Run("what does not alert gives none", func(t *testing.T) {
		// The test certificates lack what the BRs require of a real one (AIA, policies, CRLs);
		// alert on one lint only to see a clean key give nothing.
		only := mustParse(t, "lints: {alert: {sources: [], include: [e_rsa_mod_less_than_2048_bits]}}")
		assert.Empty(t, judge(t, only, leafOpts{}))
		got := judge(t, only, weak)
		require.Len(t, got, 1)
		assert.Equal(t, []string{"e_rsa_mod_less_than_2048_bits"}, got[0].Lints)
	})
	t.Run("precertificates only when asked", func(t *testing.T) {
		pre := leafOpts{key: weak.key, precert: true}
		assert.Empty(t, judge(t, mustParse(t, ""), pre))
		assert.Len(t, judge(t, mustParse(t, "lints: {alert: {precerts: true}}"), pre), 1)
	})
	t.Run("policy still decides", func(t *testing.T) {
		assert.Empty(t, judge(t, mustParse(t, "rules: {lintError: false}"), weak), "switched off")
		assert.Empty(t, judge(t, mustParse(t, "watch: [example.org]"), weak), "out of scope")
		assert.Empty(t, judge(t, mustParse(t, "lints: {alert: {sources: [Apple]}}"), weak), "BR and Mozilla lints do not alert")
	})
}

func TestEvaluateLintsDetail(t *testing.T) {
	var r lint.Report
	for i := range 7 {
		r.Results = append(r.Results, lint.Result{Lint: fmt.Sprintf("e_lint_%d", i), Status: lint.StatusError, Source: "RFC5280"})
	}
	r.Results[0].Citation = "RFC 5280: 4.2"
	got := mustParse(t, "").EvaluateLints(Cert{TBSSHA256: "t", SHA256: "s"}, r)
	require.Len(t, got, 1)
	assert.Len(t, got[0].Lints, 7)
	assert.Equal(t, "zlint: 7 alerting results: e_lint_0 (error, RFC 5280: 4.2); e_lint_1 (error, RFC5280); "+
		"e_lint_2 (error, RFC5280); e_lint_3 (error, RFC5280); e_lint_4 (error, RFC5280); and 2 more", got[0].Detail)

	got = mustParse(t, "").EvaluateLints(Cert{TBSSHA256: "t", Precert: true}, r)
	assert.Empty(t, got, "the payload may say precertificate when the report cannot")
}
