package hardenize_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/hardenize"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
)

func newClient(t *testing.T, base string, creds hardenize.Credentials) (*hardenize.Client, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	c, err := hardenize.New(hardenize.Options{
		BaseURL: base, Org: "demo", Credentials: creds,
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() },
	})
	require.NoError(t, err)
	return c, &waits
}

func TestHookLifecycle(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	c, _ := newClient(t, api.URL+"/v1/org/{org}/", api.Credentials())
	ctx := context.Background()

	h, err := c.CreateEventHook(ctx, hardenize.CreateEventHookRequest{HookType: "webhook", EventTypes: []string{"ct.entry"}, Destination: "https://example.com/x"})
	require.NoError(t, err)
	assert.Equal(t, hardenize.StatusDisabled, h.Status, "new hooks start disabled")
	assert.Len(t, h.Secret, 32)

	h, err = c.UpdateEventHook(ctx, h.ID, hardenize.UpdateEventHookRequest{Status: hardenize.StatusEnabled})
	require.NoError(t, err)
	assert.Equal(t, hardenize.StatusEnabled, h.Status)

	hooks, err := c.ListEventHooks(ctx)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	assert.Equal(t, h, hooks[0])

	require.NoError(t, c.DeleteEventHook(ctx, h.ID))
	err = c.DeleteEventHook(ctx, h.ID)
	require.Error(t, err)
	assert.True(t, hardenize.IsNotFound(err))
	assert.Contains(t, err.Error(), "404 Not Found: event hook not found")

	types, err := c.ListEventTypes(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, types)
	_, err = c.ListEventDestinations(ctx)
	require.NoError(t, err)
}

func TestErrors(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	tests := []struct {
		name  string
		creds hardenize.Credentials
		call  func(c *hardenize.Client) error
		want  string
	}{
		{"bad credentials", hardenize.Credentials{User: "x", Password: "y"},
			func(c *hardenize.Client) error { _, err := c.ListEventHooks(context.Background()); return err },
			"401 Unauthorized: credentials not provided or invalid (check the api user and password)"},
		{"parameter error", api.Credentials(),
			func(c *hardenize.Client) error {
				_, err := c.CreateEventHook(context.Background(), hardenize.CreateEventHookRequest{HookType: "webhook", Destination: "https://x"})
				return err
			},
			"create event hook: POST eventHooks: hardenize api: 400 Bad Request: eventTypes: at least one event type is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newClient(t, api.BaseURL(), tc.creds)
			err := tc.call(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRetries(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	c, waits := newClient(t, api.BaseURL(), api.Credentials())
	api.Throttle(3)
	_, err := c.ListEventHooks(context.Background())
	require.NoError(t, err, "429 answers are retried")
	assert.Equal(t, 4, api.Requests("eventHooks"))
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, *waits, "exponential backoff when Retry-After is 0")

	api.Throttle(100)
	_, err = c.ListEventHooks(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "429 Too Many Requests: too many requests (allowance r: 0/60 (+1/1s); c: 1/5)")
}

func TestRetryAfterAndServerErrors(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch {
		case calls == 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		case calls == 2 && r.Method == http.MethodGet:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte(`{"eventTypes":[{"name":"ct.entry","available":true,"enabled":true,"future":{"x":1}}],"more":true}`))
		}
	}))
	t.Cleanup(srv.Close)
	c, waits := newClient(t, srv.URL+"/v1/org/demo", hardenize.Credentials{User: "u", Password: "p"})
	types, err := c.ListEventTypes(context.Background())
	require.NoError(t, err, "unknown fields are ignored")
	assert.Equal(t, []hardenize.EventType{{Name: "ct.entry", Available: true, Enabled: true}}, types)
	assert.Equal(t, []time.Duration{7 * time.Second, 2 * time.Second}, *waits, "Retry-After honoured, then backoff")
}

func TestCreateIsNotRetriedOn500(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	c, _ := newClient(t, srv.URL+"/v1/org/demo/", hardenize.Credentials{User: "u", Password: "p"})
	_, err := c.CreateEventHook(context.Background(), hardenize.CreateEventHookRequest{HookType: "webhook", EventTypes: []string{"ct.entry"}, Destination: "https://x"})
	require.Error(t, err)
	assert.Equal(t, 1, calls, "a create that may have happened is not repeated")
}

func TestListEventsPaging(t *testing.T) {
	api := hardenizetest.NewServer("demo")
	t.Cleanup(api.Close)
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		_, err := api.AddEvent("ct.entry", base.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
	}
	c, _ := newClient(t, api.BaseURL(), api.Credentials())
	page, err := c.ListEvents(context.Background(), hardenize.EventsQuery{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, "10001", page[0].ID)
	page, err = c.ListEvents(context.Background(), hardenize.EventsQuery{Since: page[1].CreatedOn, Limit: 100, Type: "ct.entry"})
	require.NoError(t, err)
	require.Len(t, page, 3)
	assert.Equal(t, "10003", page[0].ID)
	assert.Equal(t, base.Add(2*time.Second), page[0].CreatedOn)
	assert.Contains(t, string(page[0].Raw), `"data":"{`, "the raw event keeps data as the API's JSON string")
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          hardenize.Credentials
		wantErr       string
	}{
		{"yaml", "user: svc\npassword: s3cret\n", hardenize.Credentials{User: "svc", Password: "s3cret"}, ""},
		{"json", `{"user":"svc","password":"s3cret"}`, hardenize.Credentials{User: "svc", Password: "s3cret"}, ""},
		{"colon line", "svc:s3cret:with:colons\n", hardenize.Credentials{User: "svc", Password: "s3cret:with:colons"}, ""},
		{"missing password", "user: svc\n", hardenize.Credentials{}, "user and password must both be set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o600))
			got, err := hardenize.LoadCredentials(p)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.NotContains(t, err.Error(), "svc")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
