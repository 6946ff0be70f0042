package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/ingest"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

const apiToken = "test-token"

// inventoryServer serves the read API over a SQLite inventory holding three ct.entry certificates
// (indexes 1-3) and two pki.cert.new certificates, all for www.example.com and example.com.
func inventoryServer(t *testing.T, now time.Time) (*httptest.Server, []string) {
	t.Helper()
	return inventoryServerWith(t, now, ingest.Options{})
}

// inventoryServerWith is inventoryServer with the inventory handler's options (rules).
func inventoryServerWith(t *testing.T, now time.Time, o ingest.Options) (*httptest.Server, []string) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	store, err := inventory.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "inv.db"), log)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	var batch []dispatch.Message
	var shas []string
	for id, typ := range []string{events.TypeCTEntry, events.TypeCTEntry, events.TypeCTEntry, events.TypeCertNew, events.TypeCertNew} {
		body, err := events.Sample(typ, int64(id+1), now.Add(time.Duration(id)*time.Minute))
		require.NoError(t, err)
		ev, err := events.ParseEnvelope(body)
		require.NoError(t, err)
		var sha struct{ SHA256 string }
		require.NoError(t, json.Unmarshal(ev.Data, &sha))
		shas = append(shas, sha.SHA256)
		batch = append(batch, dispatch.Message{Data: body, Event: ev, Org: "demo", HookID: "h", Source: "webhook", ReceivedAt: now})
	}
	hs := ingest.New(store, o).Handlers()
	for _, m := range batch {
		require.NoError(t, hs[m.Event.Type].Handle(ctx, []dispatch.Message{m})[0])
	}
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), log)
	RegisterInventory(e.Group("/api/v1", handlers.BearerToken(apiToken)), store, func() time.Time { return now })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, shas
}

func get(t *testing.T, srv *httptest.Server, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func TestInventoryAPIBadParameters(t *testing.T) {
	srv, _ := inventoryServer(t, time.Now())
	tests := []struct{ path, param string }{
		{"/api/v1/certificates?sort=bogus", "sort"},
		{"/api/v1/certificates?sort=-", "sort"},
		{"/api/v1/certificates?pageSize=201", "pageSize"},
		{"/api/v1/certificates?pageSize=0", "pageSize"},
		{"/api/v1/certificates?pageSize=x", "pageSize"},
		{"/api/v1/certificates?page=0", "page"},
		{"/api/v1/certificates?page=-1", "page"},
		{"/api/v1/certificates?precert=yes", "precert"},
		{"/api/v1/certificates?ownership=mine", "ownership"},
		{"/api/v1/certificates?expiresWithinDays=-1", "expiresWithinDays"},
		{"/api/v1/certificates?expiresWithinDays=soon", "expiresWithinDays"},
		{"/api/v1/certificates?q=" + strings.Repeat("a", 257), "q"},
		{"/api/v1/certificates/abc", "sha256"},
		{"/api/v1/certificates/" + strings.Repeat("g", 64), "sha256"},
		{"/api/v1/ct-entries?sha256=12", "sha256"},
		{"/api/v1/ct-entries?sort=notAfter", "sort"},
		{"/api/v1/ct-entries?pageSize=500", "pageSize"},
		{"/api/v1/certificates?finding=bogus", "finding"},
		{"/api/v1/certificates?lint=e_no_such_lint", "lint"},
		{"/api/v1/certificates?lintStatus=pass", "lintStatus"},
		{"/api/v1/certificates?lintStatus=Error", "lintStatus"},
		{"/api/v1/findings?type=weakkey", "type"},
		{"/api/v1/findings?sha256=xyz", "sha256"},
		{"/api/v1/findings?page=0", "page"},
	}
	for _, tc := range tests {
		t.Run(tc.path[:min(len(tc.path), 60)], func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			require.Equal(t, http.StatusBadRequest, code, string(body))
			var er apiwire.ErrorResponse
			require.NoError(t, json.Unmarshal(body, &er))
			require.Len(t, er.Errors, 1)
			assert.True(t, strings.HasPrefix(er.Errors[0].Message, tc.param+": "), er.Errors[0].Message)
		})
	}
}

