package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// GoalConsoleP99 is the console's goal: each timed page at p99 ≤ 150 ms with 100,000
// certificates (console issue).
const GoalConsoleP99 = 150.0

// ConsolePages are the pages BenchmarkConsole times, in its metric names.
var ConsolePages = []struct{ Name, What string }{
	{"list", "certificate list (`/ui/certificates`)"},
	{"filtered", "filtered list (`host=www.example.com&expiresWithinDays=30`)"},
	{"overview", "overview (`/ui/`)"},
}

// ConsoleOptions configure the console benchmark: the console package's BenchmarkConsole, run
// with `go test` from the module root.
type ConsoleOptions struct {
	Go           string // the go command
	Package      string // ./internal/console/
	Certificates int    // HZ_BENCH_CERTS
	Requests     int    // HZ_BENCH_REQUESTS
	Progress     io.Writer
	Note         string
}

// ConsoleResult is one database's page times in milliseconds, by page name.
type ConsoleResult struct {
	Database string
	P50, P99 map[string]float64
	Measured bool
}

// ConsoleReport is the outcome of RunConsole.
type ConsoleReport struct {
	Results     []ConsoleResult
	LoadAverage string
	Options     ConsoleOptions
}

// RunConsole runs BenchmarkConsole once and reads its metrics. PostgreSQL is measured when
// HZ_TEST_POSTGRES_URL is set (scripts/with-services.sh sets it).
func RunConsole(ctx context.Context, o ConsoleOptions) (ConsoleReport, error) {
	rep := ConsoleReport{Options: o, LoadAverage: loadAverage()}
	cmd := exec.CommandContext(ctx, o.Go, "test", "-run", "^$", "-bench", "^BenchmarkConsole$", "-benchtime", "1x", "-timeout", "30m", o.Package)
	cmd.Env = append(os.Environ(), "HZ_BENCH_CERTS="+strconv.Itoa(o.Certificates), "HZ_BENCH_REQUESTS="+strconv.Itoa(o.Requests))
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, o.Progress)
	cmd.Stderr = o.Progress
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("go test -bench Console: %w", err)
	}
	metrics, err := parseBenchMetrics(out.String(), "BenchmarkConsole")
	if err != nil {
		return rep, err
	}
	for _, db := range []string{"sqlite", "postgres"} {
		r := ConsoleResult{Database: db, P50: map[string]float64{}, P99: map[string]float64{}}
		for _, p := range ConsolePages {
			if v, ok := metrics[db+"-"+p.Name+"-p50-ms"]; ok {
				r.P50[p.Name], r.P99[p.Name], r.Measured = v, metrics[db+"-"+p.Name+"-p99-ms"], true
			}
		}
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}
