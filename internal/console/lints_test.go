package console_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/inventory"
)

const (
	lintURI  = "e_ext_san_uniform_resource_identifier_present"
	lintAIA  = "e_sub_cert_aia_does_not_contain_ocsp_url"
	lint397  = "w_tls_server_cert_valid_time_longer_than_397_days"
	lintNote = "n_contains_redacted_dnsname"
)

// lintedHarness stores three issuances and the lint runs of their certificates, as the lint
// stage writes them: flagged (two errors, a warning and a notice, and the lintError finding that
// names one of the errors), clean (every lint passed or did not apply) and unparsable; a fourth
// issuance is not linted. Details and citations are what zlint says, with markup in them.
func lintedHarness(t *testing.T) (h *harness, flagged, clean, unparsable, unlinted issuance) {
	t.Helper()
	h = newHarness(t)
	flagged = h.issue("flagged.example.com", "flagged.example.com")
	clean = h.issue("clean.example.com", "clean.example.com")
	unparsable = h.issue("unparsable.example.com", "unparsable.example.com")
	unlinted = h.issue("unlinted.example.com", "unlinted.example.com")
	at := h.now.Add(-time.Hour)
	runs := []*inventory.LintRun{
		{SHA256: flagged.sha, Version: "v3.7.3", Fingerprint: "fp", LintedAt: at,
			Counts: inventory.LintCounts{Error: 2, Warn: 1, Notice: 1, Pass: 312, NA: 40, NE: 3},
			Results: []inventory.LintResult{
				{Lint: lintURI, Status: "error", Source: "CABF_BR", Citation: "BRs: 7.1.4.2.1",
					Description: "The Subject Alternate Name extension MUST contain only 'dnsName' and 'ipaddress' name types",
					Details:     `<script>alert("details")</script>`},
				{Lint: lintAIA, Status: "error", Source: "CABF_BR", Citation: "https://cabforum.org/baseline-requirements/#7.1.2.7"},
				{Lint: lint397, Status: "warn", Source: "Apple", Citation: `javascript:alert("citation")`},
				{Lint: lintNote, Status: "notice", Source: "Community"},
			}},
		{SHA256: clean.sha, Version: "v3.7.3", Fingerprint: "fp", LintedAt: at, Counts: inventory.LintCounts{Pass: 320, NA: 38}},
		{SHA256: unparsable.sha, Version: "v3.7.3", Fingerprint: "fp", LintedAt: at, Unparsable: true},
	}
	finding := inventory.FindingRow{TBSSHA256: flagged.tbs, DedupType: "lintError", Type: "lintError", SHA256: flagged.sha,
		Detail: "zlint: 1 alerting result: " + lintURI + " (error, BRs: 7.1.4.2.1)", Lints: []string{lintURI},
		Alert: []byte("{}"), CreatedAt: at}
	require.NoError(t, h.store.ApplyLints(t.Context(), runs, []inventory.FindingRow{finding}))
	return h, flagged, clean, unparsable, unlinted
}

// The certificate page's Lints section says what zlint found: a summary by status, the results
// that are not a pass (most severe first, each linking to every certificate with it), which of
// them alerted, and what zlint said, as text; a citation is a link only when it is an http(s) URL.
// A clean, an unparsable and a not yet linted certificate each say so.
func TestCertificateLints(t *testing.T) {
	h, flagged, clean, unparsable, unlinted := lintedHarness(t)
	c := h.client().login()

	page := c.get("/ui/certificates/" + flagged.sha)
	require.Equal(t, http.StatusOK, page.code, page.body)
	body := page.body
	assert.Contains(t, body, `<a class="badge bad" href="#lints" id="lint-badge">zlint: 2 errors, 1 warning</a>`, "the page head")
	summary := between(t, body, `<p id="lint-summary">`, `</p>`)
	for _, want := range []string{">2 errors<", ">1 warning<", ">1 notice<", "312 passed, 40 not applicable, 3 not in force at its notBefore",
		`linted with zlint v3.7.3 <span class="nowrap">2026-11-20 11:00:00 UTC</span> (1 hour ago)`} {
		assert.Contains(t, summary, want)
	}
	table := between(t, body, `<table id="lint-results">`, `</table>`)
	assert.Less(t, strings.Index(table, lintAIA), strings.Index(table, lint397), "errors before warnings")
	assert.Less(t, strings.Index(table, lint397), strings.Index(table, lintNote), "warnings before notices")
	assert.Contains(t, table, `<a class="lint" href="/ui/certificates?lint=`+lintURI+`"`)
	assert.Contains(t, table, `href="#findings" title="named by this issuance's lintError finding: it alerted">lintError</a>`)
	assert.Equal(t, 1, strings.Count(table, ">lintError</a>"), "only the lint the finding names alerted")
	assert.Contains(t, table, `<a href="https://cabforum.org/baseline-requirements/#7.1.2.7" rel="noreferrer">https://cabforum.org/baseline-requirements/#7.1.2.7</a>`)
	assert.Contains(t, table, "BRs: 7.1.4.2.1", "a section is text")
	assert.Contains(t, table, `javascript:alert(&#34;citation&#34;)`, "a script URL is text")
	assert.NotContains(t, table, `href="javascript:`)
	assert.Contains(t, table, `&lt;script&gt;alert(&#34;details&#34;)&lt;/script&gt;`)
	assert.NotContains(t, body, `<script>`)
	findings := between(t, body, `<table id="cert-findings">`, `</table>`)
	assert.Contains(t, findings, `<summary>the lint</summary><ul class="lints"><li><a href="/ui/certificates?lint=`+lintURI+`"`, "the finding names its lints")

	for _, tc := range []struct{ name, sha, want, notWant string }{
		{"clean", clean.sha, `<span class="badge ok">no problems</span>`, `id="lint-results"`},
		{"unparsable", unparsable.sha, `<span class="badge warn">unparsable</span> zcrypto could not parse this certificate`, `id="lint-results"`},
		{"not linted", unlinted.sha, "Not linted yet.", `id="lint-badge"`},
		{"the twin has its own run", flagged.preSHA, "Not linted yet.", lintURI + "</a> <a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.get("/ui/certificates/" + tc.sha)
			require.Equal(t, http.StatusOK, a.code)
			assert.Contains(t, a.body, tc.want)
			assert.NotContains(t, a.body, tc.notWant)
		})
	}
}

