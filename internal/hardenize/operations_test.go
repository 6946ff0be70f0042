package hardenize_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
)

func TestListCertsOperationEnds(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(api *hardenizetest.Server)
		firstPage  bool // read page 1 before the interruption
		interrupt  func(t *testing.T, api *hardenizetest.Server, c *hardenize.Client, cur hardenize.CertCursor)
		wantStatus int
		wantErr    string
		wantIs     error
	}{
		{
			name:      "expired between pages",
			firstPage: true,
			interrupt: func(_ *testing.T, api *hardenizetest.Server, _ *hardenize.Client, _ hardenize.CertCursor) {
				api.ExpireOperations()
			},
			wantIs: hardenize.ErrOperationExpired, wantStatus: http.StatusNotFound,
			wantErr: "operation not found",
		},
		{
			name: "failed",
			setup: func(api *hardenizetest.Server) {
				api.FailNextOperation(http.StatusInternalServerError, "listing failed")
			},
			wantStatus: http.StatusInternalServerError,
			wantErr:    "list certificates: operation ",
		},
		{
			name:  "cancelled",
			setup: func(api *hardenizetest.Server) { api.SetOperationPolls(3) },
			interrupt: func(t *testing.T, _ *hardenizetest.Server, c *hardenize.Client, cur hardenize.CertCursor) {
				require.NoError(t, c.CancelOperation(context.Background(), cur.Operation))
			},
			wantStatus: http.StatusGone,
			wantErr:    "failed: hardenize api: 410 Gone: Gone",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := hardenizetest.NewServer("demo")
			t.Cleanup(api.Close)
			api.SetRowsPerPage(2)
			fillAccount(t, api, 5)
			if tc.setup != nil {
				tc.setup(api)
			}
			c, _ := newClient(t, api.BaseURL(), api.Credentials())
			ctx := context.Background()
			cur, err := c.StartListCerts(ctx, hardenize.ListCertsQuery{})
			require.NoError(t, err)
			if tc.firstPage {
				page, err := c.ListCertsPage(ctx, cur, nil)
				require.NoError(t, err)
				cur = page.Next
			}
			if tc.interrupt != nil {
				tc.interrupt(t, api, c, cur)
			}
			_, err = c.ListCertsPage(ctx, cur, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
			}
			var apiErr *hardenize.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.wantStatus, apiErr.StatusCode)
		})
	}
}

func TestListCertsFailureCarriesResultsMessage(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	api.FailNextOperation(http.StatusServiceUnavailable, "certificate store unavailable")
	c, _ := newClient(t, api.BaseURL(), api.Credentials())
	var err error
	for _, err = range c.ListCertsPages(context.Background(), hardenize.ListCertsQuery{}, hardenize.CertCursor{}, nil) {
	}
	require.ErrorContains(t, err, "failed: hardenize api: 503 Service Unavailable: certificate store unavailable")
}

// TestListCertsResultsProtocolEdges drives answers the fake does not give: results that answer 303
// although the status said done, and a results endpoint that ignores Range.
func TestListCertsResultsProtocolEdges(t *testing.T) {
	cert, err := hardenizetest.NewCert(hardenizetest.CertSpec{})
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"certs": []events.Certificate{cert}})
	require.NoError(t, err)
	const status = "application/vnd.hardenize.v1.operation-status+json; charset=UTF-8"
	tests := []struct {
		name        string
		results     func(w http.ResponseWriter, r *http.Request, call int)
		wantResults int
		wantStatus  int
		wantWaits   []time.Duration
	}{
		{
			name: "303 sends the client back to polling",
			results: func(w http.ResponseWriter, r *http.Request, call int) {
				if call == 1 {
					w.Header().Set("Location", "/v1/org/demo/operations/op1")
					w.Header().Set("Content-Type", status)
					w.WriteHeader(http.StatusSeeOther)
					_, _ = w.Write([]byte(`{"id":"op1","done":false}`))
					return
				}
				w.Header().Set("Content-Range", "pages 1-1/1")
				w.WriteHeader(http.StatusPartialContent)
				_, _ = w.Write(body)
			},
			wantResults: 2, wantStatus: 2, wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name: "200 without Range support is the whole listing",
			results: func(w http.ResponseWriter, r *http.Request, call int) {
				_, _ = w.Write(body)
			},
			wantResults: 1, wantStatus: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var results, statuses int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/v1/org/demo/certs/;listCerts":
					w.Header().Set("Location", "/v1/org/demo/operations/op1")
					w.Header().Set("Content-Type", status)
					w.WriteHeader(http.StatusAccepted)
					// no body: the Location names the operation
				case "/v1/org/demo/operations/op1":
					statuses++
					w.Header().Set("Content-Type", status)
					_, _ = w.Write([]byte(`{"id":"op1","done":true,"statusCode":200,"pages":1,"rows":1}`))
				case "/v1/org/demo/operations/op1/results":
					results++
					assert.Equal(t, "pages=1-1", r.Header.Get("Range"))
					tc.results(w, r, results)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(srv.Close)
			c, waits := newClient(t, srv.URL+"/v1/org/{org}/", hardenize.Credentials{User: "u", Password: "p"})
			var seen []string
			var last hardenize.CertCursor
			for page, err := range c.ListCertsPages(context.Background(), hardenize.ListCertsQuery{}, hardenize.CertCursor{}, nil) {
				require.NoError(t, err)
				seen = append(seen, shas(page.Certs)...)
				last = page.Next
			}
			assert.Equal(t, []string{cert.SHA256}, seen)
			assert.True(t, last.Done())
			assert.Equal(t, "op1", last.Operation)
			assert.Equal(t, tc.wantResults, results)
			assert.Equal(t, tc.wantStatus, statuses)
			assert.Equal(t, tc.wantWaits, *waits, "a 303 after done is waited out, not spun on")
		})
	}
}