func TestInventoryAPIListsAndPages(t *testing.T) {
	now := time.Now().UTC()
	srv, shas := inventoryServer(t, now)
	tests := []struct {
		path              string
		items, page, size int
		total, pages      int
	}{
		{"/api/v1/certificates", 5, 1, 50, 5, 1},
		{"/api/v1/certificates?pageSize=200", 5, 1, 200, 5, 1},
		{"/api/v1/certificates?pageSize=2", 2, 1, 2, 5, 3},
		{"/api/v1/certificates?pageSize=2&page=3", 1, 3, 2, 5, 3},
		{"/api/v1/certificates?pageSize=2&page=4", 0, 4, 2, 5, 3},
		{"/api/v1/certificates?host=www.example.com", 5, 1, 50, 5, 1},
		{"/api/v1/certificates?host=other.example.com", 0, 1, 50, 0, 0},
		{"/api/v1/certificates?q=EXAMPLE&precert=false&sort=-notAfter", 5, 1, 50, 5, 1},
		{"/api/v1/certificates?ownership=own", 2, 1, 50, 2, 1},
		{"/api/v1/certificates?ownership=unknown", 3, 1, 50, 3, 1},
		{"/api/v1/certificates?ownership=thirdParty", 0, 1, 50, 0, 0},
		{"/api/v1/certificates?issuer=sample%20root", 5, 1, 50, 5, 1},
		{"/api/v1/certificates?precert=true", 0, 1, 50, 0, 0},
		{"/api/v1/certificates?expiresWithinDays=91", 5, 1, 50, 5, 1},
		{"/api/v1/certificates?expiresWithinDays=7", 0, 1, 50, 0, 0},
		{"/api/v1/ct-entries", 3, 1, 50, 3, 1},
		{"/api/v1/ct-entries?sha256=" + strings.ToUpper(shas[0]), 1, 1, 50, 1, 1},
		{"/api/v1/ct-entries?sort=-index&pageSize=1", 1, 1, 1, 3, 3},
		{"/api/v1/ct-entries?log=ct.googleapis.com/icarus&host=example.com", 3, 1, 50, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			require.Equal(t, http.StatusOK, code, string(body))
			var r apiwire.List[json.RawMessage]
			require.NoError(t, json.Unmarshal(body, &r))
			assert.NotNil(t, r.Items, "items is [] when empty, never null")
			assert.Len(t, r.Items, tc.items)
			assert.Equal(t, []int{tc.page, tc.size, tc.total, tc.pages}, []int{r.Page, r.PageSize, r.Total, r.Pages})
		})
	}

	t.Run("sort -index orders CT entries", func(t *testing.T) {
		_, body := get(t, srv, "/api/v1/ct-entries?sort=-index")
		var r apiwire.List[inventory.CTEntry]
		require.NoError(t, json.Unmarshal(body, &r))
		require.Len(t, r.Items, 3)
		assert.Equal(t, []int64{3, 2, 1}, []int64{r.Items[0].Index, r.Items[1].Index, r.Items[2].Index})
	})
	t.Run("one certificate with its CT entries", func(t *testing.T) {
		code, body := get(t, srv, "/api/v1/certificates/"+shas[1])
		require.Equal(t, http.StatusOK, code, string(body))
		var d inventory.CertificateDetail
		require.NoError(t, json.Unmarshal(body, &d))
		assert.Equal(t, shas[1], d.SHA256)
		assert.Equal(t, "ct.entry", d.Source)
		require.Len(t, d.CTEntries, 1)
		assert.Equal(t, int64(2), d.CTEntries[0].Index)
		assert.NotEmpty(t, d.Payload)
	})
	t.Run("unknown certificate is 404", func(t *testing.T) {
		code, _ := get(t, srv, "/api/v1/certificates/"+strings.Repeat("0", 64))
		assert.Equal(t, http.StatusNotFound, code)
	})
	t.Run("report", func(t *testing.T) {
		code, body := get(t, srv, "/api/v1/report")
		require.Equal(t, http.StatusOK, code, string(body))
		var r inventory.Report
		require.NoError(t, json.Unmarshal(body, &r))
		assert.Equal(t, 5, r.Issuances)
		// Sample certificates expire 90 days after their createdOn, one minute apart: only the first
		// one expires within 90 days of now.
		assert.Equal(t, []inventory.ExpiringCount{{WithinDays: 7}, {WithinDays: 30}, {WithinDays: 90, Count: 1}}, r.Expiring)
	})
	t.Run("no token is 401", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.URL + "/api/v1/certificates")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

// With a policy that allows only another CA certificate for example.com, every sample certificate
// (its chain or parentHashes name its issuer) is an unexpectedIssuer finding, and each pki.cert.new
// (ctRequired, not ctCompliant) is also ctNonCompliant: /findings lists them, finding= filters.
func TestInventoryAPIFindings(t *testing.T) {
	now := time.Now().UTC()
	policy, err := rules.Parse([]byte("watch:\n  - name: .example.com\n    issuers: [{sha256: [" + strings.Repeat("ab", 32) + "]}]\n"))
	require.NoError(t, err)
	srv, shas := inventoryServerWith(t, now, ingest.Options{Rules: rules.NewStatic(policy)})

	tests := []struct {
		path         string
		items, total int
	}{
		{"/api/v1/findings", 7, 7},
		{"/api/v1/findings?type=unexpectedIssuer", 5, 5},
		{"/api/v1/findings?type=ctNonCompliant", 2, 2},
		{"/api/v1/findings?type=weakKey", 0, 0},
		{"/api/v1/findings?sha256=" + shas[3], 2, 2},
		{"/api/v1/findings?sha256=" + shas[0], 1, 1},
		{"/api/v1/findings?pageSize=3&page=3", 1, 7},
		{"/api/v1/certificates?finding=unexpectedIssuer", 5, 5},
		{"/api/v1/certificates?finding=ctNonCompliant", 2, 2},
		{"/api/v1/certificates?finding=malformed", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			require.Equal(t, http.StatusOK, code, string(body))
			var r apiwire.List[json.RawMessage]
			require.NoError(t, json.Unmarshal(body, &r))
			assert.NotNil(t, r.Items)
			assert.Len(t, r.Items, tc.items)
			assert.Equal(t, tc.total, r.Total)
		})
	}
	_, body := get(t, srv, "/api/v1/findings?type=unexpectedIssuer&sha256="+strings.ToUpper(shas[4]))
	var r apiwire.List[inventory.Finding]
	require.NoError(t, json.Unmarshal(body, &r))
	require.Len(t, r.Items, 1)
	f := r.Items[0]
	assert.Equal(t, "unexpectedIssuer", f.Type)
	assert.Equal(t, shas[4], f.SHA256)
	assert.Equal(t, ".example.com", f.WatchItem)
	assert.Contains(t, f.Detail, "not allowed for .example.com")
	assert.Nil(t, f.PublishedAt, "no publisher: stored, not yet alerted")
}
