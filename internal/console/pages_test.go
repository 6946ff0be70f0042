package console_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/inventory"
)

// Every page answers 200 with what it is about.
func TestEveryPageRenders(t *testing.T) {
	h := newHarness(t)
	www := h.issue("www.example.com", "www.example.com", "example.com")
	h.deadLetter("7", []byte(`{"id":7}`), "transient", "max_deliver")
	c := h.client().login()
	tests := []struct{ path, want string }{
		{"/ui/", "Consumer lag"},
		{"/ui/", "hz-worker-ct_entry-pki_cert_new"},
		{"/ui/", "Issuances per day"},
		{"/ui/certificates", "2 certificates"},
		{"/ui/certificates?host=www.example.com&precert=true", "1 certificate"},
		{"/ui/certificates/" + www.sha, www.tbs},
		{"/ui/certificates/" + www.preSHA, `href="/ui/certificates/` + www.sha + `"`},
		{"/ui/findings", "unexpectedIssuer"},
		{"/ui/findings?type=unexpectedIssuer", "1 finding"},
		{"/ui/findings/authorize?kind=issuance&sha256=" + www.sha, www.tbs},
		{"/ui/findings/authorize?kind=key&sha256=" + www.sha, www.spki},
		{"/ui/dlq", "1 dead letter"},
		{"/ui/dlq?class=permanent", "No dead letters match this filter"},
		{"/ui/dlq/1", "store down &lt;b&gt;bold&lt;/b&gt;"},
		{"/ui/dlq/1/redrive", "Redrive 1 dead letter: 1"},
		{"/ui/dlq/redrive?class=transient", "Redrive 1 dead letter matching class=transient?"},
		{"/ui/dlq/purge", "Purge 1 dead letter (all of them)?"},
		{"/ui/report", "By issuing CA"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a := c.get(tc.path)
			require.Equal(t, http.StatusOK, a.code, a.body)
			assert.Equal(t, "text/html; charset=UTF-8", a.hdr.Get("Content-Type"))
			assert.Contains(t, a.body, tc.want)
		})
	}
	a := c.get("/ui/certificates?q=&host=www.example.com&issuer=")
	require.Equal(t, http.StatusSeeOther, a.code)
	assert.Equal(t, "/ui/certificates?host=www.example.com", a.hdr.Get("Location"), "empty fields leave the shared URL")
}

// A bad parameter is the API's 400 with the API's message: both read it through one parser.
func TestBadParametersAreTheAPIs(t *testing.T) {
	h := newHarness(t)
	c := h.client().login()
	for _, tc := range []struct{ page, api string }{
		{"/ui/certificates?sort=bogus", "/api/v1/certificates?sort=bogus"},
		{"/ui/certificates?pageSize=201", "/api/v1/certificates?pageSize=201"},
		{"/ui/certificates?page=0", "/api/v1/certificates?page=0"},
		{"/ui/certificates?precert=yes", "/api/v1/certificates?precert=yes"},
		{"/ui/certificates?ownership=mine", "/api/v1/certificates?ownership=mine"},
		{"/ui/certificates?expiresWithinDays=-1", "/api/v1/certificates?expiresWithinDays=-1"},
		{"/ui/certificates?finding=bogus", "/api/v1/certificates?finding=bogus"},
		{"/ui/certificates?q=" + strings.Repeat("a", 257), "/api/v1/certificates?q=" + strings.Repeat("a", 257)},
		{"/ui/certificates?lint=e_no_such_lint", "/api/v1/certificates?lint=e_no_such_lint"},
		{"/ui/certificates?lint=%3Cscript%3E", "/api/v1/certificates?lint=%3Cscript%3E"},
		{"/ui/certificates?lintStatus=pass", "/api/v1/certificates?lintStatus=pass"},
		{"/ui/certificates?lint=e_ext_san_missing&lintStatus=NA", "/api/v1/certificates?lint=e_ext_san_missing&lintStatus=NA"},
		{"/ui/certificates.csv?sort=bogus", "/api/v1/certificates?sort=bogus"},
		{"/ui/certificates.csv?lint=e_no_such_lint", "/api/v1/certificates?lint=e_no_such_lint"},
		{"/ui/certificates.json?lintStatus=warning", "/api/v1/certificates?lintStatus=warning"},
		{"/ui/certificates.json?precert=maybe", "/api/v1/certificates?precert=maybe"},
		{"/ui/certificates/abc", "/api/v1/certificates/abc"},
		{"/ui/findings?type=weakkey", "/api/v1/findings?type=weakkey"},
		{"/ui/findings?page=x", "/api/v1/findings?page=x"},
		{"/ui/dlq?pageSize=0", "/api/v1/dlq?pageSize=0"},
		{"/ui/dlq/x", "/api/v1/dlq/x"},
	} {
		t.Run(tc.page[:min(len(tc.page), 50)], func(t *testing.T) {
			page := c.get(tc.page)
			require.Equal(t, http.StatusBadRequest, page.code)
			api := c.do(http.MethodGet, tc.api, nil, map[string]string{"Authorization": "Bearer " + token})
			require.Equal(t, http.StatusBadRequest, api.code)
			var er apiwire.ErrorResponse
			require.NoError(t, json.Unmarshal([]byte(api.body), &er))
			assert.Contains(t, page.body, template(er.Errors[0].Message))
		})
	}
	assert.Equal(t, http.StatusNotFound, c.get("/ui/certificates/"+strings.Repeat("ab", 32)).code)
	assert.Equal(t, http.StatusNotFound, c.get("/ui/dlq/99").code)
	assert.Equal(t, http.StatusBadRequest, c.get("/ui/findings/authorize?kind=everything&sha256="+strings.Repeat("ab", 32)).code)
}

