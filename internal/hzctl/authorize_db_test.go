package hzctl

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/handlers"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/testenv"
)

// hzctl authorize --db stores the authorization in the inventory database through the real admin
// API, once; the API's refusal of an invalid one reaches the operator.
func TestAuthorizeInDatabase(t *testing.T) {
	store, err := inventory.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "inv.db"), testenv.DiscardLog())
	require.NoError(t, err)
	t.Cleanup(store.Close)
	e := handlers.NewAdminServer(prometheus.NewRegistry(), prometheus.NewRegistry(), testenv.DiscardLog())
	adminapi.RegisterAuthorizations(e.Group("/api/v1", handlers.BearerToken(certsToken)), authz.New(nil, store, testenv.DiscardLog(), time.Now))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"authorize", "--db", "--api", srv.URL}, args...),
			IO{Out: &out, Err: &errOut, Env: env(map[string]string{"HZ_ADMIN_TOKEN": certsToken})})
		return code, out.String(), errOut.String()
	}
	spki := strings.Repeat("0d", 32)
	code, out, errOut := run("--spki", spki, "--names", "api.example.com,.cdn.example.com", "--note", "renewals")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "authorized spkiSha256 "+spki+" for .cdn.example.com, api.example.com in the inventory database")
	code, out, _ = run("--spki", spki, "--names", ".cdn.example.com,api.example.com")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "already authorized in the inventory database")
	code, _, errOut = run("--tbs", "1234")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "400: invalid authorization: tbsSha256: expected a SHA-256 fingerprint")

	stored, err := store.Authorizations(context.Background())
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Equal(t, "hzctl", stored[0].Author)
	assert.Equal(t, "renewals", stored[0].Note)
}
