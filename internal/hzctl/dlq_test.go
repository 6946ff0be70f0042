package hzctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/worker"
)

const dlqCLIToken = "dlq-cli-token"

// seenIDs is a worker handler that records the event ids it processed.
type seenIDs struct {
	mu  sync.Mutex
	ids map[string]int
}

func (s *seenIDs) Handle(_ context.Context, batch []dispatch.Message) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range batch {
		s.ids[m.Event.ID]++
	}
	return make([]error, len(batch))
}

func (s *seenIDs) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// startDLQWorker boots a real worker (embedded JetStream, admin API with a token) whose HZ_DLQ holds
// dead letters for ct.entry events 1 and 2 (transient) and 3 (permanent).
func startDLQWorker(t *testing.T) (string, *seenIDs) {
	t.Helper()
	conn, srv := testenv.JetStream(t)
	log := testenv.DiscardLog()
	ctx := context.Background()
	for i, class := range []string{queue.ClassTransient, queue.ClassTransient, queue.ClassPermanent} {
		id := strconv.Itoa(i + 1)
		h := nats.Header{}
		h.Set(nats.MsgIdHdr, "demo/hook/"+id)
		h.Set(queue.HeaderEventID, id)
		h.Set(queue.HeaderEventType, "ct.entry")
		body := []byte(`{"id":` + id + `,"type":"ct.entry","createdOn":"2026-01-02T03:04:05Z","data":{}}`)
		require.NoError(t, queue.NewPublisher(conn.JS).DeadLetter(ctx, queue.DeadLetter{
			Stage: "worker", Subject: queue.Subject("ct.entry"), Header: h, Data: body, OrigSeq: uint64(i + 1),
			Class: class, Reason: map[string]string{queue.ClassTransient: "max_deliver", queue.ClassPermanent: "invalid_payload"}[class],
			Err: errors.New("failed " + id), Handler: "ct.entry", Attempts: 5, Time: time.Now(),
		}))
	}

	var cfg worker.Config
	set := config.NewSet("worker", func(k string) (string, bool) {
		if k == "HZ_ADMIN_TOKEN" {
			return dlqCLIToken, true
		}
		return "", false
	})
	worker.Bind(set, &cfg)
	require.NoError(t, set.Parse([]string{"--nats-url", srv.URL(), "--admin-listen", "127.0.0.1:0", "--types", "ct.entry"}))
	seen := &seenIDs{ids: map[string]int{}}
	wctx, cancel := context.WithCancel(ctx)
	app, err := worker.New(wctx, cfg, worker.Deps{Log: log, Registry: prometheus.NewRegistry(),
		Handlers: map[string]dispatch.Handler{"ct.entry": seen}})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(wctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		resp, err := http.Get(app.AdminURL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	return app.AdminURL(), seen
}

func dlqCLI(t *testing.T, api, token string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	vars := map[string]string{}
	if token != "" {
		vars["HZ_ADMIN_TOKEN"] = token
	}
	code := Main(context.Background(), append(append([]string{"dlq"}, args...), "--api", api),
		IO{Out: &out, Err: &errOut, Env: env(vars)})
	return code, out.String(), errOut.String()
}

func TestDLQCommand(t *testing.T) {
	api, seen := startDLQWorker(t)

	code, out, errOut := dlqCLI(t, api, "", "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "401")
	assert.Contains(t, errOut, "HZ_ADMIN_TOKEN")
	assert.Empty(t, out)

	code, out, errOut = dlqCLI(t, api, dlqCLIToken, "list")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "SEQ")
	assert.Contains(t, out, "max_deliver")
	assert.Contains(t, out, "invalid_payload")
	assert.Contains(t, out, "page 1 of 1, 3 dead letters")

	code, out, errOut = dlqCLI(t, api, dlqCLIToken, "list", "--class", "permanent", "--json")
	require.Equal(t, 0, code, errOut)
	var page apiwire.List[apiwire.DLQLetter]
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Equal(t, 1, page.Total)
	permanent := strconv.FormatUint(page.Items[0].Seq, 10)

	code, out, errOut = dlqCLI(t, api, dlqCLIToken, "show", permanent)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "failed 3")
	assert.Contains(t, out, `"type": "ct.entry"`, "the body, pretty-printed")

	code, out, errOut = dlqCLI(t, api, dlqCLIToken, "redrive", "--class", "transient")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "redrive: 2 of 2 matching dead letters, 0 failed")
	require.Eventually(t, func() bool { return seen.count("1") == 1 && seen.count("2") == 1 }, 20*time.Second, 20*time.Millisecond)

	code, out, errOut = dlqCLI(t, api, dlqCLIToken, "purge", permanent)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "purged dead letter "+permanent)

	code, _, errOut = dlqCLI(t, api, dlqCLIToken, "show", permanent)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404")

	code, out, errOut = dlqCLI(t, api, dlqCLIToken, "list", "--json")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	assert.Zero(t, page.Total)
	assert.Equal(t, 0, seen.count("3"), "purged, never processed")
}

func TestDLQCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"redrive"}, {"purge"}, {"show", "abc"}, {"frobnicate"}} {
		code, _, _ := dlqCLI(t, "http://127.0.0.1:1", dlqCLIToken, args...)
		assert.NotEqual(t, 0, code, "%v", args)
	}
	var out, errOut bytes.Buffer
	assert.NotEqual(t, 0, Main(context.Background(), []string{"dlq"}, IO{Out: &out, Err: &errOut, Env: env(nil)}))
	assert.Contains(t, errOut.String(), "hzctl dlq <list|show|redrive|purge>")
}
