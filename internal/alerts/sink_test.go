package alerts

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/verify"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// recorder is a sink endpoint answering the given statuses in turn (the last one repeats).
type recorder struct {
	mu       sync.Mutex
	statuses []int
	reqs     []recorded
}

type recorded struct {
	header http.Header
	body   []byte
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Header.Clone(), body})
	status := r.statuses[min(len(r.reqs), len(r.statuses))-1]
	r.mu.Unlock()
	if status == http.StatusMovedPermanently {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func serve(t *testing.T, statuses ...int) (*recorder, string) {
	t.Helper()
	rec := &recorder{statuses: statuses}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func TestSinksClassifyAnswers(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{
		{http.StatusOK, false}, {http.StatusNoContent, false},
		{http.StatusBadRequest, true}, {http.StatusUnauthorized, true}, {http.StatusForbidden, true},
		{http.StatusNotFound, true}, {http.StatusGone, true}, {http.StatusMovedPermanently, true},
		{http.StatusTooManyRequests, false}, {http.StatusInternalServerError, false},
		{http.StatusBadGateway, false}, {http.StatusServiceUnavailable, false},
	}
	for _, kind := range []string{KindWebhook, KindSlack} {
		for _, tc := range tests {
			t.Run(kind+" "+http.StatusText(tc.status), func(t *testing.T) {
				_, url := serve(t, tc.status)
				err := newSink(t, kind, url, nil).Deliver(t.Context(), sampleAlert())
				if tc.status < 300 {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, ErrStatus)
				var perm *events.PermanentError
				assert.Equal(t, tc.permanent, errors.As(err, &perm), "%v", err)
			})
		}
	}
}

func TestSinksTreatNetworkFailuresAsTransient(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); slow.Close() })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, kind := range []string{KindWebhook, KindSlack} {
		for name, url := range map[string]string{"timeout": slow.URL, "connection refused": closed.URL} {
			t.Run(kind+" "+name, func(t *testing.T) {
				client := &http.Client{Timeout: 50 * time.Millisecond}
				err := newSink(t, kind, url, client).Deliver(t.Context(), sampleAlert())
				require.Error(t, err)
				var perm *events.PermanentError
				assert.False(t, errors.As(err, &perm), "%v", err)
			})
		}
	}
}

func TestWebhookRequestIsSignedWithIdempotencyKey(t *testing.T) {
	rec, url := serve(t, http.StatusAccepted)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := NewWebhookSink(WebhookOptions{URL: url, Secret: testSecret, Now: func() time.Time { return now }})
	require.NoError(t, err)
	a := sampleAlert()
	require.NoError(t, s.Deliver(t.Context(), a))

	reqs := rec.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, a.ID, r.header.Get(HeaderIdempotencyKey))
	store, err := verify.NewStore([]verify.Hook{{Org: "me", ID: "alerts", Secrets: []string{testSecret}}})
	require.NoError(t, err)
	v := verify.NewVerifier(store, 5*time.Minute, func() time.Time { return now })
	require.NoError(t, v.Verify("me", "alerts", r.header.Get(HeaderSignature), r.body), "a receiver verifies alerts as hzhook verifies Hardenize")

	var got Alert
	require.NoError(t, json.Unmarshal(r.body, &got))
	assert.Equal(t, a, got)
}

func TestSinkOptionsAreValidated(t *testing.T) {
	_, err := NewWebhookSink(WebhookOptions{URL: "ftp://x", Secret: testSecret})
	assert.Error(t, err)
	_, err = NewWebhookSink(WebhookOptions{URL: "https://example.com/hook"})
	assert.ErrorContains(t, err, "secret is required")
	_, err = NewSlackSink(SlackOptions{URL: "hooks.slack.com/services/x"})
	assert.Error(t, err)
}

func newSink(t *testing.T, kind, url string, client *http.Client) Sink {
	t.Helper()
	var s Sink
	var err error
	switch kind {
	case KindWebhook:
		s, err = NewWebhookSink(WebhookOptions{URL: url, Secret: testSecret, Client: client})
	case KindSlack:
		s, err = NewSlackSink(SlackOptions{URL: url, Client: client})
	}
	require.NoError(t, err)
	return s
}
