package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hzhook/hzhook/internal/events"
)

// E2EOptions configure the end-to-end latency benchmark.
type E2EOptions struct {
	BinDir   string // receiver, worker and nats-server binaries
	WorkDir  string // scratch space for stores and logs
	Runs     int    // runs on one stack; medians are reported
	Duration time.Duration
	Rate     int           // events per second, sent at a fixed pace
	Poll     time.Duration // how often the store is read for new rows
	Progress io.Writer
	Note     string // conditions of the measurement, printed with the results
}

// E2ERun is one run of the end-to-end benchmark. Latencies are in milliseconds, from the webhook's
// 204 to the first read of the store that shows the event's row.
type E2ERun struct {
	Sent, Accepted, Visible int
	SendRate                float64 // events per second actually sent
	AnswerP99               float64 // webhook answer latency
	P50, P90, P99, Max      float64
}

// E2EReport is the outcome of RunE2E.
type E2EReport struct {
	Runs          []E2ERun
	P50, P99      float64 // medians over runs
	WorkerPeakRSS int64
	LoadAverage   string // of the machine when the benchmark started
	Options       E2EOptions
}

// RunE2E starts nats-server (syncing every write), the receiver and a worker storing into SQLite,
// then in each run sends
// Rate unique ct.entry events per second (each with its own certificate) for Duration and
// measures, per event, the time from its 204 to its row in the store.
func RunE2E(ctx context.Context, o E2EOptions) (E2EReport, error) {
	rep := E2EReport{Options: o, LoadAverage: loadAverage()}
	so := IntakeOptions{BinDir: o.BinDir, WorkDir: o.WorkDir}
	dbPath := filepath.Join(o.WorkDir, "e2e.db")
	var workerProc *Proc
	// The durable set-up: a server that syncs every write, the receiver group-committing.
	su := SetUps[0]
	url, _, _, stop, err := so.startWithNATS(ctx, 0, su, "e2e", func(natsURL string) (string, *Proc, func(), error) {
		url, recv, stopRecv, err := so.startReceiver(ctx, 0, append([]string{"HZ_NATS_URL=" + natsURL}, su.ReceiverEnv...), "")
		if err != nil {
			return "", nil, nil, err
		}
		w, err := so.startWorker(ctx, natsURL, "sqlite://"+dbPath)
		if err != nil {
			stopRecv()
			return "", nil, nil, err
		}
		workerProc = w
		return url, recv, func() { w.Stop(30 * time.Second); stopRecv() }, nil
	})
	if err != nil {
		return rep, err
	}
	defer stop()
	watch, err := newStoreWatch(dbPath)
	if err != nil {
		return rep, err
	}
	defer watch.close()
	n := int(float64(o.Rate) * o.Duration.Seconds())
	for run := 1; run <= o.Runs; run++ {
		first := int64(run) * 10_000_000
		fmt.Fprintf(o.Progress, "e2e run %d/%d: preparing %d events with their own certificates\n", run, o.Runs, n)
		bodies, err := sampleBodies(first, n)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(o.Progress, "e2e run %d/%d: %d events/s for %s\n", run, o.Runs, o.Rate, o.Duration)
		res, err := e2eRun(ctx, url, first, bodies, o, watch)
		if err != nil {
			return rep, fmt.Errorf("e2e run %d: %w", run, err)
		}
		rep.Runs = append(rep.Runs, res)
	}
	rep.P50 = medianOf(rep.Runs, func(r E2ERun) float64 { return r.P50 })
	rep.P99 = medianOf(rep.Runs, func(r E2ERun) float64 { return r.P99 })
	if workerProc != nil {
		rep.WorkerPeakRSS, _ = workerProc.PeakRSS()
	}
	return rep, nil
}

// startWorker starts the worker binary with its store at dbURL and waits until it is ready.
func (o IntakeOptions) startWorker(ctx context.Context, natsURL, dbURL string) (*Proc, error) {
	admin, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := o.proc("worker", 0, "worker", []string{
		"HZ_NATS_URL=" + natsURL, "HZ_DB_URL=" + dbURL, "HZ_ADMIN_LISTEN=" + Addr(admin),
	})
	if err := p.Start(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := WaitHTTP(wctx, "http://"+Addr(admin)+"/readyz", 200); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// sampleBodies makes n ct.entry events with ids first+1..first+n on every CPU; the CT log index of
// each equals its event id, which is how the store watch recognises it.
func sampleBodies(first int64, n int) ([][]byte, error) {
	out := make([][]byte, n)
	errs := make([]error, n)
	workers := runtime.NumCPU()
	now := time.Now()
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k; i < n; i += workers {
				out[i], errs[i] = events.Sample(events.TypeCTEntry, first+int64(i)+1, now)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("sample events: %w", err)
		}
	}
	return out, nil
}

// percentile of sorted values (nearest rank), in the values' unit.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

func medianOf[T any](runs []T, f func(T) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return percentile(v, 0.5)
}

// loadAverage is the 1-minute load average from /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) == 0 {
		return "unknown"
	}
	var one float64
	if _, err := fmt.Sscanf(string(b), "%f", &one); err != nil {
		return "unknown"
	}
	return strconv.FormatFloat(one, 'f', 2, 64)
}
