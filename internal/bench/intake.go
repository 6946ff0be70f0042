package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Benchmark hook used by every target.
const (
	benchOrg    = "bench"
	benchHook   = "0123456789abcdef0123456789abcdef"
	benchSecret = "fedcba9876543210fedcba9876543210"
)

// IntakeOptions configure the intake benchmark.
type IntakeOptions struct {
	BinDir      string // receiver, hzctl, hzbench and nats-server binaries
	WorkDir     string // scratch space for stores and logs
	Runs        int    // runs per target; medians are reported
	Duration    time.Duration
	Connections int
	Size        int       // request body bytes
	Progress    io.Writer // one line per step
	Note        string    // conditions of the measurement, printed with the results
}

// LoadResult is what `hzctl load --json` reports.
type LoadResult struct {
	Requests          int            `json:"requests"`
	RequestsPerSecond float64        `json:"throughput"`
	Answers           map[string]int `json:"answers"` // status code, or "error"
	LatencyMillis     struct {
		P50 float64 `json:"p50"`
		P90 float64 `json:"p90"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latencyMs"`
}

// TargetResult is the median over runs of one target.
type TargetResult struct {
	Name     string
	RPS      float64
	P50, P99 float64 // ms
	PeakRSS  int64   // bytes, 0 when not measured
	// CPUPerRequest is the server process's CPU time per request (median over runs): what the
	// target itself costs, apart from the load generator and nats-server that share the machine.
	CPUPerRequest time.Duration
	Runs          []LoadResult
}

// IntakeReport is the outcome of RunIntake.
type IntakeReport struct {
	Bare, HandRolled, Receiver TargetResult
	HalfRate                   LoadResult // receiver at half its peak rate
	LoadAverage                string     // of the machine when the benchmark started
	Options                    IntakeOptions
}

// target starts one server and returns its webhook URL and the process to measure.
type target struct {
	name  string
	start func(ctx context.Context, run int) (url string, measured *Proc, stop func(), err error)
}

// RunIntake measures the three targets side by side, interleaved run by run so that machine noise
// spreads over all of them, then the receiver at half its median peak rate for latency.
func RunIntake(ctx context.Context, o IntakeOptions) (IntakeReport, error) {
	rep := IntakeReport{Options: o, LoadAverage: loadAverage()}
	targets := []target{
		{"bare", func(ctx context.Context, run int) (string, *Proc, func(), error) {
			return o.startBench(ctx, run, "serve-bare", "")
		}},
		{"hand-rolled", func(ctx context.Context, run int) (string, *Proc, func(), error) {
			return o.startWithNATS(ctx, run, "hand-rolled", func(natsURL string) (string, *Proc, func(), error) {
				return o.startBench(ctx, run, "serve-handrolled", natsURL)
			})
		}},
		{"hzhook", func(ctx context.Context, run int) (string, *Proc, func(), error) {
			return o.startWithNATS(ctx, run, "hzhook", func(natsURL string) (string, *Proc, func(), error) {
				return o.startReceiver(ctx, run, natsURL)
			})
		}},
	}
	results := map[string]*TargetResult{"bare": &rep.Bare, "hand-rolled": &rep.HandRolled, "hzhook": &rep.Receiver}
	cpu := map[string][]time.Duration{}
	for run := 1; run <= o.Runs; run++ {
		for _, tg := range targets {
			fmt.Fprintf(o.Progress, "run %d/%d: %s, %d connections for %s\n", run, o.Runs, tg.name, o.Connections, o.Duration)
			m, err := o.measure(ctx, tg, run, 0)
			if err != nil {
				return rep, fmt.Errorf("%s run %d: %w", tg.name, run, err)
			}
			tr := results[tg.name]
			tr.Name = tg.name
			tr.Runs = append(tr.Runs, m.load)
			tr.PeakRSS = max(tr.PeakRSS, m.rss)
			cpu[tg.name] = append(cpu[tg.name], m.cpuPerRequest())
		}
	}
	for name, tr := range results {
		slices.Sort(cpu[name])
		tr.CPUPerRequest = cpu[name][len(cpu[name])/2]
		tr.RPS = median(tr.Runs, func(r LoadResult) float64 { return r.RequestsPerSecond })
		tr.P50 = median(tr.Runs, func(r LoadResult) float64 { return r.LatencyMillis.P50 })
		tr.P99 = median(tr.Runs, func(r LoadResult) float64 { return r.LatencyMillis.P99 })
	}
	rate := int(rep.Receiver.RPS / 2)
	fmt.Fprintf(o.Progress, "hzhook at half its peak: %d requests/s for %s\n", rate, o.Duration)
	half, err := o.measure(ctx, targets[2], o.Runs+1, rate)
	if err != nil {
		return rep, fmt.Errorf("half rate: %w", err)
	}
	rep.HalfRate = half.load
	rep.Receiver.PeakRSS = max(rep.Receiver.PeakRSS, half.rss)
	return rep, nil
}

// measurement is one load run against one target, with what its server process used.
type measurement struct {
	load LoadResult
	rss  int64         // peak RSS of the server process, 0 when not measured
	cpu  time.Duration // CPU time of the server process during the load
}

func (m measurement) cpuPerRequest() time.Duration {
	if m.load.Requests == 0 {
		return 0
	}
	return m.cpu / time.Duration(m.load.Requests)
}

func (o IntakeOptions) measure(ctx context.Context, tg target, run, rate int) (measurement, error) {
	url, proc, stop, err := tg.start(ctx, run)
	if err != nil {
		return measurement{}, err
	}
	defer stop()
	before, cerr := proc.CPUTime()
	res, err := o.load(ctx, url, rate)
	if err != nil {
		return measurement{load: res}, err
	}
	m := measurement{load: res}
	m.rss, _ = proc.PeakRSS()
	if after, err := proc.CPUTime(); err == nil && cerr == nil {
		m.cpu = after - before
	}
	return m, nil
}

// load runs `hzctl load` against url; rate 0 means as fast as the connections allow.
func (o IntakeOptions) load(ctx context.Context, url string, rate int) (LoadResult, error) {
	args := []string{"load", "--url", url, "--org", benchOrg, "--hook", benchHook,
		"--concurrency", strconv.Itoa(o.Connections), "--duration", o.Duration.String(),
		"--size", strconv.Itoa(o.Size), "--rate", strconv.Itoa(rate), "--json"}
	cmd := exec.CommandContext(ctx, filepath.Join(o.BinDir, "hzctl"), args...)
	cmd.Env = append(os.Environ(), "HZ_HOOK_SECRET="+benchSecret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return LoadResult{}, fmt.Errorf("hzctl load: %w: %s", err, stderr.String())
	}
	var res LoadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("hzctl load output: %w", err)
	}
	return res, nil
}

