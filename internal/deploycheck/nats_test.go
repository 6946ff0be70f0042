package deploycheck

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every overlay's NATS server syncs each write to disk before it acknowledges it: a 204 means the
// event is on disk (on a quorum of disks with 3 replicas), not in a page cache. The configuration
// is read by nats-server's own parser, as the pods read it.
func TestNATSConfigsSyncEveryWriteBeforeTheAck(t *testing.T) {
	root := repoRoot(t)
	t.Setenv("SERVER_NAME", "nats-0") // the pods take it from their name
	for _, overlay := range []string{"dev", "prod"} {
		t.Run(overlay, func(t *testing.T) {
			opts, err := server.ProcessConfigFile(filepath.Join(root, "deploy", "k8s", "overlays", overlay, "nats.conf"))
			require.NoError(t, err)
			assert.True(t, opts.JetStream, "jetstream enabled")
			assert.True(t, opts.SyncAlways, "jetstream { sync_interval: always }")
		})
	}
}
