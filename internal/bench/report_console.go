package bench

import (
	"fmt"
	"io"
	"time"
)

// ConsoleHeading is the results section of the console benchmark.
const ConsoleHeading = "## Console pages"

// WriteMarkdown writes the console report as its bench/results.md section.
func (r ConsoleReport) WriteMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	fmt.Fprintf(w, "%s\n\n", ConsoleHeading)
	fmt.Fprintf(w, "%s with `go test -run '^$' -bench Console -benchtime 1x %s` (the console package's BenchmarkConsole): "+
		"%d certificates (half of them precertificates, 1%% wildcards for example.com, a year of notBefore) stored through the store's Apply, "+
		"then %d requests of each page one after another over loopback, rendered by the console as a browser gets it. "+
		"PostgreSQL is the one `scripts/with-services.sh` starts (fsync off), vacuumed and analyzed after the load as autovacuum would. %s\n\n",
		measuredOn(now), o.Package, o.Certificates, o.Requests, conditions(r.LoadAverage, o.Note))
	fmt.Fprintln(w, "| store | page | p50 | p99 | goal p99 | met |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, d := range r.Results {
		if !d.Measured {
			fmt.Fprintf(w, "| %s | — | not measured | not measured | ≤ %.0f ms | — |\n", d.Database, GoalConsoleP99)
			continue
		}
		for _, p := range ConsolePages {
			fmt.Fprintf(w, "| %s | %s | %.1f ms | %.1f ms | ≤ %.0f ms | %s |\n", d.Database, p.What, d.P50[p.Name], d.P99[p.Name],
				GoalConsoleP99, yes(d.P99[p.Name] <= GoalConsoleP99))
		}
	}
	fmt.Fprintln(w)
}
