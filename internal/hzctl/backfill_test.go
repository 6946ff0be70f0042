package hzctl

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/backfill"
	"github.com/hzhook/hzhook/internal/hardenize"
)

func TestBackfillCommand(t *testing.T) {
	app := startReceiver(t)
	api := newAPI(t)
	api.AddHook(hardenize.EventHook{ID: hook, Secret: secret, EventTypes: []string{"ct.entry"}, Status: hardenize.StatusEnabled, Destination: app.WebhookURL()})
	start := time.Now().Add(-30 * time.Hour)
	for i := range 25 {
		ev, err := api.AddEvent("ct.entry", start.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		if i < 5 { // delivered before the outage
			code, err := api.Deliver(context.Background(), hook, ev)
			require.NoError(t, err)
			require.Equal(t, 204, code)
		}
	}
	checkpoint := filepath.Join(t.TempDir(), "cp.json")
	args := []string{"backfill", "--api-url", api.BaseURL(), "--org", org, "--since", "31h", "--page-size", "10",
		"--nats-url", app.NATSURL(), "--checkpoint", checkpoint}

	code, out, errOut := runHzctl(t, apiEnv(nil), args...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "page 1: 10 events")
	assert.Contains(t, errOut, "events/s")
	assert.Contains(t, out, "hook            "+hook, "the only webhook hook is used")
	assert.Contains(t, out, "stored          20\n")
	assert.Contains(t, out, "already stored  5\n")

	code, out, errOut = runHzctl(t, apiEnv(nil), append(args, "--json")...)
	require.Equal(t, 0, code, errOut)
	var st backfill.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.True(t, st.Resumed, "the second run starts at the checkpoint")
	assert.Equal(t, 0, st.Stored)

	code, _, errOut = runHzctl(t, apiEnv(nil), "backfill", "--api-url", api.BaseURL(), "--org", org, "--nats-url", app.NATSURL())
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--since is required")
}

func TestParseSince(t *testing.T) {
	now := time.Date(2024, 5, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"48h", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), ""},
		{"2024-05-01T00:00:00Z", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2024-05-01T02:00:00+02:00", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), ""},
		{"yesterday", time.Time{}, "use RFC 3339"},
		{"", time.Time{}, "--since is required"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSince(tc.in, now)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
