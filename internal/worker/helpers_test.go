package worker

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/config"
	"github.com/hzhook/hzhook/internal/dispatch"
	"github.com/hzhook/hzhook/internal/queue"
)

// testConfig is the worker configuration of args over the defaults, with no environment and an
// admin listener on a free port.
func testConfig(t *testing.T, args ...string) Config {
	t.Helper()
	var cfg Config
	set := config.NewSet("worker", func(string) (string, bool) { return "", false })
	Bind(set, &cfg)
	db := "sqlite://" + filepath.Join(t.TempDir(), "hzhook.db")
	require.NoError(t, set.Parse(append([]string{"--admin-listen", "127.0.0.1:0", "--db", db}, args...)))
	require.NoError(t, cfg.Validate())
	return cfg
}

// publishEvent stores body as the receiver would for an event of typ with id.
func publishEvent(t *testing.T, conn *queue.Conn, typ string, id int, body []byte) {
	t.Helper()
	ev := queue.StoredEvent{Org: "demo", HookID: "hook", EventID: strconv.Itoa(id), Type: typ, Source: queue.SourceWebhook,
		ReceivedAt: time.Now(), Body: body}
	_, err := queue.NewPublisher(conn.JS).Publish(context.Background(), ev.Msg(), ev.MsgID())
	require.NoError(t, err)
}

// settled reports whether the consumer has nothing pending and nothing unacknowledged.
func settled(conn *queue.Conn, consumer string) bool {
	c, err := conn.JS.Consumer(context.Background(), queue.StreamEvents, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

type handlerFunc func(ctx context.Context, batch []dispatch.Message) []error

func (f handlerFunc) Handle(ctx context.Context, batch []dispatch.Message) []error {
	return f(ctx, batch)
}
