package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/inventory"
)

// Findings recorded without an alert (an import's history) and authorized ones say so, muted,
// wherever findings are listed, so that nobody takes them for alerts that went out; the overview
// says how many of its findings paged no one.
func TestFindingsSayWhetherAnAlertWentOut(t *testing.T) {
	h := newHarness(t)
	imported := h.imported("old.example.com", "old.example.com")
	pending := h.issue("new.example.com", "new.example.com")
	authorized := h.issue("cdn.example.com", "cdn.example.com")
	c := h.client().login()
	a := c.post("/ui/findings/authorize?kind=issuance&sha256="+authorized.sha, "/ui/findings/authorize",
		url.Values{"kind": {"issuance"}, "sha256": {authorized.sha}})
	require.Equal(t, http.StatusSeeOther, a.code, a.body)

	page := c.get("/ui/findings")
	require.Equal(t, http.StatusOK, page.code)
	row := func(sha string) string {
		t.Helper()
		return between(t, page.body, `<tr data-sha256="`+sha+`"`, `</tr>`)
	}
	suppressed := row(imported.sha)
	assert.True(t, strings.HasPrefix(suppressed, ` class="suppressed">`), "the row is muted")
	assert.Contains(t, suppressed, `<span class="badge">unexpectedIssuer</span>`, "not a problem colour")
	assert.Contains(t, suppressed, `>suppressed (import)</span><br><span class="muted">no alert sent</span>`)
	assert.NotContains(t, suppressed, "alert pending")
	assert.Contains(t, suppressed, "authorize-issuance", "it may still be authorized: later events then make no finding")

	assert.Contains(t, row(pending.preSHA), `<span class="badge bad">unexpectedIssuer</span>`)
	assert.Contains(t, row(pending.preSHA), `<span class="badge">alert pending</span>`)
	auth := row(authorized.preSHA)
	assert.Contains(t, auth, `<span class="badge ok">authorized</span><br><span class="muted">by console, 2026-11-20 12:00:00 UTC</span><br><span class="muted">no alert sent</span>`)
	assert.NotContains(t, auth, "authorize-issuance")

	cert := c.get("/ui/certificates/" + imported.sha)
	assert.Contains(t, between(t, cert.body, `<table id="cert-findings">`, `</table>`), "suppressed (import)")
	assert.Contains(t, c.get("/ui/findings/authorize?kind=key&sha256="+imported.sha).body, "suppressed (import)")

	overview := c.get("/ui/")
	assert.Contains(t, between(t, overview.body, `<p id="findings-total">`, `</p>`),
		`<strong>3</strong> <span class="muted">in all; 1 of them <span class="badge quiet">suppressed (import)</span>, recorded without an alert</span>`)
}

// The finding types of the certificate sync (ownershipChanged, expiryMoved) are listed, offered
// as filters on both lists and counted on the overview like every other type.
func TestCertSyncFindingTypes(t *testing.T) {
	h := newHarness(t)
	is := h.issue("www.example.com", "www.example.com")
	require.NoError(t, h.store.RecordFindings(t.Context(), []inventory.FindingRow{
		{TBSSHA256: is.tbs, DedupType: "ownershipChanged/thirdParty", Type: "ownershipChanged", SHA256: is.sha,
			Detail: "ownership changed from own to thirdParty", Alert: []byte("{}"), CreatedAt: h.now.Add(-time.Hour)},
		{TBSSHA256: is.tbs, DedupType: "expiryMoved/2026-12-01T00:00:00Z", Type: "expiryMoved", SHA256: is.sha,
			Detail: "effectiveNotAfter moved to 2026-12-01", Alert: []byte("{}"), CreatedAt: h.now.Add(-time.Hour)},
	}))
	c := h.client().login()
	for _, typ := range []string{"ownershipChanged", "expiryMoved"} {
		t.Run(typ, func(t *testing.T) {
			a := c.get("/ui/findings?type=" + typ)
			require.Equal(t, http.StatusOK, a.code, a.body)
			assert.Contains(t, a.body, "<h2>1 finding</h2>")
			assert.Contains(t, a.body, `<option value="`+typ+`" selected>`)
			assert.Contains(t, c.get("/ui/certificates?finding="+typ).body, "<h2>2 certificates</h2>", "the issuance: precertificate and certificate")
			assert.Contains(t, c.get("/ui/").body, `<a href="/ui/findings?type=`+typ+`">`+typ+`</a>`)
		})
	}
}
