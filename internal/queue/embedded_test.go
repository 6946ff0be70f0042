package queue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedSyncSetting(t *testing.T) {
	tests := []struct {
		name       string
		interval   time.Duration
		wantAlways bool
		wantString string
	}{
		{"zero syncs every write before the ack", 0, true, "always"},
		{"an interval syncs in the background", 30 * time.Second, false, "30s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir(), SyncInterval: tc.interval}, testLog())
			require.NoError(t, err)
			t.Cleanup(srv.Shutdown)
			assert.Equal(t, tc.wantAlways, srv.SyncAlways(), "the running server's JetStream config")
			if !tc.wantAlways {
				assert.Equal(t, tc.interval, srv.srv.JetStreamConfig().SyncInterval)
			}
			assert.Equal(t, tc.wantString, SyncString(tc.interval))
		})
	}
}
