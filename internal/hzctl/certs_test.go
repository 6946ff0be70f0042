package hzctl

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/events"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/ingest"
	"github.com/hzhook/hzhook/internal/inventory"
)

const certsToken = "certs-token"

// startInventoryAPI serves the real read API over a SQLite inventory holding one ct.entry and one
// pki.cert.new sample certificate; it returns the URL and the two sha256s.
func startInventoryAPI(t *testing.T) (string, []string) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	store, err := inventory.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "inv.db"), log)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	now := time.Now()
	var shas []string
	var batch []dispatch.Message
	for i, typ := range []string{events.TypeCTEntry, events.TypeCertNew} {
		body, err := events.Sample(typ, int64(i+1), now)
		require.NoError(t, err)
		ev, err := events.ParseEnvelope(body)
		require.NoError(t, err)
		var p struct{ SHA256 string }
		require.NoError(t, json.Unmarshal(ev.Data, &p))
		shas = append(shas, p.SHA256)
		batch = append(batch, dispatch.Message{Data: body, Event: ev, Org: "demo", HookID: "h", Source: "webhook", ReceivedAt: now})
	}
	hs := ingest.New(store, ingest.Options{}).Handlers()
	for _, m := range batch {
		require.NoError(t, hs[m.Event.Type].Handle(ctx, []dispatch.Message{m})[0])
	}
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), log)
	adminapi.RegisterInventory(e.Group("/api/v1", handlers.BearerToken(certsToken)), store, time.Now)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL, shas
}

func TestCerts(t *testing.T) {
	api, shas := startInventoryAPI(t)
	withToken := env(map[string]string{"HZ_ADMIN_TOKEN": certsToken})
	tests := []struct {
		name     string
		args     []string
		env      Env
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"list table", []string{"certs", "list"}, withToken, 0,
			[]string{"SHA256", "NOT AFTER", shas[0], shas[1], "own", "www.example.com", "page 1 of 1, 2 certificates"}, ""},
		{"list filtered", []string{"certs", "list", "--ownership", "own", "--sort", "-notAfter"}, withToken, 0,
			[]string{shas[1], "page 1 of 1, 1 certificates"}, ""},
		{"list json", []string{"certs", "list", "--json", "--page-size", "1"}, withToken, 0,
			[]string{`"pageSize": 1`, `"total": 2`, `"pages": 2`}, ""},
		{"show", []string{"certs", "show", shas[0]}, withToken, 0,
			[]string{"sha256:", shas[0], "ct.googleapis.com/icarus", "CT entries of this issuance (1)", "receivedVia:  webhook"}, ""},
		{"show json", []string{"certs", "show", "--json", shas[1]}, withToken, 0, []string{`"payload"`, `"twins"`}, ""},
		{"report", []string{"certs", "report"}, withToken, 0, []string{"issuances", "by issuer CA", "EC 256"}, ""},
		{"report json", []string{"certs", "report", "--json"}, withToken, 0, []string{`"byIssuerCa"`}, ""},
		{"bad sort names the parameter", []string{"certs", "list", "--sort", "bogus"}, withToken, 1, nil, "400: sort: unknown sort key"},
		{"bad sha256", []string{"certs", "show", "abc"}, withToken, 1, nil, "400: sha256: must be 64 hex digits"},
		{"unknown certificate", []string{"certs", "show", strings.Repeat("0", 64)}, withToken, 1, nil, "404: certificate not found"},
		{"no token", []string{"certs", "list"}, env(nil), 1, nil, "401"},
		{"no subcommand", []string{"certs"}, withToken, 1, nil, "usage: hzctl certs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append(tc.args, "--api", api), IO{Out: &out, Err: &errOut, Env: tc.env})
			require.Equal(t, tc.wantCode, code, errOut.String())
			for _, w := range tc.wantOut {
				assert.Contains(t, out.String(), w)
			}
			assert.Contains(t, errOut.String(), tc.wantErr)
		})
	}
}
