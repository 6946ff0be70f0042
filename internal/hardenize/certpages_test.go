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

// fillAccount adds n generated certificates, a second apart, and returns their sha256s in order.
func fillAccount(t *testing.T, api *hardenizetest.Server, n int) []string {
	t.Helper()
	base := time.Now().Add(-time.Duration(n) * time.Second)
	out := make([]string, n)
	for i := range n {
		out[i] = addCert(t, api, hardenizetest.CertSpec{}, base.Add(time.Duration(i)*time.Second)).SHA256
	}
	return out
}

// collect pages through a listing from cur until it ends or stop pages have been read, and
// returns the sha256s seen and the cursor to resume from.
func collect(t *testing.T, c *hardenize.Client, q hardenize.ListCertsQuery, cur hardenize.CertCursor, stop int) ([]string, hardenize.CertCursor) {
	t.Helper()
	seen := []string{}
	pages := 0
	for page, err := range c.ListCertsPages(context.Background(), q, cur, nil) {
		require.NoError(t, err)
		assert.Empty(t, page.Rejected)
		seen = append(seen, shas(page.Certs)...)
		cur = page.Next
		if pages++; pages == stop {
			break
		}
	}
	return seen, cur
}

func TestListCertsPagesEachCertOnce(t *testing.T) {
	tests := []struct {
		name               string
		certs, perPage     int
		limit              int
		wantPages, wantLen int
	}{
		{name: "last page partial", certs: 23, perPage: 5, wantPages: 5, wantLen: 23},
		{name: "last page full", certs: 10, perPage: 5, wantPages: 2, wantLen: 10},
		{name: "one page", certs: 3, perPage: 250, wantPages: 1, wantLen: 3},
		{name: "limit caps the listing, not the page", certs: 23, perPage: 5, limit: 7, wantPages: 2, wantLen: 7},
		{name: "empty account", certs: 0, perPage: 5, wantPages: 0, wantLen: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := hardenizetest.NewServer("demo")
			t.Cleanup(api.Close)
			api.SetRowsPerPage(tc.perPage)
			all := fillAccount(t, api, tc.certs)
			c, _ := newClient(t, api.BaseURL(), api.Credentials())

			seen, last := collect(t, c, hardenize.ListCertsQuery{Limit: tc.limit}, hardenize.CertCursor{}, 0)
			assert.Equal(t, all[:tc.wantLen], seen, "every certificate once, in order")
			assert.True(t, last.Done())
			assert.Equal(t, hardenize.CertProgress{Page: tc.wantPages, Pages: tc.wantPages,
				Delivered: tc.wantLen, Rows: tc.wantLen, Started: last.Started}, last.Progress())
			assert.Equal(t, 1, api.Requests("listCerts"))
			assert.Equal(t, max(tc.wantPages, 1), api.Requests("results"), "one request per page (an empty listing asks for page 1)")

			page, err := c.ListCertsPage(context.Background(), last, nil)
			require.NoError(t, err, "a finished cursor stays finished")
			assert.Empty(t, page.Certs)
			assert.Equal(t, last, page.Next)
		})
	}
}

func TestListCertsResumeFromSavedCursor(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	api.SetRowsPerPage(5)
	all := fillAccount(t, api, 23)
	q := hardenize.ListCertsQuery{}

	first, _ := newClient(t, api.BaseURL(), api.Credentials())
	seen, cur := collect(t, first, q, hardenize.CertCursor{}, 2)
	require.Len(t, seen, 10)
	saved, err := json.Marshal(cur)
	require.NoError(t, err)

	// The import is interrupted; meanwhile the account changes. A new process resumes.
	late := addCert(t, api, hardenizetest.CertSpec{}, time.Now())
	var resumed hardenize.CertCursor
	require.NoError(t, json.Unmarshal(saved, &resumed))
	assert.Equal(t, cur, resumed, "the cursor survives JSON")
	second, _ := newClient(t, api.BaseURL(), api.Credentials())
	rest, last := collect(t, second, q, resumed, 0)

	assert.Equal(t, all, append(seen, rest...), "each certificate exactly once across the interruption")
	assert.NotContains(t, rest, late.SHA256, "a listing is a snapshot of when it started")
	assert.True(t, last.Done())
	assert.Equal(t, 23, last.Delivered)
	assert.Equal(t, 1, api.Requests("listCerts"), "resuming does not start a new listing")
	assert.Equal(t, 5, api.Requests("results"))

	_, err = client(t, api).ListCertsPage(context.Background(), hardenize.CertCursor{}, nil)
	require.ErrorContains(t, err, "cursor not started")
	for _, err := range second.ListCertsPages(context.Background(), hardenize.ListCertsQuery{Limit: 3}, resumed, nil) {
		require.EqualError(t, err, "list certificates: cursor was started with limit 0, not 3")
	}
}

func client(t *testing.T, api *hardenizetest.Server) *hardenize.Client {
	t.Helper()
	cl, _ := newClient(t, api.BaseURL(), api.Credentials())
	return cl
}

