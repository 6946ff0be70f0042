package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"
)

// LintHeading is the results section of the lint throughput benchmark.
const LintHeading = "## Lint throughput"

// LintOptions configure the lint benchmark: internal/lint's BenchmarkLint, one certificate of
// zlint's testdata per iteration on one core, run with `go test` from the module root.
type LintOptions struct {
	Go       string // the go command
	Package  string // ./internal/lint/
	Certs    int    // -benchtime Nx: each parsable corpus certificate once
	Progress io.Writer
	Note     string
}

// LintResult is one selection of sources: certificates per second on one core.
type LintResult struct {
	Sources  string // "default", "all"
	PerSec   float64
	Lints    int
	AllocsOp float64
}

// LintReport is the outcome of RunLint.
type LintReport struct {
	Results     []LintResult
	LoadAverage string
	Options     LintOptions
}

// RunLint runs BenchmarkLint once per source selection and reads its metrics.
func RunLint(ctx context.Context, o LintOptions) (LintReport, error) {
	rep := LintReport{Options: o, LoadAverage: loadAverage()}
	cmd := exec.CommandContext(ctx, o.Go, "test", "-run", "^$", "-bench", "^BenchmarkLint$", "-cpu", "1",
		"-benchtime", strconv.Itoa(o.Certs)+"x", "-timeout", "30m", o.Package)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, o.Progress)
	cmd.Stderr = o.Progress
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("go test -bench Lint: %w", err)
	}
	for _, src := range []string{"default", "all"} {
		m, err := parseBenchMetrics(out.String(), "BenchmarkLint/sources="+src)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, LintResult{Sources: src, PerSec: m["certs/s"], Lints: int(m["lints"]), AllocsOp: m["allocs/op"]})
	}
	return rep, nil
}

// WriteMarkdown writes the lint report as its bench/results.md section.
func (r LintReport) WriteMarkdown(w io.Writer, now time.Time) {
	o := r.Options
	fmt.Fprintf(w, "%s\n\n", LintHeading)
	fmt.Fprintf(w, "%s with `go test -run '^$' -bench BenchmarkLint -cpu 1 -benchtime %dx %s`: zlint on each parsable certificate of its own testdata once, "+
		"on one goroutine, so certificates/s is the rate of one core; the lint stage lints one batch per two cores at once by default. %s\n\n",
		measuredOn(now), o.Certs, o.Package, conditions(r.LoadAverage, o.Note))
	fmt.Fprintln(w, "| sources | lints | certificates/s per core | ms per certificate | allocs per certificate |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, l := range r.Results {
		ms := 0.0
		if l.PerSec > 0 {
			ms = 1000 / l.PerSec
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.2f | %.0f |\n", l.Sources, l.Lints, l.PerSec, ms, l.AllocsOp)
	}
	if len(r.Results) == 2 && r.Results[1].PerSec > 0 {
		fmt.Fprintf(w, "\nAll sources cost %.1f× the default ones.\n", r.Results[0].PerSec/r.Results[1].PerSec)
	}
	fmt.Fprintln(w)
}
