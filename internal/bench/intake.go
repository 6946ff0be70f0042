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
	"strings"
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
	// TracingOnly measures only hzhook's default set-up with tracing off and on (the Traced
	// comparison), nothing else.
	TracingOnly bool
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
	// SyncsPerEvent is the disk syncs (fsync, fdatasync, writes to O_SYNC files) per event
	// answered 204 of the process that stores the events (median over runs); -1 when not
	// counted (no strace, or no store: the bare target).
	SyncsPerEvent float64
	Runs          []LoadResult
}

// NATSSetUp is one nats-server configuration the receivers are measured against.
type NATSSetUp struct {
	Name string // heading of its table
	Conf string // nats.conf given to nats-server with -c ("" = none: the defaults)
	// ReceiverEnv is what hzhook's README prescribes for an external server set up so (beyond the
	// URL and the listeners): nothing but defaults otherwise.
	ReceiverEnv []string
}

// SetUps are the two servers of the intake benchmark: syncing every write before the ack, and
// nats-server's default (a background sync every 2 minutes).
var SetUps = []NATSSetUp{
	{Name: "sync_interval: always", Conf: "jetstream {\n  sync_interval: always\n}\n", ReceiverEnv: []string{"HZ_GROUP_COMMIT=on"}},
	{Name: "default sync (every 2 minutes)"},
}

// ServerResult is the receivers on one nats-server set-up.
type ServerResult struct {
	SetUp      NATSSetUp
	HandRolled TargetResult
	Receiver   TargetResult // hzhook connected to that server
	HalfRate   LoadResult   // hzhook at half its peak rate
	// Embedded is hzhook's default set-up (its embedded server, --nats-sync always), measured
	// with the sync-always server only; nil otherwise.
	Embedded *TargetResult
	// Traced is the default set-up with tracing on, exporting every span to an OTLP sink; beside
	// Embedded only.
	Traced *TargetResult
}

// IntakeReport is the outcome of RunIntake.
type IntakeReport struct {
	Bare        TargetResult
	Servers     []ServerResult // one per SetUps
	LoadAverage string         // of the machine when the benchmark started
	Options     IntakeOptions
	// TraceExports and TraceBytes are what the OTLP sink received from the traced target.
	TraceExports, TraceBytes int64
}

// target starts one server and returns its webhook URL, the process to measure, and the process
// whose disk syncs are counted (nil: none).
type target struct {
	name   string
	result *TargetResult
	start  func(ctx context.Context, run int) (url string, measured, store *Proc, stop func(), err error)
}