// The certificate list filters by a lint and by a lint status as the API does, the form shows the
// filter, and both exports carry it.
func TestLintFilters(t *testing.T) {
	h, flagged, _, _, _ := lintedHarness(t)
	c := h.client().login()
	for _, tc := range []struct{ query, want, field string }{
		{"lint=" + lintURI, "1 certificate", `id="f-lint" name="lint" value="` + lintURI + `"`},
		{"lintStatus=warn", "1 certificate", `<option value="warn" selected>warn</option>`},
		{"lint=" + lintURI + "&lintStatus=warn", "0 certificates", `<option value="warn" selected>warn</option>`},
		{"lintStatus=fatal", "0 certificates", `<option value="fatal" selected>fatal</option>`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			a := c.get("/ui/certificates?" + tc.query)
			require.Equal(t, http.StatusOK, a.code, a.body)
			assert.Contains(t, a.body, "<h2>"+tc.want+"</h2>")
			assert.Contains(t, a.body, tc.field)
		})
	}
	assert.Contains(t, c.get("/ui/certificates?lintStatus=error").body, `href="/ui/certificates/`+flagged.sha+`"`)

	a := c.get("/ui/certificates.csv?lintStatus=error")
	require.Equal(t, http.StatusOK, a.code)
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2, "the header and the flagged certificate")
	assert.Equal(t, flagged.sha, rows[1][0])

	a = c.get("/ui/certificates.json?lint=" + lintAIA)
	require.Equal(t, http.StatusOK, a.code)
	var got apiwire.List[inventory.Certificate]
	require.NoError(t, json.Unmarshal([]byte(a.body), &got))
	api := c.do(http.MethodGet, "/api/v1/certificates?lint="+lintAIA, nil, map[string]string{"Authorization": "Bearer " + token})
	var want apiwire.List[inventory.Certificate]
	require.NoError(t, json.Unmarshal([]byte(api.body), &want))
	require.Len(t, got.Items, 1)
	assert.Equal(t, want.Items, got.Items)
}

// The report counts what zlint found by issuance, and charts each lint result with its status,
// linked to the certificates that have it.
func TestReportLints(t *testing.T) {
	h, _, _, _, _ := lintedHarness(t)
	c := h.client().login()
	a := c.get("/ui/report")
	require.Equal(t, http.StatusOK, a.code, a.body)
	lints := between(t, a.body, `<div class="grid" id="report-lints">`, `</section>`)
	for _, want := range []string{
		`<div class="label">Linted</div><div class="value">3</div><div class="sub">75% of issuances</div>`,
		`<div class="card stat span-3 bad"><div class="label">With lint errors</div><div class="value">1</div>`,
		`<div class="card stat span-3 warn"><div class="label">With lint warnings</div><div class="value">1</div>`,
		`<div class="label">Unparsable</div><div class="value">1</div>`,
		`<a class="lint" href="/ui/certificates?lint=` + lintAIA + `&amp;lintStatus=error">` + lintAIA + `</a>`,
		`<span class="badge warn">warn</span>`,
		`<span class="badge info">notice</span>`,
		`<svg class="bar bad"`,
	} {
		assert.Contains(t, lints, want)
	}
}
