package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/testenv"
)

func authorizationServer(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := inventory.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "inv.db"), testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(store.Close)
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), testenv.DiscardLog())
	RegisterAuthorizations(e.Group("/api/v1", handlers.BearerToken(apiToken)), authz.New(nil, store, testenv.DiscardLog(), time.Now))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, srv *httptest.Server, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// POST /authorizations stores an authorization once (201, then 200), refuses invalid ones with a
// 400 saying why, and GET lists what is stored; both need the token.
func TestAuthorizationsAPI(t *testing.T) {
	srv := authorizationServer(t)
	spki := strings.Repeat("ab", 32)
	body := `{"spkiSha256":"` + spki + `","names":["api.example.com",".cdn.example.com"],"note":"renewals","author":"hzctl"}`

	code, raw := post(t, srv, "/api/v1/authorizations", apiToken, body)
	require.Equal(t, http.StatusCreated, code, string(raw))
	var res apiwire.AuthorizationResult
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.True(t, res.Added)
	assert.Equal(t, "hzctl", res.Authorization.Author)
	assert.Equal(t, []string{".cdn.example.com", "api.example.com"}, res.Authorization.Names)

	code, raw = post(t, srv, "/api/v1/authorizations", apiToken, body)
	require.Equal(t, http.StatusOK, code, string(raw))
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.False(t, res.Added)

	code, raw = post(t, srv, "/api/v1/authorizations", apiToken, `{"tbsSha256":"`+strings.Repeat("cd", 32)+`"}`)
	require.Equal(t, http.StatusCreated, code, string(raw))
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.Equal(t, "api", res.Authorization.Author, "the default author")

	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `tbs`, "body: not an authorization"},
		{"unknown field", `{"tbs":"x"}`, "body: not an authorization"},
		{"key without names", `{"spkiSha256":"` + spki + `"}`, "spkiSha256 needs names"},
		{"bad fingerprint", `{"tbsSha256":"12"}`, "tbsSha256: expected a SHA-256 fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := post(t, srv, "/api/v1/authorizations", apiToken, tc.body)
			require.Equal(t, http.StatusBadRequest, code, string(raw))
			assert.Contains(t, string(raw), tc.want)
		})
	}

	code, _ = post(t, srv, "/api/v1/authorizations", "wrong", body)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, raw = get(t, srv, "/api/v1/authorizations")
	require.Equal(t, http.StatusOK, code)
	var list apiwire.List[apiwire.Authorization]
	require.NoError(t, json.NewDecoder(bytes.NewReader(raw)).Decode(&list))
	assert.Equal(t, 2, list.Total)
}
