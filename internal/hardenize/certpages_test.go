package hardenize_test

import (
	"context"
	"encoding/json"
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
