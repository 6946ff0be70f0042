package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/dlq"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
)

const dlqToken = "dlq-test-token"

// dlqServer serves the dead-letter routes on a real JetStream holding three dead letters: event
// ids 1 and 2 transient, 3 permanent.
func dlqServer(t *testing.T) (*httptest.Server, *queue.Conn) {
	t.Helper()
	conn, _ := testenv.JetStream(t)
	ctx := context.Background()
	for i, class := range []string{queue.ClassTransient, queue.ClassTransient, queue.ClassPermanent} {
		id := strconv.Itoa(i + 1)
		h := nats.Header{}
		h.Set(nats.MsgIdHdr, "demo/hook/"+id)
		h.Set(queue.HeaderEventID, id)
		h.Set(queue.HeaderEventType, "ct.entry")
		require.NoError(t, queue.NewPublisher(conn.JS).DeadLetter(ctx, queue.DeadLetter{
			Stage: "worker", Subject: queue.Subject("ct.entry"), Header: h, Data: []byte(`{"id":` + id + `}`),
			OrigSeq: uint64(i + 1), Class: class, Reason: class + "_reason", Err: errors.New("failed " + id),
			Handler: "ct.entry", Attempts: 5, Time: time.Now(),
		}))
	}
	reg := prometheus.NewRegistry()
	e := handlers.NewAdminServer(reg, reg, testenv.DiscardLog())
	RegisterDLQ(e.Group("/api/v1", handlers.BearerToken(dlqToken)), dlq.New(conn.JS, dlq.Options{}))
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	return hs, conn
}

func dlqDo(t *testing.T, srv *httptest.Server, method, path, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func TestDLQRoutesNeedTheToken(t *testing.T) {
	srv, _ := dlqServer(t)
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/dlq"}, {http.MethodGet, "/api/v1/dlq/1"},
		{http.MethodPost, "/api/v1/dlq/1/redrive"}, {http.MethodDelete, "/api/v1/dlq/1"},
		{http.MethodPost, "/api/v1/dlq/redrive?all=true"}, {http.MethodDelete, "/api/v1/dlq?all=true"},
	} {
		for _, token := range []string{"", "wrong"} {
			code, body := dlqDo(t, srv, r.method, r.path, token)
			assert.Equal(t, http.StatusUnauthorized, code, "%s %s token %q", r.method, r.path, token)
			assert.Contains(t, string(body), `"errors"`)
		}
	}
	code, body := dlqDo(t, srv, http.MethodGet, "/api/v1/dlq", dlqToken)
	require.Equal(t, http.StatusOK, code, string(body))
}

func TestDLQListShowRedrivePurge(t *testing.T) {
	srv, conn := dlqServer(t)

	code, body := dlqDo(t, srv, http.MethodGet, "/api/v1/dlq?class=transient&pageSize=1&page=2", dlqToken)
	require.Equal(t, http.StatusOK, code, string(body))
	var page apiwire.List[apiwire.DLQLetter]
	require.NoError(t, json.Unmarshal(body, &page))
	assert.Equal(t, 2, page.Total)
	assert.Equal(t, 2, page.Pages)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "2", page.Items[0].EventID)
	assert.Equal(t, "transient_reason", page.Items[0].Reason)
	assert.Equal(t, 5, page.Items[0].Attempts)

	code, body = dlqDo(t, srv, http.MethodGet, "/api/v1/dlq/3", dlqToken)
	require.Equal(t, http.StatusOK, code, string(body))
	var detail apiwire.DLQDetail
	require.NoError(t, json.Unmarshal(body, &detail))
	assert.Equal(t, "failed 3", detail.Error)
	assert.JSONEq(t, `{"id":3}`, string(detail.Data))
	assert.Equal(t, []string{"permanent"}, detail.Headers[queue.HeaderDLQClass])

	code, body = dlqDo(t, srv, http.MethodPost, "/api/v1/dlq/1/redrive", dlqToken)
	require.Equal(t, http.StatusOK, code, string(body))
	var r apiwire.DLQRedriven
	require.NoError(t, json.Unmarshal(body, &r))
	assert.Equal(t, "demo/hook/1", r.MsgID)
	st, err := conn.JS.Stream(context.Background(), queue.StreamEvents)
	require.NoError(t, err)
	m, err := st.GetMsg(context.Background(), r.StreamSeq)
	require.NoError(t, err)
	assert.Equal(t, "1", m.Header.Get(queue.HeaderEventID))

	code, _ = dlqDo(t, srv, http.MethodDelete, "/api/v1/dlq/3", dlqToken)
	require.Equal(t, http.StatusNoContent, code)

	for _, path := range []string{"/api/v1/dlq/1", "/api/v1/dlq/3"} {
		code, _ = dlqDo(t, srv, http.MethodGet, path, dlqToken)
		assert.Equal(t, http.StatusNotFound, code, path)
	}
	code, body = dlqDo(t, srv, http.MethodGet, "/api/v1/dlq", dlqToken)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal(body, &page))
	assert.Equal(t, 1, page.Total)
}

func TestDLQBulkRoutes(t *testing.T) {
	srv, _ := dlqServer(t)
	code, body := dlqDo(t, srv, http.MethodPost, "/api/v1/dlq/redrive", dlqToken)
	assert.Equal(t, http.StatusBadRequest, code, "no filter, no all=true")
	assert.Contains(t, string(body), "all=true")

	code, body = dlqDo(t, srv, http.MethodPost, "/api/v1/dlq/redrive?class=transient", dlqToken)
	require.Equal(t, http.StatusOK, code, string(body))
	var b apiwire.DLQBulk
	require.NoError(t, json.Unmarshal(body, &b))
	assert.Equal(t, 2, b.Matched)
	assert.Equal(t, 2, b.Done)

	code, body = dlqDo(t, srv, http.MethodDelete, "/api/v1/dlq?all=true", dlqToken)
	require.Equal(t, http.StatusOK, code, string(body))
	require.NoError(t, json.Unmarshal(body, &b))
	assert.Equal(t, 1, b.Done)
}

func TestDLQBadParameters(t *testing.T) {
	srv, _ := dlqServer(t)
	for path, param := range map[string]string{
		"/api/v1/dlq/abc":          "seq",
		"/api/v1/dlq/0":            "seq",
		"/api/v1/dlq?page=0":       "page",
		"/api/v1/dlq?pageSize=201": "pageSize",
	} {
		code, body := dlqDo(t, srv, http.MethodGet, path, dlqToken)
		assert.Equal(t, http.StatusBadRequest, code, path)
		assert.True(t, strings.Contains(string(body), param+":"), "%s: %s", path, body)
	}
}