// RunIntake measures every target side by side, interleaved run by run so that machine noise
// spreads over all of them, then each hzhook at half its median peak rate for latency. Every
// target runs at its default settings; hzhook's per-event log line is at debug by default.
func RunIntake(ctx context.Context, o IntakeOptions) (IntakeReport, error) {
	rep := IntakeReport{Options: o, LoadAverage: loadAverage(), Servers: make([]ServerResult, len(SetUps))}
	sink, err := StartOTLPSink()
	if err != nil {
		return rep, err
	}
	defer sink.Close()
	targets := []target{{"bare", &rep.Bare, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
		url, p, stop, err := o.startBench(ctx, run, "serve-bare", "")
		return url, p, nil, stop, err
	}}}
	for i, su := range SetUps {
		sr := &rep.Servers[i]
		sr.SetUp = su
		sr.HandRolled.Name, sr.Receiver.Name = "hand-rolled", "hzhook"
		targets = append(targets,
			target{"hand-rolled, " + su.Name, &sr.HandRolled, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
				return o.startWithNATS(ctx, run, su, "hand-rolled", func(natsURL string) (string, *Proc, func(), error) {
					return o.startBench(ctx, run, "serve-handrolled", natsURL)
				})
			}},
			target{"hzhook, " + su.Name, &sr.Receiver, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
				return o.startWithNATS(ctx, run, su, "hzhook", func(natsURL string) (string, *Proc, func(), error) {
					return o.startReceiver(ctx, run, append([]string{"HZ_NATS_URL=" + natsURL}, su.ReceiverEnv...), "")
				})
			}})
		if i == 0 {
			sr.Embedded = &TargetResult{Name: "hzhook, default set-up"}
			targets = append(targets, target{"hzhook, default set-up (embedded NATS)", sr.Embedded, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
				url, p, stop, err := o.startReceiver(ctx, run, []string{
					"HZ_DATA_DIR=" + filepath.Join(o.WorkDir, fmt.Sprintf("embedded-%d", run)), "HZ_EMBEDDED_NATS_PORT=0",
				}, filepath.Join(o.WorkDir, fmt.Sprintf("receiver-embedded-%d.strace", run)))
				return url, p, p, stop, err
			}})
			sr.Traced = &TargetResult{Name: "hzhook, default set-up, tracing on"}
			targets = append(targets, target{"hzhook, default set-up, tracing on", sr.Traced, func(ctx context.Context, run int) (string, *Proc, *Proc, func(), error) {
				url, p, stop, err := o.startReceiver(ctx, run, []string{
					"HZ_DATA_DIR=" + filepath.Join(o.WorkDir, fmt.Sprintf("traced-%d", run)), "HZ_EMBEDDED_NATS_PORT=0",
					"OTEL_EXPORTER_OTLP_ENDPOINT=" + sink.Endpoint(),
				}, filepath.Join(o.WorkDir, fmt.Sprintf("receiver-traced-%d.strace", run)))
				return url, p, p, stop, err
			}})
		}
	}
	if o.TracingOnly {
		targets = slices.DeleteFunc(targets, func(tg target) bool {
			return tg.result != rep.Servers[0].Embedded && tg.result != rep.Servers[0].Traced
		})
	}
	cpu := map[*TargetResult][]time.Duration{}
	syncs := map[*TargetResult][]float64{}
	for run := 1; run <= o.Runs; run++ {
		for _, tg := range targets {
			fmt.Fprintf(o.Progress, "run %d/%d: %s, %d connections for %s\n", run, o.Runs, tg.name, o.Connections, o.Duration)
			m, err := o.measure(ctx, tg, run, 0)
			if err != nil {
				return rep, fmt.Errorf("%s run %d: %w", tg.name, run, err)
			}
			tr := tg.result
			tr.Runs = append(tr.Runs, m.load)
			tr.PeakRSS = max(tr.PeakRSS, m.rss)
			cpu[tr] = append(cpu[tr], m.cpuPerRequest())
			syncs[tr] = append(syncs[tr], m.syncsPerEvent())
		}
	}
	for _, tg := range targets {
		tr := tg.result
		if tr.Name == "" {
			tr.Name = tg.name
		}
		slices.Sort(cpu[tr])
		tr.CPUPerRequest = cpu[tr][len(cpu[tr])/2]
		slices.Sort(syncs[tr])
		tr.SyncsPerEvent = syncs[tr][len(syncs[tr])/2]
		tr.RPS = median(tr.Runs, func(r LoadResult) float64 { return r.RequestsPerSecond })
		tr.P50 = median(tr.Runs, func(r LoadResult) float64 { return r.LatencyMillis.P50 })
		tr.P99 = median(tr.Runs, func(r LoadResult) float64 { return r.LatencyMillis.P99 })
	}
	for i, su := range SetUps {
		if o.TracingOnly {
			break
		}
		sr := &rep.Servers[i]
		rate := int(sr.Receiver.RPS / 2)
		fmt.Fprintf(o.Progress, "hzhook (%s) at half its peak: %d requests/s for %s\n", su.Name, rate, o.Duration)
		var tg target
		for _, t := range targets {
			if t.result == &sr.Receiver {
				tg = t
			}
		}
		half, err := o.measure(ctx, tg, o.Runs+1, rate)
		if err != nil {
			return rep, fmt.Errorf("half rate, %s: %w", su.Name, err)
		}
		sr.HalfRate = half.load
		sr.Receiver.PeakRSS = max(sr.Receiver.PeakRSS, half.rss)
	}
	rep.TraceExports, rep.TraceBytes = sink.Received()
	return rep, nil
}

// measurement is one load run against one target, with what its server process used.
type measurement struct {
	load  LoadResult
	rss   int64         // peak RSS of the server process, 0 when not measured
	cpu   time.Duration // CPU time of the server process during the load
	syncs int           // disk syncs of the storing process during the load; -1 when not counted
}

func (m measurement) cpuPerRequest() time.Duration {
	if m.load.Requests == 0 {
		return 0
	}
	return m.cpu / time.Duration(m.load.Requests)
}

