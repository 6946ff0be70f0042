package faults

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/bench"
	"github.com/hzhook/hzhook/internal/queue"
)

// cluster is a JetStream cluster of three nats-server processes on loopback, each with its own
// store and sync_interval: always (the prod configuration): R3 streams survive one node, and a
// node killed and started again comes back on the same data and catches up.
type cluster struct {
	t     *testing.T
	nodes []*bench.Proc
	ports []int // client ports
	names []string
}

const clusterSize = 3

func startCluster(t *testing.T) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t}
	routes := make([]int, clusterSize)
	for i := range clusterSize {
		c.ports = append(c.ports, freePort(t))
		routes[i] = freePort(t)
		c.names = append(c.names, fmt.Sprintf("n%d", i+1))
	}
	var routeURLs []string
	for _, p := range routes {
		routeURLs = append(routeURLs, fmt.Sprintf("%q", "nats-route://"+addr(p)))
	}
	for i := range clusterSize {
		conf := filepath.Join(dir, c.names[i]+".conf")
		doc := fmt.Sprintf(`server_name: %q
listen: %q
debug: %t
jetstream {
  store_dir: %q
  sync_interval: always
}
cluster {
  name: "hz"
  listen: %q
  routes: [%s]
}
`, c.names[i], addr(c.ports[i]), os.Getenv("HZ_FAULTS_NATS_DEBUG") != "", filepath.Join(dir, c.names[i]), addr(routes[i]), strings.Join(routeURLs, ", "))
		require.NoError(t, os.WriteFile(conf, []byte(doc), 0o600))
		c.nodes = append(c.nodes, startProc(t, "nats-server", nil, "-c", conf))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range c.nodes {
				t.Logf("%s log (last lines but route churn):\n%s", c.names[i], n.LogTail(60, "Route connection created", "Duplicate Route"))
				keepLog(t, n.Log, c.names[i])
			}
		}
	})
	for i := range clusterSize {
		c.waitNode(i)
	}
	c.waitMeta()
	return c
}

// keepLog copies the log at path into $HZ_FAULTS_LOGS, when set, as <test>-<name>.log: the
// whole log of a failed scenario, which the test's own temporary directory does not outlive.
func keepLog(t *testing.T, path, name string) {
	dir := os.Getenv("HZ_FAULTS_LOGS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, t.Name()+"-"+name+".log"), b, 0o600)
	}
	if err != nil {
		t.Logf("keep %s log: %v", name, err)
	}
}

// URL lists every node, as a client of the cluster is configured.
func (c *cluster) URL() string {
	urls := make([]string, len(c.ports))
	for i, p := range c.ports {
		urls[i] = "nats://" + addr(p)
	}
	return strings.Join(urls, ",")
}

func (c *cluster) waitNode(i int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(c.t, bench.WaitTCP(ctx, addr(c.ports[i])))
}

// waitMeta waits until the cluster has a JetStream meta leader (it answers account info).
func (c *cluster) waitMeta() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(c.t, bench.WaitJetStream(ctx, c.URL()), "the cluster elects a JetStream meta leader")
}

func (c *cluster) connect() *queue.Conn {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := queue.Connect(ctx, c.URL(), "faults-check", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(c.t, err)
	require.NoError(c.t, conn.WaitConnected(ctx))
	return conn
}

// streamLeader is the index of the node leading stream, once the stream has a leader that is not
// one of the nodes named in down and, with all true, every replica is current.
func (c *cluster) streamLeader(stream string, all bool, down ...int) int {
	c.t.Helper()
	conn := c.connect()
	defer conn.Close(time.Second)
	leader := -1
	require.Eventually(c.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := conn.JS.Stream(ctx, stream)
		if err != nil {
			return false
		}
		info := s.CachedInfo()
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if all && !r.Current {
				return false
			}
		}
		for i, n := range c.names {
			if n == info.Cluster.Leader && !slices.Contains(down, i) {
				leader = i
			}
		}
		return leader >= 0
	}, time.Minute, 100*time.Millisecond, "%s has a leader and current replicas", stream)
	return leader
}

