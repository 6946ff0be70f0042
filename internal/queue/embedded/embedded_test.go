package embedded

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedSyncSetting(t *testing.T) {
	tests := []struct {
		name         string
		o            Options
		wantAlways   bool
		wantInterval time.Duration
		wantString   string
	}{
		{"always syncs every write before the ack", Options{SyncAlways: true}, true, 2 * time.Minute, "always"},
		{"an interval syncs in the background", Options{SyncInterval: 30 * time.Second}, false, 30 * time.Second, "30s"},
		{"nothing set is nats-server's default", Options{}, false, 2 * time.Minute, "2m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.StoreDir = t.TempDir()
			srv, err := Start(tc.o, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			t.Cleanup(srv.Shutdown)
			assert.Equal(t, tc.wantAlways, srv.SyncAlways(), "the running server's JetStream config")
			assert.Equal(t, tc.wantInterval, srv.srv.JetStreamConfig().SyncInterval)
			assert.Equal(t, tc.wantString, tc.o.Sync())
		})
	}
}
