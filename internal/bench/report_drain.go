package bench

import (
	"fmt"
	"io"
	"time"
)

// DrainHeading is the results section of the drain benchmark.
const DrainHeading = "## Worker drain rate"

// WriteMarkdown writes the drain report as its bench/results.md section.
func (r DrainReport) WriteMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	fmt.Fprintf(w, "%s\n\n", DrainHeading)
	fmt.Fprintf(w, "%s with `go test -run '^$' -bench Drain -benchtime 1x %s` (the ingest package's BenchmarkDrain): "+
		"a backlog of %d `ct.entry` events in JetStream drained into a fresh store in batches of %d (one transaction per batch), "+
		"beside the baseline of one transaction per message (%d events). PostgreSQL is the one `scripts/with-services.sh` starts: `postgres` with fsync=off (the test server), "+
		"`postgres-fsync` with fsync=on (as in production; `HZ_WITH_DURABLE_POSTGRES=1`). %s\n\n",
		measuredOn(now), o.Package,
		o.Events, o.Batch, o.BaselineEvents, conditions(r.LoadAverage, o.Note))
	fmt.Fprintln(w, "| store | per message (events/s) | batched (events/s) | speed-up |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, d := range r.Results {
		if !d.Measured {
			fmt.Fprintf(w, "| %s | not measured | not measured | — |\n", d.Database)
			continue
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.1f× |\n", d.Database, d.PerMessage, d.Batched, ratio(d.Batched, d.PerMessage))
	}
	if off, on := r.result("postgres"), r.result("postgres-fsync"); off.Measured && on.Measured {
		fmt.Fprintf(w, "\nfsync=on costs PostgreSQL %.2f× of its fsync=off rate batched and %.2f× per message: a batch pays one WAL flush, a message-sized transaction one each.\n",
			ratio(on.Batched, off.Batched), ratio(on.PerMessage, off.PerMessage))
	}
	fmt.Fprintf(w, "\n| goal | target | measured | met |\n|---|---|---|---|\n")
	for _, d := range r.Results {
		if !d.Measured {
			continue
		}
		sp := ratio(d.Batched, d.PerMessage)
		fmt.Fprintf(w, "| %s batched vs per message | ≥ %.0f× | %.1f× | %s |\n", d.Database, GoalDrainSpeedup, sp, yes(sp >= GoalDrainSpeedup))
		if d.Database == "sqlite" {
			fmt.Fprintf(w, "| sqlite batched | ≥ %d events/s | %.0f events/s | %s |\n", GoalDrainSQLite, d.Batched, yes(d.Batched >= GoalDrainSQLite))
			if d.Lint.Measured {
				fmt.Fprintf(w, "| sqlite batched, linting on | ≥ %d events/s | %.0f events/s | %s |\n", GoalDrainSQLite, d.Lint.Rate, yes(d.Lint.Rate >= GoalDrainSQLite))
			}
		}
	}
	fmt.Fprintln(w)
	for _, d := range r.Results {
		if d.Database != "sqlite" || !d.Lint.Measured {
			continue
		}
		fmt.Fprintf(w, "With linting on, the worker's lint stage (its own consumer and dispatcher, batches of 50, its default concurrency: one per two cores, at least one) drains the same backlog "+
			"into the same SQLite store while the writer does; the backlog holds %.0f distinct certificates, so most of its messages are certificates already linted. "+
			"Done is when the stage had handled the whole backlog, counted from the start of the writer's drain.\n\n", d.Lint.Certs)
		fmt.Fprintln(w, "| SQLite, batches of the writer | writer (events/s) | vs linting off | lint stage done after | writer done after |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		n := float64(r.Options.Events)
		fmt.Fprintf(w, "| linting off | %.0f | 1.00× | — | %.1f s |\n", d.Batched, n/d.Batched)
		for _, row := range []struct {
			name string
			l    LintDrain
		}{{"linting on, giving way to the writer (as the worker runs it)", d.Lint}, {"linting on, not giving way", d.NoYield}} {
			if row.l.Measured {
				fmt.Fprintf(w, "| %s | %.0f | %.2f× | %.1f s | %.1f s |\n", row.name, row.l.Rate, ratio(row.l.Rate, d.Batched), row.l.DoneSecs, n/row.l.Rate)
			}
		}
		fmt.Fprintln(w)
	}
}

// result is the drain of database db (Measured false when it was not run).
func (r DrainReport) result(db string) DrainResult {
	for _, d := range r.Results {
		if d.Database == db {
			return d
		}
	}
	return DrainResult{Database: db}
}