// waitCaughtUp waits until every replica of stream is current (a restarted node caught up) and
// returns how long that took; after five minutes it fails the test with the replicas' last state.
// A node catching up with sync_interval: always syncs its log once per entry it receives: seconds
// here, but in one CI run a follower restarted under load was not current after two minutes, its
// leader still running the catch-up then.
func (c *cluster) waitCaughtUp(stream, what string) time.Duration {
	c.t.Helper()
	const within = 5 * time.Minute
	conn := c.connect()
	defer conn.Close(time.Second)
	start := time.Now()
	var state string
	for time.Since(start) < within {
		var ok bool
		if ok, state = replicasCurrent(conn, stream); ok {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s: the replicas of %s are not current after %s: %s", what, stream, within, state)
	return 0
}

// replicasCurrent reports whether every replica of stream is current, and if not, what the
// stream's leader says of each.
func replicasCurrent(conn *queue.Conn, stream string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := conn.JS.Stream(ctx, stream)
	if err != nil {
		return false, err.Error()
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return false, "no leader"
	}
	state := fmt.Sprintf("leader %s, last sequence %d", info.Cluster.Leader, info.State.LastSeq)
	current := len(info.Cluster.Replicas) == clusterSize-1
	for _, r := range info.Cluster.Replicas {
		state += fmt.Sprintf("; %s current %t offline %t lag %d active %s", r.Name, r.Current, r.Offline, r.Lag, r.Active.Round(time.Millisecond))
		current = current && r.Current && !r.Offline
	}
	return current, state
}

// kill sends SIGKILL to node i; start brings it back on the same store.
func (c *cluster) kill(i int) { c.nodes[i].Kill() }

func (c *cluster) start(i int) {
	c.t.Helper()
	require.NoError(c.t, c.nodes[i].Start())
	c.waitNode(i)
}

// streamIDs reads every Hz-Event-Id in HZ_EVENTS at natsURL, once the intake journal is empty,
// with its number of copies: a
// duplicate is a second message of one event id, which the duplicate window must prevent (a
// redrive's copy on hz.redrive.events.<consumer> is not one). Right
// after a fault the cluster may refuse a request for a while (creating the scan's consumer has
// been seen to time out once after a follower's restart): each read is bounded and retried.
func streamIDs(t *testing.T, natsURL string) map[int]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := queue.Connect(ctx, natsURL, "faults-check", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer conn.Close(time.Second)
	require.NoError(t, conn.WaitConnected(ctx))
	waitJournalMoved(t, ctx, conn)
	var ids map[int]int
	require.Eventually(t, func() bool {
		ids, err = readIDs(ctx, conn)
		if err != nil {
			t.Logf("read HZ_EVENTS: %v; retrying", err)
		}
		return err == nil
	}, 2*time.Minute, time.Second)
	return ids
}

// waitJournalMoved waits until every HZ_JOURNAL entry is moved: every event a journaling receiver
// answered 204 for is in HZ_EVENTS then (or was lost, which the caller counts).
func waitJournalMoved(t *testing.T, ctx context.Context, conn *queue.Conn) {
	t.Helper()
	require.Eventually(t, func() bool {
		// Each read bounded: right after a fault a request to the cluster can go unanswered.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		left, err := queue.JournalLeft(rctx, conn.JS)
		if err != nil {
			t.Logf("read HZ_JOURNAL: %v; retrying", err)
		}
		return err == nil && left == 0
	}, 2*time.Minute, 100*time.Millisecond, "the journal's entries moved into HZ_EVENTS")
}

func readIDs(ctx context.Context, conn *queue.Conn) (map[int]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ids := map[int]int{}
	err := queue.Scan(ctx, conn.JS, queue.StreamEvents, queue.ScanOptions{HeadersOnly: true}, func(m jetstream.Msg) error {
		if strings.HasPrefix(m.Subject(), queue.RedriveSubjectPrefix) {
			return nil // a redrive's copy for one consumer (hzctl dlq redrive), not a second receipt
		}
		id, err := strconv.Atoi(m.Headers().Get(queue.HeaderEventID))
		if err != nil {
			return fmt.Errorf("event id of a message on %s: %w", m.Subject(), err)
		}
		ids[id]++
		return nil
	})
	return ids, err
}

// receiverOn starts a receiver process on natsURL with R3 streams; it returns the webhook URL and
// the admin URL.
func receiverOn(t *testing.T, natsURL string, env ...string) (proc *bench.Proc, webhook, admin string) {
	t.Helper()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "hooks.yaml")
	require.NoError(t, os.WriteFile(secrets, []byte(fmt.Sprintf("hooks:\n  - org: %s\n    id: %s\n    secrets: [%q]\n", org, hook, secret)), 0o600))
	web, adm := freePort(t), freePort(t)
	proc = startProc(t, "receiver", append([]string{
		"HZ_LISTEN=" + addr(web), "HZ_ADMIN_LISTEN=" + addr(adm), "HZ_SECRETS_FILE=" + secrets,
		"HZ_NATS_URL=" + natsURL, "HZ_STREAM_REPLICAS=3", "HZ_DEDUP_WINDOW=30m",
	}, env...))
	admin = "http://" + addr(adm)
	waitHTTP(t, admin+"/readyz", http.StatusOK, time.Minute)
	return proc, "http://" + addr(web) + "/hardenize/events", admin
}
