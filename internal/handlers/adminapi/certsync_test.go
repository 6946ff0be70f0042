package adminapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/inventory"
)

func TestCertSyncRuns(t *testing.T) {
	ctx := context.Background()
	store, err := inventory.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "inv.db"), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(store.Close)
	start := time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC)
	for i := range 3 {
		r := inventory.CertSyncRun{Org: "demo", StartedAt: start.AddDate(0, 0, i), FinishedAt: start.AddDate(0, 0, i).Add(time.Minute),
			Outcome: inventory.CertSyncOK, Certificates: 10, Changed: i}
		if i == 1 {
			r.Outcome, r.Error = inventory.CertSyncFailed, "list certificates: operation failed"
		}
		require.NoError(t, store.RecordCertSyncRun(ctx, r))
	}
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	RegisterCertSync(e.Group("/api/v1", handlers.BearerToken(apiToken)), store)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		query    string
		wantCode int
		wantRuns int
		wantBody string
	}{
		{"default", "", http.StatusOK, 3, ""},
		{"limit", "?limit=2", http.StatusOK, 2, ""},
		{"bad limit", "?limit=0", http.StatusBadRequest, 0, "limit: must be an integer from 1 to 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/cert-sync/runs"+tc.query, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+apiToken)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.wantCode, resp.StatusCode)
			var body struct {
				Items  []inventory.CertSyncRun
				Errors []struct{ Message string }
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			if tc.wantBody != "" {
				require.NotEmpty(t, body.Errors)
				assert.Contains(t, body.Errors[0].Message, tc.wantBody)
				return
			}
			require.Len(t, body.Items, tc.wantRuns)
			assert.Equal(t, 2, body.Items[0].Changed, "newest first")
			assert.Equal(t, inventory.CertSyncFailed, body.Items[1].Outcome)
			assert.Equal(t, "list certificates: operation failed", body.Items[1].Error)
		})
	}

	resp, err := http.Get(srv.URL + "/api/v1/cert-sync/runs")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "behind the token")
}
