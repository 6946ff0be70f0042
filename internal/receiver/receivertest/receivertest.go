// Package receivertest boots a real receiver for other packages' tests, as net/http/httptest does
// a server: loopback listeners on free ports, an embedded JetStream server, a hooks file.
package receivertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/receiver"
	"github.com/hzhook/hzhook/internal/testenv"
	"github.com/hzhook/hzhook/internal/verify"
)

// WriteHooks writes a secrets file holding hooks into dir and returns its path.
func WriteHooks(t testing.TB, dir string, hooks ...verify.Hook) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("hooks:\n")
	for _, h := range hooks {
		quoted := make([]string, len(h.Secrets))
		for i, s := range h.Secrets {
			quoted[i] = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, "  - org: %q\n    id: %q\n    secrets: [%s]\n", h.Org, h.ID, strings.Join(quoted, ", "))
	}
	path := filepath.Join(dir, "hooks.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// Start boots a receiver verifying with secretsFile, with its own embedded JetStream server under
// a temporary directory, and waits until it is ready. mutate, if not nil, changes the
// configuration first. The receiver stops when the test ends.
func Start(t testing.TB, secretsFile string, mutate func(*receiver.Config)) *receiver.App {
	t.Helper()
	cfg := receiver.Config{
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", WebhookPath: "/hardenize/events",
		SecretsFile: secretsFile, SecretsReload: 100 * time.Millisecond, DataDir: t.TempDir(), EmbeddedNATSPort: 0,
		Tolerance: 5 * time.Minute, MaxBodyBytes: 1 << 20, MaxInFlight: 64, PublishTimeout: 2 * time.Second,
		StreamReplicas: 1, StreamMaxBytes: -1, DedupWindow: time.Minute, ShutdownTimeout: 5 * time.Second, LogLevel: "info",
		Durability: receiver.DefaultDurability(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	app, err := receiver.New(ctx, cfg, receiver.Deps{Log: testenv.DiscardLog(), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		resp, err := http.Get(app.AdminURL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	return app
}