func TestListCertsResumeWhileOperationRuns(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	api.SetOperationPolls(5)
	all := fillAccount(t, api, 3)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	impatient, err := hardenize.New(hardenize.Options{
		BaseURL: api.BaseURL(), Org: "demo", Credentials: api.Credentials(),
		Sleep: func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() },
	})
	require.NoError(t, err)
	cur, err := impatient.StartListCerts(ctx, hardenize.ListCertsQuery{})
	require.NoError(t, err)
	_, err = impatient.ListCertsPage(ctx, cur, nil)
	require.ErrorIs(t, err, context.Canceled)

	seen, last := collect(t, client(t, api), hardenize.ListCertsQuery{}, cur, 0)
	assert.Equal(t, all, seen)
	assert.True(t, last.Done())
	assert.Equal(t, 1, api.Requests("listCerts"), "the running operation is polled again, not restarted")
	assert.Equal(t, 6, api.Requests("operations"))
}

func TestListCertsPollsUntilDone(t *testing.T) {
	tests := []struct {
		name      string
		polls     int
		wantWaits []time.Duration
	}{
		{"done at once", 0, nil},
		{"three polls", 3, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"interval bounded", 7, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := hardenizetest.NewServer("demo")
			t.Cleanup(api.Close)
			api.SetOperationPolls(tc.polls)
			api.SetRowsPerPage(2)
			all := fillAccount(t, api, 3)
			c, waits := newClient(t, api.BaseURL(), api.Credentials())

			var statuses []hardenize.OperationStatus
			var seen []string
			for page, err := range c.ListCertsPages(context.Background(), hardenize.ListCertsQuery{}, hardenize.CertCursor{}, func(st hardenize.OperationStatus) {
				statuses = append(statuses, st)
			}) {
				require.NoError(t, err)
				seen = append(seen, shas(page.Certs)...)
			}
			assert.Equal(t, all, seen)
			assert.Equal(t, tc.wantWaits, *waits)
			require.Len(t, statuses, tc.polls+1)
			for _, st := range statuses[:tc.polls] {
				assert.False(t, st.Done)
			}
			done := statuses[tc.polls]
			assert.Equal(t, hardenize.OperationStatus{ID: done.ID, Done: true, StatusCode: 200,
				ContentType: "application/json; charset=UTF-8", Pages: 2, Rows: 3, RowsPerPage: 2}, done)
			assert.Equal(t, tc.polls+1, api.Requests("operations"))
		})
	}
}

func TestListCertsRetriesThrottledRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// before runs the listing up to the request to throttle and returns the cursor there and
		// the certificates delivered so far.
		before func(t *testing.T, c *hardenize.Client) (hardenize.CertCursor, []string)
	}{
		{"starting the operation", func(*testing.T, *hardenize.Client) (hardenize.CertCursor, []string) {
			return hardenize.CertCursor{}, nil
		}},
		{"polling its status", func(t *testing.T, c *hardenize.Client) (hardenize.CertCursor, []string) {
			cur, err := c.StartListCerts(ctx, hardenize.ListCertsQuery{})
			require.NoError(t, err)
			return cur, nil
		}},
		{"fetching a page", func(t *testing.T, c *hardenize.Client) (hardenize.CertCursor, []string) {
			cur, err := c.StartListCerts(ctx, hardenize.ListCertsQuery{})
			require.NoError(t, err)
			page, err := c.ListCertsPage(ctx, cur, nil)
			require.NoError(t, err)
			require.True(t, page.Next.Ready)
			return page.Next, shas(page.Certs)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := hardenizetest.NewServer("demo")
			t.Cleanup(api.Close)
			api.SetOperationPolls(0)
			api.SetRowsPerPage(1)
			all := fillAccount(t, api, 2)
			c, waits := newClient(t, api.BaseURL(), api.Credentials())
			cur, seen := tc.before(t, c)
			require.Empty(t, *waits)

			api.ThrottleRetryAfter(2, 3*time.Second)
			rest, last := collect(t, c, hardenize.ListCertsQuery{}, cur, 0)
			assert.Equal(t, all, append(seen, rest...))
			assert.True(t, last.Done())
			assert.Equal(t, []time.Duration{3 * time.Second, 3 * time.Second}, *waits, "Retry-After honoured")
		})
	}
}

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

func TestListCertsRejectsBadObjectsOnly(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	good := fillAccount(t, api, 2)
	bad, err := hardenizetest.NewCert(hardenizetest.CertSpec{})
	require.NoError(t, err)
	other, err := hardenizetest.NewCert(hardenizetest.CertSpec{})
	require.NoError(t, err)
	bad.PEM = other.PEM // the DER no longer hashes to sha256
	require.NoError(t, api.AddCert(bad, time.Now()))
	c, _ := newClient(t, api.BaseURL(), api.Credentials())

	for page, err := range c.ListCertsPages(context.Background(), hardenize.ListCertsQuery{}, hardenize.CertCursor{}, nil) {
		require.NoError(t, err)
		assert.Equal(t, good, shas(page.Certs))
		require.Len(t, page.Rejected, 1)
		assert.Equal(t, 2, page.Rejected[0].Index)
		var perm *events.PermanentError
		assert.ErrorAs(t, page.Rejected[0].Err, &perm)
		assert.Equal(t, 3, page.Next.Delivered, "rejected objects count as delivered")
	}
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
