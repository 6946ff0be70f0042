package bench

import (
	"fmt"
	"io"
	"time"
)

// E2EHeading is the results section of the end-to-end benchmark.
const E2EHeading = "## End-to-end latency"

// WriteMarkdown writes the end-to-end report as its bench/results.md section.
func (r E2EReport) WriteMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	fmt.Fprintf(w, "%s\n\n", E2EHeading)
	fmt.Fprintf(w, "%s: nats-server, receiver and worker (SQLite, default settings) as separate processes; "+
		"%d unique signed `ct.entry` events/s (each with its own certificate) for %s per run, %d runs on one stack. "+
		"Latency is per event, from the webhook's 204 to the first read of the store (a read-only connection, as the read API uses, polled every %s) that shows its CT entry row. %s\n\n",
		measuredOn(now),
		o.Rate, o.Duration, o.Runs, o.Poll, conditions(r.LoadAverage, o.Note))
	fmt.Fprintln(w, "| run | sent | sent/s | 204s | stored | 204 p99 ms | 204→stored p50 ms | p90 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, run := range r.Runs {
		fmt.Fprintf(w, "| %d | %d | %.0f | %d | %d | %.2f | %.1f | %.1f | %.1f | %.1f |\n",
			i+1, run.Sent, run.SendRate, run.Accepted, run.Visible, run.AnswerP99, run.P50, run.P90, run.P99, run.Max)
	}
	rss := "—"
	if r.WorkerPeakRSS > 0 {
		rss = fmt.Sprintf("%.0f MiB", float64(r.WorkerPeakRSS)/(1<<20))
	}
	fmt.Fprintf(w, "\nMedian over runs: **p50 %.1f ms, p99 %.1f ms** from 204 to stored; worker peak RSS %s.\n\n", r.P50, r.P99, rss)
}
