package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Goals of the drain benchmark (inventory issue).
const (
	GoalDrainSpeedup = 5.0    // batched events/s ≥ 5 × one transaction per message
	GoalDrainSQLite  = 10_000 // batched events/s into SQLite, with linting off and on
)

// DrainOptions configure the drain benchmark: the inventory package's BenchmarkDrain, run with
// `go test` from the module root.
type DrainOptions struct {
	Go             string // the go command
	Package        string // ./internal/ingest/
	Events         int    // HZ_BENCH_EVENTS
	BaselineEvents int    // HZ_BENCH_BASELINE_EVENTS
	Batch          int    // HZ_BENCH_BATCH
	Lint           bool   // HZ_BENCH_LINT: the SQLite drain also with the lint stage running
	Progress       io.Writer
	Note           string // conditions of the measurement, printed with the results
}

// DrainResult is one database's drain rates in events per second.
type DrainResult struct {
	Database   string
	PerMessage float64 // one transaction per message: the baseline
	Batched    float64
	Measured   bool // false when the database was not available (no HZ_TEST_POSTGRES_URL, HZ_TEST_DURABLE_POSTGRES_URL)
	// With the lint stage draining the same backlog into the same store (SQLite only): the
	// writer's rate and when the stage was done, giving way to the writer as the worker runs it
	// (Lint) and not (NoYield).
	Lint, NoYield LintDrain
}

// LintDrain is one drain with the lint stage running beside the writer.
type LintDrain struct {
	Rate     float64 // the writer's events/s
	DoneSecs float64 // from the start until the lint stage finished the backlog
	Certs    float64 // distinct certificates linted
	Measured bool
}

// DrainReport is the outcome of RunDrain.
type DrainReport struct {
	Results     []DrainResult // sqlite, postgres (fsync=off), postgres-fsync (fsync=on)
	LoadAverage string        // of the machine when the benchmark started
	Options     DrainOptions
}

// RunDrain runs BenchmarkDrain once and reads its metrics. PostgreSQL is measured when
// HZ_TEST_POSTGRES_URL is set, and with fsync=on when HZ_TEST_DURABLE_POSTGRES_URL is
// (HZ_WITH_DURABLE_POSTGRES=1 scripts/with-services.sh sets both).
func RunDrain(ctx context.Context, o DrainOptions) (DrainReport, error) {
	rep := DrainReport{Options: o, LoadAverage: loadAverage()}
	cmd := exec.CommandContext(ctx, o.Go, "test", "-run", "^$", "-bench", "^BenchmarkDrain$", "-benchtime", "1x", "-timeout", "30m", o.Package)
	cmd.Env = append(os.Environ(),
		"HZ_BENCH_EVENTS="+strconv.Itoa(o.Events),
		"HZ_BENCH_BASELINE_EVENTS="+strconv.Itoa(o.BaselineEvents),
		"HZ_BENCH_BATCH="+strconv.Itoa(o.Batch),
		"HZ_BENCH_LINT="+map[bool]string{true: "1", false: "0"}[o.Lint])
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, o.Progress)
	cmd.Stderr = o.Progress
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("go test -bench Drain: %w", err)
	}
	metrics, err := parseBenchMetrics(out.String(), "BenchmarkDrain")
	if err != nil {
		return rep, err
	}
	for _, db := range []string{"sqlite", "postgres", "postgres-fsync"} {
		r := DrainResult{Database: db}
		r.PerMessage, r.Measured = metrics[db+"-per-message-events/s"]
		r.Batched = metrics[db+"-batched-events/s"]
		for run, into := range map[string]*LintDrain{db + "-lint": &r.Lint, db + "-lint-noyield": &r.NoYield} {
			into.Rate, into.Measured = metrics[run+"-events/s"]
			into.DoneSecs, into.Certs = metrics[run+"-done-s"], metrics[run+"-certs"]
		}
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

// parseBenchMetrics reads the value/unit pairs of benchmark name's result line in go test output.
func parseBenchMetrics(out, name string) (map[string]float64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			m[f[i+1]] = v
		}
		return m, nil
	}
	return nil, fmt.Errorf("no result line of %s in the go test output", name)
}
