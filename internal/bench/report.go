package bench

import (
	"fmt"
	"io"
	"time"
)

// Goals of the intake benchmark (issue "Durable before 204"), per nats-server set-up.
const (
	GoalSyncVsHandRolled    = 3.0  // sync always: hzhook requests/s ≥ 3 × hand-rolled on the same server
	GoalSyncVsBare          = 0.4  // sync always: ≥ 0.4 × bare
	GoalSyncHalfRateP99     = 15.0 // ms, sync always, at half hzhook's peak rate
	GoalDefaultVsHandRolled = 1.2  // default sync: ≥ 1.2 × hand-rolled
	GoalDefaultVsBare       = 0.5  // default sync: ≥ 0.5 × bare
	GoalDefaultHalfRateP99  = 10.0 // ms, default sync, at half hzhook's peak rate
	GoalRSS                 = int64(150 << 20)
)

// IntakeHeading is the results section of the intake benchmark.
const IntakeHeading = "## Intake throughput and latency"

// WriteMarkdown writes the intake report as its bench/results.md section.
func (r IntakeReport) WriteMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	fmt.Fprintf(w, "%s\n\n", IntakeHeading)
	fmt.Fprintf(w, "%s: signed %d-byte `ct.entry` events, keep-alive, %d connections, %s per run, median of %d runs, targets interleaved run by run; load from `hzctl load` on the same machine. %s\n\n",
		measuredOn(now), o.Size, o.Connections, o.Duration, o.Runs,
		conditions(r.LoadAverage, o.Note))
	fmt.Fprintln(w, "Every target runs at its default settings; hzhook is given only what its README prescribes for the server it talks to (`HZ_NATS_URL`, and `HZ_GROUP_COMMIT=on` for an external single-node server that syncs always). The default set-up is hzhook with nothing set at all: its embedded server, `--nats-sync always`, group commit.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Server CPU is the target process's own user and system time per request (from /proc, 10 ms ticks), without the load generator and nats-server that share the cores (the default set-up includes its embedded server). Syncs per event are the disk syncs of the process that stores the events (nats-server; the receiver itself in the default set-up) per event answered 204: fsync and fdatasync calls and opens with O_SYNC or O_DSYNC (nats-server writes an atomic batch's staging files so), counted with `strace -f --seccomp-bpf` (only those calls stop the process) during the load.")
	fmt.Fprintln(w)
	for _, sr := range r.Servers {
		targets := []TargetResult{r.Bare, sr.HandRolled, sr.Receiver}
		if sr.Embedded != nil {
			targets = append(targets, *sr.Embedded)
		}
		if sr.Traced != nil {
			targets = append(targets, *sr.Traced)
		}
		fmt.Fprintf(w, "### nats-server with %s\n\n", sr.SetUp.Name)
		writeTargets(w, targets)
		if sr.SetUp.Conf != "" {
			writeGoals(w, sr, r.Bare, GoalSyncVsHandRolled, GoalSyncVsBare, GoalSyncHalfRateP99)
		} else {
			writeGoals(w, sr, r.Bare, GoalDefaultVsHandRolled, GoalDefaultVsBare, GoalDefaultHalfRateP99)
		}
	}
}

func writeTargets(w io.Writer, targets []TargetResult) {
	fmt.Fprintln(w, "| target | requests/s | p50 ms | p99 ms | server CPU µs/request | syncs/event | peak RSS | runs (requests/s) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	for _, t := range targets {
		rss := "—"
		if t.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(t.PeakRSS)/(1<<20))
		}
		syncs := "—"
		if t.SyncsPerEvent >= 0 {
			syncs = fmt.Sprintf("%.3f", t.SyncsPerEvent)
		}
		runs := ""
		for i, run := range t.Runs {
			if i > 0 {
				runs += ", "
			}
			runs += fmt.Sprintf("%.0f", run.RequestsPerSecond)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.0f | %s | %s | %s |\n", t.Name, t.RPS, t.P50, t.P99, float64(t.CPUPerRequest)/float64(time.Microsecond), syncs, rss, runs)
	}
}

func writeGoals(w io.Writer, sr ServerResult, bare TargetResult, vsHandGoal, vsBareGoal, p99Goal float64) {
	vsHand := ratio(sr.Receiver.RPS, sr.HandRolled.RPS)
	vsBare := ratio(sr.Receiver.RPS, bare.RPS)
	fmt.Fprintf(w, "\n| goal | target | measured | met |\n|---|---|---|---|\n")
	fmt.Fprintf(w, "| hzhook vs hand-rolled | ≥ %.1f× | %.2f× | %s |\n", vsHandGoal, vsHand, yes(vsHand >= vsHandGoal))
	fmt.Fprintf(w, "| hzhook vs bare | ≥ %.1f× | %.2f× | %s |\n", vsBareGoal, vsBare, yes(vsBare >= vsBareGoal))
	fmt.Fprintf(w, "| p99 at half peak (%.0f req/s) | ≤ %.0f ms | %.2f ms | %s |\n", sr.HalfRate.RequestsPerSecond, p99Goal, sr.HalfRate.LatencyMillis.P99, yes(sr.HalfRate.LatencyMillis.P99 <= p99Goal))
	fmt.Fprintf(w, "| receiver peak RSS | ≤ %d MiB | %.0f MiB | %s |\n", GoalRSS>>20, float64(sr.Receiver.PeakRSS)/(1<<20), yes(sr.Receiver.PeakRSS > 0 && sr.Receiver.PeakRSS <= GoalRSS))
	if sr.Embedded != nil {
		fmt.Fprintf(w, "| default set-up vs hand-rolled (same sync, its own server) | — | %.2f× | — |\n", ratio(sr.Embedded.RPS, sr.HandRolled.RPS))
	}
	if sr.Traced != nil {
		fmt.Fprintf(w, "| default set-up, tracing on (every span to an OTLP sink) vs off | — | %.2f× | — |\n", ratio(sr.Traced.RPS, sr.Embedded.RPS))
	}
	fmt.Fprintln(w)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
