package faults

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/hzhook/hzhook/internal/bench"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/worker"
)

// allTypesConsumer is the durable consumer of a worker started with the default --types.
func allTypesConsumer() string {
	return worker.ConsumerName([]string{events.TypeCTEntry, events.TypeCertNew})
}

const adminToken = "faults-admin-token"

// workerProc is a worker process of the stack with its admin URL and store.
type workerProc struct {
	*bench.Proc
	adminURL string
	dbURL    string
}

// startWorker starts the real worker binary on the stack's NATS with the store at dbURL; args are
// extra flags. It waits until /readyz answers 200.
func (s *stack) startWorker(dbURL string, args ...string) *workerProc {
	s.t.Helper()
	admin := freePort(s.t)
	w := &workerProc{adminURL: "http://" + addr(admin), dbURL: dbURL}
	w.Proc = startProc(s.t, "worker", []string{
		"HZ_NATS_URL=nats://" + addr(s.natsPort), "HZ_DB_URL=" + dbURL, "HZ_ADMIN_LISTEN=" + addr(admin),
		"HZ_ADMIN_TOKEN=" + adminToken, "HZ_LOG_LEVEL=warn",
	}, args...)
	waitHTTP(s.t, w.adminURL+"/readyz", http.StatusOK, time.Minute)
	return w
}

// sqliteURL is a worker store in the test's temporary directory.
func sqliteURL(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "hzhook.db")
}

// openStore opens the worker's store for checks: SQLite read-only (WAL lets it read beside the
// writer), PostgreSQL through pgx.
func openStore(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	if path, ok := strings.CutPrefix(dbURL, "sqlite://"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", dbURL)
	}
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// storedEvents counts the received_events rows of the test hook per event id. An error (e.g. the
// schema is not there yet) is returned, not fatal.
func storedEvents(ctx context.Context, db *sql.DB) (map[int]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT event_id, COUNT(*) FROM received_events WHERE org = $1 AND hook_id = $2 GROUP BY event_id`, org, hook)
	if err != nil {
		return nil, fmt.Errorf("count stored events: %w", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("scan stored events: %w", err)
		}
		k, err := strconv.Atoi(id)
		if err != nil {
			return nil, fmt.Errorf("event id %q: %w", id, err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// storedCount is the number of distinct stored event ids, -1 while the store cannot be read.
func storedCount(db *sql.DB) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM received_events WHERE org = $1 AND hook_id = $2`, org, hook).Scan(&n); err != nil {
		return -1
	}
	return n
}

// waitStored waits until at least n events are stored.
func waitStored(t *testing.T, db *sql.DB, n int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return storedCount(db) >= n }, within, 20*time.Millisecond,
		"%d events stored", n)
}

// queueState reports the number of dead letters in HZ_DLQ and the messages the worker group's
// consumer has not finished (pending plus unacknowledged).
func (s *stack) queueState(consumer string) (dead int, unfinished int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := queue.Connect(ctx, "nats://"+addr(s.natsPort), "faults-check", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(s.t, err)
	defer conn.Close(time.Second)
	require.NoError(s.t, conn.WaitConnected(ctx))
	dlq, err := conn.JS.Stream(ctx, queue.StreamDLQ)
	require.NoError(s.t, err)
	info, err := dlq.Info(ctx)
	require.NoError(s.t, err)
	c, err := conn.JS.Consumer(ctx, queue.StreamEvents, consumer)
	require.NoError(s.t, err)
	ci, err := c.Info(ctx)
	require.NoError(s.t, err)
	return int(info.State.Msgs), int(ci.NumPending) + ci.NumAckPending
}

// sampleBodies makes n distinct valid events of typ (ids 1..n), each with its own freshly generated
// certificate, on every CPU.
func sampleBodies(t *testing.T, typ string, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	const workers = 4
	now := time.Now()
	for k := range workers {
		wg.Go(func() {
			for i := k; i < n; i += workers {
				out[i], errs[i] = events.Sample(typ, int64(i+1), now)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

// bodyOf serves the sender bodies[id-1].
func bodyOf(bodies [][]byte) func(id int) []byte {
	return func(id int) []byte { return bodies[id-1] }
}

// certSHA256 is the certificate sha256 a ct.entry or pki.cert.new body carries.
func certSHA256(t *testing.T, body []byte) string {
	t.Helper()
	var ev struct {
		Data struct {
			SHA256 string `json:"sha256"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &ev))
	require.NotEmpty(t, ev.Data.SHA256)
	return ev.Data.SHA256
}

// lostIn counts the accepted ids with no row in the store. (A store cannot hold an event twice:
// received_events is keyed by org, hook and event id. Duplicates are counted where they can
// happen: messages per event id in HZ_EVENTS, alerts per issuance and type at a sink.)
func lostIn(accepted map[int]bool, stored map[int]int) int {
	lost, _ := compare(len(accepted), accepted, stored)
	return lost
}
