package hzctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/certsync"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/hardenize/hardenizetest"
	"github.com/hzhook/hzhook/internal/queue"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/worker"
)

const importToken = "import-token"

// importEnv is a fake Hardenize API holding n certificates (every third a wildcard), a real
// JetStream, and a real pki.cert.new worker with a rules file and a SQLite inventory.
type importEnv struct {
	api      *hardenizetest.Server
	conn     *queue.Conn
	natsURL  string
	adminURL string
	certs    []events.Certificate
}

func newImportEnv(t *testing.T, n int) *importEnv {
	t.Helper()
	conn, srv := testenv.JetStream(t)
	e := &importEnv{api: newAPI(t), conn: conn, natsURL: srv.URL()}
	for i := range n {
		hosts := []string{"www" + string(rune('a'+i)) + ".example.com"}
		if i%3 == 0 {
			hosts = []string{"*.app" + string(rune('a'+i)) + ".example.com"}
		}
		c, err := hardenizetest.NewCert(hardenizetest.CertSpec{Hosts: hosts})
		require.NoError(t, err)
		require.NoError(t, e.api.AddCert(c, time.Now().Add(-time.Hour)))
		e.certs = append(e.certs, c)
	}
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules: {expiringSoon: false}\n"), 0o600))
	cfg := worker.DefaultConfig()
	cfg.Types = []string{events.TypeCertNew}
	cfg.NATSURL, cfg.AdminListen, cfg.AdminToken = srv.URL(), "127.0.0.1:0", importToken
	cfg.DB = "sqlite://" + filepath.Join(t.TempDir(), "inventory.db")
	cfg.Alerts.Rules, cfg.Backoff = rulesFile, []time.Duration{50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	app, err := worker.New(ctx, cfg, worker.Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	e.adminURL = app.AdminURL()
	return e
}

func (e *importEnv) args(extra ...string) []string {
	return append([]string{"certs", "import", "--api-url", e.api.BaseURL(), "--org", org, "--nats-url", e.natsURL,
		"--poll-interval", "10ms", "--api-backoff", "10ms"}, extra...)
}

// settled waits until the worker processed everything in HZ_EVENTS: the event writer and the lint
// stage.
func (e *importEnv) settled(t *testing.T) {
	t.Helper()
	types := []string{events.TypeCertNew}
	for _, name := range []string{worker.ConsumerName(types), worker.LintConsumerName(types)} {
		require.Eventually(t, func() bool {
			c, err := e.conn.JS.Consumer(context.Background(), queue.StreamEvents, name)
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		}, 30*time.Second, 20*time.Millisecond, name)
	}
}

// wildcardFindings counts the wildcard findings of fs (the lint stage adds lintError findings
// beside them).
func wildcardFindings(fs []struct {
	Type       string
	Suppressed bool
	SHA256     string
}) int {
	n := 0
	for _, f := range fs {
		if f.Type == "wildcard" {
			n++
		}
	}
	return n
}

// inventory returns how many rows the inventory API lists for each sha256, and the total it says.
func (e *importEnv) inventory(t *testing.T) (map[string]int, int) {
	t.Helper()
	var page struct {
		Items []struct{ SHA256, ReceivedVia string }
		Total int
	}
	e.get(t, "/api/v1/certificates?pageSize=200", &page)
	out := map[string]int{}
	for _, c := range page.Items {
		out[c.SHA256]++
		assert.Equal(t, queue.SourceImport, c.ReceivedVia, "origin of the row")
	}
	return out, page.Total
}

func (e *importEnv) findings(t *testing.T) []struct {
	Type       string
	Suppressed bool
	SHA256     string
} {
	t.Helper()
	var page struct {
		Items []struct {
			Type       string
			Suppressed bool
			SHA256     string
		}
	}
	e.get(t, "/api/v1/findings?pageSize=200", &page)
	return page.Items
}

func (e *importEnv) get(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.adminURL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+importToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// alerts counts the messages in HZ_ALERTS.
func (e *importEnv) alerts(t *testing.T) uint64 {
	t.Helper()
	s, err := e.conn.JS.Stream(context.Background(), queue.StreamAlerts)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// shrinkDedupWindow makes HZ_EVENTS forget message ids after 100ms, and waits that long.
func (e *importEnv) shrinkDedupWindow(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s, err := e.conn.JS.Stream(ctx, queue.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	// Twice: nats-server (2.15.2) fires its duplicate purge at once on an update, but may do so
	// before the stream holds the new window, and then purges by the old one (10 minutes) and waits
	// that long. The second update's purge sees at least the first's short window.
	cfg := info.Config
	for _, w := range []time.Duration{100 * time.Millisecond, 150 * time.Millisecond} {
		cfg.Duplicates = w
		_, err = e.conn.JS.UpdateStream(ctx, cfg)
		require.NoError(t, err)
	}
	time.Sleep(400 * time.Millisecond) // the window itself is what is waited for
}

func (e *importEnv) wildcards() int {
	n := 0
	for _, c := range e.certs {
		if strings.HasPrefix(c.Hosts[0], "*.") {
			n++
		}
	}
	return n
}

// A fresh installation: one command fills the inventory with every certificate exactly once,
// through the async listing (polls, 429s, pages of the server's size); findings are recorded and
// page no one; a rerun changes nothing.
func TestCertsImportFillsTheInventoryOnce(t *testing.T) {
	e := newImportEnv(t, 12)
	e.api.SetOperationPolls(2)
	e.api.SetRowsPerPage(5)
	e.api.Throttle(2)
	checkpoint := filepath.Join(t.TempDir(), "import.json")

	code, out, errOut := runHzctl(t, apiEnv(nil), e.args("--checkpoint", checkpoint)...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "waiting for Hardenize to prepare the listing")
	assert.Contains(t, errOut, "page 1/3: 5/12 certificates (42%)")
	assert.Contains(t, errOut, "certificates/s, eta")
	assert.Contains(t, errOut, "page 3/3: 12/12 certificates (100%)")
	assert.Contains(t, out, "stored          12\n")
	assert.Contains(t, out, "already stored  0\n")
	assert.Contains(t, out, "alerts          off")
	e.settled(t)

	rows, total := e.inventory(t)
	assert.Equal(t, 12, total)
	require.Len(t, rows, 12)
	for _, c := range e.certs {
		assert.Equal(t, 1, rows[c.SHA256], c.SHA256)
	}
	fs := e.findings(t)
	assert.Equal(t, e.wildcards(), wildcardFindings(fs), "one wildcard finding per wildcard certificate")
	for _, f := range fs {
		assert.True(t, f.Suppressed, "%s of an import is history: recorded, suppressed", f.Type)
	}
	assert.Zero(t, e.alerts(t), "history pages no one")

	code, out, errOut = runHzctl(t, apiEnv(nil), e.args("--checkpoint", checkpoint, "--json")...)
	require.Equal(t, 0, code, errOut)
	var st certsync.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.False(t, st.Resumed, "a finished checkpoint starts a new listing")
	assert.Zero(t, st.Published, "a rerun stores nothing")
	assert.Equal(t, 12, st.Duplicates)
	e.settled(t)
	rows, total = e.inventory(t)
	assert.Equal(t, 12, total)
	assert.Len(t, rows, 12)
	assert.Len(t, e.findings(t), len(fs))
	assert.Zero(t, e.alerts(t))
}

// cancelAfter cancels ctx once the progress line of the given page was written.
type cancelAfter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	page   string
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.page) {
		w.cancel()
	}
	return len(p), nil
}

// An import interrupted after its second page continues from the checkpoint and ends with every
// certificate exactly once; with --alerts the findings of the import alert, once each.
func TestCertsImportResumes(t *testing.T) {
	e := newImportEnv(t, 10)
	e.api.SetOperationPolls(1)
	e.api.SetRowsPerPage(3)
	checkpoint := filepath.Join(t.TempDir(), "import.json")
	args := e.args("--checkpoint", checkpoint, "--alerts")

	ctx, cancel := context.WithCancel(context.Background())
	errOut := &cancelAfter{page: "page 2/4", cancel: cancel}
	var out bytes.Buffer
	code := Main(ctx, args, IO{Out: &out, Err: errOut, Env: apiEnv(nil)})
	require.Equal(t, 1, code)
	assert.Contains(t, errOut.buf.String(), "run again to continue from "+checkpoint)
	assert.Contains(t, out.String(), "stored          6\n")
	assert.Contains(t, out.String(), "completed       false")
	e.settled(t)
	rows, _ := e.inventory(t)
	assert.Len(t, rows, 6)

	code, stdout, stderr := runHzctl(t, apiEnv(nil), args...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "resumed         true")
	assert.Contains(t, stdout, "stored          10\n", "counted over both runs")
	assert.Contains(t, stdout, "already stored  0\n", "no page sent twice")
	assert.NotContains(t, stderr, "page 1/4", "the listing continued after page 2")
	e.settled(t)
	rows, total := e.inventory(t)
	assert.Equal(t, 10, total)
	for _, c := range e.certs {
		assert.Equal(t, 1, rows[c.SHA256], c.SHA256)
	}
	fs := e.findings(t)
	require.Equal(t, e.wildcards(), wildcardFindings(fs))
	require.Eventually(t, func() bool { return e.alerts(t) == uint64(len(fs)) }, 10*time.Second, 20*time.Millisecond)
	for _, f := range fs {
		assert.False(t, f.Suppressed)
	}

	// Beyond the duplicate window a rerun is stored again, and changes nothing: the same rows, the
	// same findings, no second alert.
	e.shrinkDedupWindow(t)
	code, stdout, stderr = runHzctl(t, apiEnv(nil), args...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "stored          10\n", "the stream no longer knows the ids")
	e.settled(t)
	rows, total = e.inventory(t)
	assert.Equal(t, 10, total)
	assert.Len(t, rows, 10)
	assert.Len(t, e.findings(t), len(fs))
	assert.Equal(t, uint64(len(fs)), e.alerts(t))

	code, _, stderr = runHzctl(t, apiEnv(nil), "certs", "import", "--org", org, "--limit", "-1")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "--limit -1")
}
