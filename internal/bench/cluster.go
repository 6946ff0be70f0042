package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterHeading is the results section of the cluster intake benchmark.
const ClusterHeading = "## Intake into a 3-node JetStream cluster (R3, sync always)"

// ClusterReport is the outcome of RunCluster: the hand-rolled receiver and hzhook with and
// without group commit, each on a fresh 3-node cluster of its own per run.
type ClusterReport struct {
	HandRolled, Plain, Batched TargetResult
	LoadAverage                string
	Options                    IntakeOptions
}

// RunCluster measures intake into R3 streams on a 3-node cluster that syncs every write, where a
// publish is acknowledged once a quorum stored it: hzhook with plain publishes (its default with
// an external server), hzhook with group commit, and the hand-rolled receiver, interleaved run by
// run.
func RunCluster(ctx context.Context, o IntakeOptions) (ClusterReport, error) {
	rep := ClusterReport{Options: o, LoadAverage: loadAverage()}
	rep.HandRolled.Name, rep.Plain.Name, rep.Batched.Name = "hand-rolled", "hzhook, plain publishes", "hzhook, group commit"
	targets := []target{
		{"hand-rolled, R3", &rep.HandRolled, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
			return o.startWithCluster(ctx, run, "hand-rolled", func(natsURL string) (string, *Proc, func(), error) {
				return o.startBench(ctx, run, "serve-handrolled", natsURL, "--replicas", "3")
			})
		}},
	}
	for _, t := range []struct {
		result *TargetResult
		commit string
	}{{&rep.Plain, "off"}, {&rep.Batched, "on"}} {
		targets = append(targets, target{t.result.Name + ", R3", t.result, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
			return o.startWithCluster(ctx, run, "hzhook-"+t.commit, func(natsURL string) (string, *Proc, func(), error) {
				return o.startReceiver(ctx, run, []string{"HZ_NATS_URL=" + natsURL, "HZ_STREAM_REPLICAS=3", "HZ_GROUP_COMMIT=" + t.commit}, "")
			})
		}})
	}
	for run := 1; run <= o.Runs; run++ {
		for _, tg := range targets {
			fmt.Fprintf(o.Progress, "run %d/%d: %s, %d connections for %s\n", run, o.Runs, tg.name, o.Connections, o.Duration)
			m, err := o.measure(ctx, tg, run, 0)
			if err != nil {
				return rep, fmt.Errorf("%s run %d: %w", tg.name, run, err)
			}
			tg.result.Runs = append(tg.result.Runs, m.load)
		}
	}
	for _, tr := range []*TargetResult{&rep.HandRolled, &rep.Plain, &rep.Batched} {
		tr.RPS = median(tr.Runs, func(r LoadResult) float64 { return r.RequestsPerSecond })
		tr.P50 = median(tr.Runs, func(r LoadResult) float64 { return r.LatencyMillis.P50 })
		tr.P99 = median(tr.Runs, func(r LoadResult) float64 { return r.LatencyMillis.P99 })
	}
	return rep, nil
}

// startWithCluster starts three nats-servers routed into one cluster (sync_interval: always, each
// with its own store), waits until JetStream has a meta leader, then the target on all three URLs.
func (o IntakeOptions) startWithCluster(ctx context.Context, run int, name string, next func(natsURL string) (string, *Proc, func(), error)) (string, *Proc, *Proc, func(), error) {
	const size = 3
	var clients, routes []int
	for range 2 * size {
		p, err := FreePort()
		if err != nil {
			return "", nil, nil, nil, err
		}
		if len(clients) < size {
			clients = append(clients, p)
		} else {
			routes = append(routes, p)
		}
	}
	var routeURLs, urls []string
	for i := range size {
		routeURLs = append(routeURLs, fmt.Sprintf("%q", "nats-route://"+Addr(routes[i])))
		urls = append(urls, "nats://"+Addr(clients[i]))
	}
	dir := filepath.Join(o.WorkDir, fmt.Sprintf("cluster-%s-%d", name, run))
	var nodes []*Proc
	stopAll := func() {
		for _, n := range nodes {
			n.Stop(10 * time.Second)
		}
		_ = os.RemoveAll(dir)
	}
	for i := range size {
		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", i+1))
		doc := fmt.Sprintf("server_name: \"n%d\"\nlisten: %q\njetstream {\n  store_dir: %q\n  sync_interval: always\n}\ncluster {\n  name: \"bench\"\n  listen: %q\n  routes: [%s]\n}\n",
			i+1, Addr(clients[i]), filepath.Join(dir, fmt.Sprintf("n%d", i+1)), Addr(routes[i]), strings.Join(routeURLs, ", "))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, nil, nil, err
		}
		if err := os.WriteFile(conf, []byte(doc), 0o600); err != nil {
			return "", nil, nil, nil, fmt.Errorf("write nats.conf: %w", err)
		}
		n := o.proc(fmt.Sprintf("nats-%s-n%d", name, i+1), run, "nats-server", nil, "-c", conf)
		if err := n.Start(); err != nil {
			stopAll()
			return "", nil, nil, nil, err
		}
		nodes = append(nodes, n)
	}
	url := strings.Join(urls, ",")
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := WaitJetStream(wctx, url)
	cancel()
	if err != nil {
		for i, n := range nodes {
			err = fmt.Errorf("%w\nn%d log (last lines but route churn):\n%s", err, i+1, n.LogTail(20, "Route connection created", "Duplicate Route"))
		}
		stopAll()
		return "", nil, nil, nil, err
	}
	target, proc, stop, err := next(url)
	if err != nil {
		stopAll()
		return "", nil, nil, nil, err
	}
	return target, proc, nil, func() { stop(); stopAll() }, nil
}

// WaitJetStream waits until the cluster at url answers JetStream requests (it has a meta leader),
// or ctx ends.
func WaitJetStream(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for {
		// Each attempt gets a short deadline of its own: a request sent before the meta leader is
		// elected may never be answered, and must not use up the whole wait.
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		acancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster at %s has no JetStream meta leader: %w", url, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WriteMarkdown writes the cluster report as its bench/results.md section.
func (r ClusterReport) WriteMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	fmt.Fprintf(w, "%s\n\n", ClusterHeading)
	fmt.Fprintf(w, "%s: three nats-servers on loopback routed into one cluster (`sync_interval: always`, each its own store), "+
		"streams of 3 replicas, %d connections of signed %d-byte `ct.entry` events for %s, median of %d runs, a fresh cluster per run. "+
		"A publish is acknowledged once a quorum of 2 stored it. %s\n\n",
		measuredOn(now), o.Connections, o.Size, o.Duration, o.Runs, conditions(r.LoadAverage, o.Note))
	fmt.Fprintln(w, "| target | req/s | p50 ms | p99 ms | vs hand-rolled |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, t := range []TargetResult{r.HandRolled, r.Plain, r.Batched} {
		fmt.Fprintf(w, "| %s | %.0f | %.1f | %.1f | %.2f× |\n", t.Name, t.RPS, t.P50, t.P99, ratio(t.RPS, r.HandRolled.RPS))
	}
	faster := "plain publishes"
	if r.Batched.RPS > r.Plain.RPS {
		faster = "group commit"
	}
	fmt.Fprintf(w, "\nFaster here: %s (%.2f× the other).\n\n", faster, max(ratio(r.Batched.RPS, r.Plain.RPS), ratio(r.Plain.RPS, r.Batched.RPS)))
}