func (m measurement) syncsPerEvent() float64 {
	stored := m.load.Answers["204"]
	if m.syncs < 0 || stored == 0 {
		return -1
	}
	return float64(m.syncs) / float64(stored)
}

func (o IntakeOptions) measure(ctx context.Context, tg target, run, rate int) (measurement, error) {
	url, proc, store, stop, err := tg.start(ctx, run)
	if err != nil {
		return measurement{}, err
	}
	defer stop()
	before, cerr := proc.CPUTime()
	syncsBefore, serr := syncsOf(store)
	res, err := o.load(ctx, url, rate)
	if err != nil {
		return measurement{load: res}, err
	}
	m := measurement{load: res, syncs: -1}
	m.rss, _ = proc.PeakRSS()
	if after, err := proc.CPUTime(); err == nil && cerr == nil {
		m.cpu = after - before
	}
	if after, err := syncsOf(store); err == nil && serr == nil {
		m.syncs = after - syncsBefore
	}
	return m, nil
}

func syncsOf(p *Proc) (int, error) {
	if p == nil {
		return 0, ErrNotTraced
	}
	return p.Syncs()
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

// startWithNATS starts a nats-server set up as su (under strace, to count its disk syncs), then
// the target on it.
func (o IntakeOptions) startWithNATS(ctx context.Context, run int, su NATSSetUp, name string, next func(natsURL string) (string, *Proc, func(), error)) (string, *Proc, *Proc, func(), error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, nil, nil, err
	}
	tag := fmt.Sprintf("%s-%s", name, slug(su.Name))
	store := filepath.Join(o.WorkDir, fmt.Sprintf("nats-%s-%d", tag, run))
	args := []string{"-js", "-sd", store, "-a", "127.0.0.1", "-p", strconv.Itoa(port)}
	if su.Conf != "" {
		conf := filepath.Join(o.WorkDir, "nats-"+slug(su.Name)+".conf")
		if err := os.WriteFile(conf, []byte(su.Conf), 0o600); err != nil {
			return "", nil, nil, nil, fmt.Errorf("write nats.conf: %w", err)
		}
		args = append(args, "-c", conf)
	}
	nats := o.proc("nats-"+tag, run, "nats-server", nil, args...)
	nats.Strace = filepath.Join(o.WorkDir, fmt.Sprintf("nats-%s-%d.strace", tag, run))
	if err := nats.Start(); err != nil {
		return "", nil, nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitTCP(wctx, Addr(port)); err != nil {
		nats.Kill()
		return "", nil, nil, nil, err
	}
	url, proc, stop, err := next("nats://" + Addr(port))
	if err != nil {
		nats.Kill()
		return "", nil, nil, nil, err
	}
	return url, proc, nats, func() { stop(); nats.Stop(10 * time.Second); _ = os.RemoveAll(store); _ = os.Remove(nats.Strace) }, nil
}

// slug is s in lower case with every run of other characters than letters and digits as "-".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func (o IntakeOptions) startBench(ctx context.Context, run int, mode, natsURL string, extra ...string) (string, *Proc, func(), error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, nil, err
	}
	p := o.proc(mode, run, "hzbench", nil, append([]string{mode, "--listen", Addr(port), "--nats-url", natsURL, "--secret", benchSecret}, extra...)...)
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

// startReceiver starts hzhook at its defaults plus env (listeners and the secrets file aside),
// under strace when trace names its output.
func (o IntakeOptions) startReceiver(ctx context.Context, run int, env []string, trace string) (string, *Proc, func(), error) {
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
	p := o.proc("receiver", run, "receiver", append([]string{
		"HZ_LISTEN=" + Addr(web), "HZ_ADMIN_LISTEN=" + Addr(admin), "HZ_SECRETS_FILE=" + secrets,
	}, env...))
	p.Strace = trace
	if err := p.Start(); err != nil {
		return "", nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitHTTP(wctx, "http://"+Addr(admin)+"/readyz", 200); err != nil {
		p.Kill()
		return "", nil, nil, err
	}
	return "http://" + Addr(web) + "/hardenize/events", p, func() {
		p.Stop(30 * time.Second)
		if trace != "" {
			_ = os.Remove(trace)
		}
	}, nil
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
