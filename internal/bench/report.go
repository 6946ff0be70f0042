package bench

import (
	"fmt"
	"io"
	"time"
)

// Goals of the intake benchmark (issue "Proof under load and faults").
const (
	GoalVsHandRolled = 1.2              // receiver requests/s ≥ 1.2 × hand-rolled
	GoalVsBare       = 0.5              // receiver requests/s ≥ 0.5 × bare
	GoalHalfRateP99  = 10.0             // ms, at half the receiver's peak rate
	GoalRSS          = int64(150 << 20) // bytes
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
	fmt.Fprintln(w, "Server CPU is the target process's own user and system time per request (from /proc, 10 ms ticks), without the load generator and nats-server that share the cores.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | requests/s | p50 ms | p99 ms | server CPU µs/request | peak RSS | runs (requests/s) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|")
	for _, t := range []TargetResult{r.Bare, r.HandRolled, r.Receiver} {
		rss := "—"
		if t.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(t.PeakRSS)/(1<<20))
		}
		runs := ""
		for i, run := range t.Runs {
			if i > 0 {
				runs += ", "
			}
			runs += fmt.Sprintf("%.0f", run.RequestsPerSecond)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.0f | %s | %s |\n", t.Name, t.RPS, t.P50, t.P99, float64(t.CPUPerRequest)/float64(time.Microsecond), rss, runs)
	}
	vsHand := ratio(r.Receiver.RPS, r.HandRolled.RPS)
	vsBare := ratio(r.Receiver.RPS, r.Bare.RPS)
	fmt.Fprintf(w, "\n| goal | target | measured | met |\n|---|---|---|---|\n")
	fmt.Fprintf(w, "| hzhook vs hand-rolled | ≥ %.1f× | %.2f× | %s |\n", GoalVsHandRolled, vsHand, yes(vsHand >= GoalVsHandRolled))
	fmt.Fprintf(w, "| hzhook vs bare | ≥ %.1f× | %.2f× | %s |\n", GoalVsBare, vsBare, yes(vsBare >= GoalVsBare))
	fmt.Fprintf(w, "| p99 at half peak (%.0f req/s) | ≤ %.0f ms | %.2f ms | %s |\n", r.HalfRate.RequestsPerSecond, GoalHalfRateP99, r.HalfRate.LatencyMillis.P99, yes(r.HalfRate.LatencyMillis.P99 <= GoalHalfRateP99))
	fmt.Fprintf(w, "| receiver peak RSS | ≤ %d MiB | %.0f MiB | %s |\n\n", GoalRSS>>20, float64(r.Receiver.PeakRSS)/(1<<20), yes(r.Receiver.PeakRSS > 0 && r.Receiver.PeakRSS <= GoalRSS))
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