func (o IntakeOptions) proc(name string, run int, bin string, env []string, args ...string) *Proc {
	return &Proc{Bin: filepath.Join(o.BinDir, bin), Args: args, Env: env,
		Log: filepath.Join(o.WorkDir, fmt.Sprintf("%s-%d.log", name, run))}
}

func (o IntakeOptions) startWithNATS(ctx context.Context, run int, name string, next func(natsURL string) (string, *Proc, func(), error)) (string, *Proc, func(), error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, nil, err
	}
	store := filepath.Join(o.WorkDir, fmt.Sprintf("nats-%s-%d", name, run))
	nats := o.proc("nats-"+name, run, "nats-server", nil, "-js", "-sd", store, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := nats.Start(); err != nil {
		return "", nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitTCP(wctx, Addr(port)); err != nil {
		nats.Kill()
		return "", nil, nil, err
	}
	url, proc, stop, err := next("nats://" + Addr(port))
	if err != nil {
		nats.Kill()
		return "", nil, nil, err
	}
	return url, proc, func() { stop(); nats.Stop(10 * time.Second); _ = os.RemoveAll(store) }, nil
}

func (o IntakeOptions) startBench(ctx context.Context, run int, mode, natsURL string) (string, *Proc, func(), error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, nil, err
	}
	p := o.proc(mode, run, "hzbench", nil, mode, "--listen", Addr(port), "--nats-url", natsURL, "--secret", benchSecret)
	if err := p.Start(); err != nil {
		return "", nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitTCP(wctx, Addr(port)); err != nil {
		p.Kill()
		return "", nil, nil, err
	}
	return "http://" + Addr(port) + "/hardenize/events", p, func() { p.Stop(10 * time.Second) }, nil
}

func (o IntakeOptions) startReceiver(ctx context.Context, run int, natsURL string) (string, *Proc, func(), error) {
	web, err := FreePort()
	if err != nil {
		return "", nil, nil, err
	}
	admin, err := FreePort()
	if err != nil {
		return "", nil, nil, err
	}
	secrets := filepath.Join(o.WorkDir, "hooks.yaml")
	doc := fmt.Sprintf("hooks:\n  - org: %s\n    id: %s\n    secrets: [%q]\n", benchOrg, benchHook, benchSecret)
	if err := os.WriteFile(secrets, []byte(doc), 0o600); err != nil {
		return "", nil, nil, fmt.Errorf("write secrets: %w", err)
	}
	p := o.proc("receiver", run, "receiver", []string{
		"HZ_LISTEN=" + Addr(web), "HZ_ADMIN_LISTEN=" + Addr(admin), "HZ_SECRETS_FILE=" + secrets,
		"HZ_NATS_URL=" + natsURL, "HZ_LOG_LEVEL=warn",
	})
	if err := p.Start(); err != nil {
		return "", nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitHTTP(wctx, "http://"+Addr(admin)+"/readyz", 200); err != nil {
		p.Kill()
		return "", nil, nil, err
	}
	return "http://" + Addr(web) + "/hardenize/events", p, func() { p.Stop(30 * time.Second) }, nil
}

func median(runs []LoadResult, f func(LoadResult) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