// template is s as html/template writes it in text.
func template(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// The exports carry the current filter, every match (not one page): JSON in the API's list
// shape with the API's items, CSV of the visible columns with formula cells defused.
func TestExports(t *testing.T) {
	h := newHarness(t)
	h.issue("www.example.com", "www.example.com")
	h.issue("shop.example.com", `=HYPERLINK("http://evil.example")`, "shop.example.com")
	c := h.client().login()

	a := c.get("/ui/certificates.json?host=www.example.com&pageSize=1")
	require.Equal(t, http.StatusOK, a.code, a.body)
	assert.Contains(t, a.hdr.Get("Content-Disposition"), "attachment")
	var got apiwire.List[inventory.Certificate]
	require.NoError(t, json.Unmarshal([]byte(a.body), &got))
	api := c.do(http.MethodGet, "/api/v1/certificates?host=www.example.com", nil, map[string]string{"Authorization": "Bearer " + token})
	var want apiwire.List[inventory.Certificate]
	require.NoError(t, json.Unmarshal([]byte(api.body), &want))
	assert.Equal(t, want.Items, got.Items, "the API's items, all of them, whatever the page size")
	assert.Equal(t, 2, got.Total)

	a = c.get("/ui/certificates.csv?sort=subject")
	require.Equal(t, http.StatusOK, a.code)
	assert.Equal(t, "text/csv; charset=utf-8", a.hdr.Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 5)
	assert.Equal(t, "sha256", rows[0][0])
	var hosts []string
	for _, r := range rows[1:] {
		hosts = append(hosts, r[3])
	}
	assert.Contains(t, hosts, `'=hyperlink("http://evil.example") shop.example.com`, "a cell starting with = is defused")
}

// The certificate page offers the DER as a PEM download that parses back to the certificate.
func TestCertificatePEMDownload(t *testing.T) {
	h := newHarness(t)
	is := h.issue("www.example.com", "www.example.com")
	c := h.client().login()
	a := c.get("/ui/certificates/" + is.sha + "/pem")
	require.Equal(t, http.StatusOK, a.code)
	assert.Equal(t, `attachment; filename="`+is.sha+`.pem"`, a.hdr.Get("Content-Disposition"))
	block, _ := pem.Decode([]byte(a.body))
	require.NotNil(t, block)
	assert.True(t, bytes.Equal(is.certDER, block.Bytes))
}

// Names from CT logs are text on every page: the template escapes them in text, attributes and
// URLs alike.
func TestHostileNamesAreEscaped(t *testing.T) {
	h := newHarness(t)
	is := h.issue(`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, "xss.example.com")
	c := h.client().login()
	for _, path := range []string{"/ui/certificates", "/ui/certificates/" + is.sha, "/ui/findings", "/ui/findings/authorize?kind=key&sha256=" + is.sha} {
		a := c.get(path)
		require.Equal(t, http.StatusOK, a.code, path)
		assert.NotContains(t, a.body, "<script>alert(1)</script>", path)
		assert.NotContains(t, a.body, "<img src=x", path)
		assert.Contains(t, a.body, "&lt;script&gt;alert(1)&lt;/script&gt;", path)
	}
	// In a link, the name is an escaped query value.
	assert.Contains(t, c.get("/ui/certificates/"+is.sha).body, `href="/ui/certificates?host=%22%3e%3cimg%20src%3dx%20onerror%3dalert%281%29%3e"`)
}

// Authorizing from the console stores the authorization in the inventory (author console), marks
// the issuance's findings, keeps their unsent alerts from ever being sent, and says how many.
func TestAuthorizeFromTheConsole(t *testing.T) {
	h := newHarness(t)
	is := h.issue("www.example.com", "www.example.com")
	other := h.issue("shop.example.com", "shop.example.com")
	c := h.client().login()
	rows, err := h.store.UnpublishedOldest(t.Context(), time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, rows, 2, "the harness publishes nothing: both alerts are pending")

	from := "/ui/findings/authorize?kind=issuance&sha256=" + is.sha
	a := c.post(from, "/ui/findings/authorize", url.Values{"kind": {"issuance"}, "sha256": {is.sha}, "note": {"CDN, OPS-42"}})
	require.Equal(t, http.StatusSeeOther, a.code, a.body)
	assert.Equal(t, "/ui/findings", a.hdr.Get("Location"))
	page := c.get("/ui/findings")
	assert.Contains(t, page.body, "Authorized: issuance "+is.tbs[:12]+"…. 1 finding authorized now; their alerts will not be sent.")
	assert.Contains(t, page.body, "by console")
	rows, err = h.store.UnpublishedOldest(t.Context(), time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, other.tbs, rows[0].TBSSHA256, "only the other issuance's alert is still to send")

	stored, err := h.store.Authorizations(t.Context())
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Equal(t, "console", stored[0].Author)
	assert.Equal(t, "CDN, OPS-42", stored[0].Note)

	// A key authorization with a name the rules refuse is shown again with the reason.
	a = c.post("/ui/findings/authorize?kind=key&sha256="+other.sha, "/ui/findings/authorize",
		url.Values{"kind": {"key"}, "sha256": {other.sha}, "names": {"*.*.example.com"}})
	assert.Equal(t, http.StatusBadRequest, a.code)
	assert.Contains(t, a.body, "names[0]:")
}

// Redrive and purge, one or by filter: the confirmation says how many, the POST does it.
func TestDeadLetterActions(t *testing.T) {
	h := newHarness(t)
	for i, class := range []string{"transient", "transient", "permanent"} {
		h.deadLetter(string(rune('1'+i)), []byte(`{"n":`+string(rune('1'+i))+`}`), class, "max_deliver")
	}
	c := h.client().login()
	a := c.post("/ui/dlq/1/redrive", "/ui/dlq/1/redrive", nil)
	require.Equal(t, http.StatusSeeOther, a.code, a.body)
	assert.Contains(t, c.get("/ui/dlq").body, "Dead letter 1 redriven to hz.events.ct_entry")
	a = c.post("/ui/dlq/purge?class=transient", "/ui/dlq/purge?class=transient", nil)
	require.Equal(t, http.StatusSeeOther, a.code)
	assert.Contains(t, c.get("/ui/dlq").body, "1 of 1 dead letter purged.")
	a = c.post("/ui/dlq/purge", "/ui/dlq/purge", nil)
	assert.Equal(t, http.StatusBadRequest, a.code, "no filter and no all=true: the API's refusal")
	a = c.post("/ui/dlq/3/purge", "/ui/dlq/3/purge", nil)
	require.Equal(t, http.StatusSeeOther, a.code)
	l, err := h.dlq.List(t.Context(), dlqFilter(), 1, 10)
	require.NoError(t, err)
	assert.Zero(t, l.Total)
}

// A body larger than 64 KiB is shown cut, with its download whole and never rendered.
func TestDeadLetterBodyIsCapped(t *testing.T) {
	h := newHarness(t)
	big := []byte(`{"data":"` + strings.Repeat("<b>x</b>", 20000) + `"}`)
	h.deadLetter("1", big, "permanent", "invalid_payload")
	c := h.client().login()
	a := c.get("/ui/dlq/1")
	require.Equal(t, http.StatusOK, a.code)
	assert.Contains(t, a.body, "the first 64 KiB")
	assert.NotContains(t, a.body, "<b>x</b>")
	assert.Less(t, len(a.body), 3*64<<10)
	raw := c.get("/ui/dlq/1/body")
	assert.Equal(t, "application/octet-stream", raw.hdr.Get("Content-Type"))
	assert.Equal(t, string(big), raw.body)
}
