package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hzhook/hzhook/internal/bench"
	"github.com/hzhook/hzhook/internal/config"
)

// common are the flags every benchmark command has.
type common struct {
	out, note string
}

func bindCommon(set *config.Set, c *common) {
	set.String(&c.out, "out", "", "bench/results.md", "markdown file whose section of this benchmark is replaced")
	set.String(&c.note, "note", "HZ_BENCH_NOTE", "", "conditions of the measurement, printed with the results (e.g. a shared machine)")
}

// publish writes a section into c.out and prints it.
func (c common) publish(heading string, write func(*bytes.Buffer)) error {
	var b bytes.Buffer
	write(&b)
	os.Stdout.Write(b.Bytes())
	return bench.UpdateSection(c.out, heading, b.Bytes())
}

// markdown is a benchmark's report, written as its bench/results.md section.
type markdown interface {
	WriteMarkdown(w io.Writer, now time.Time)
}

// report publishes rep's section under heading, unless the benchmark failed with err.
func (c common) report(heading string, rep markdown, err error) error {
	if err != nil {
		return err
	}
	return c.publish(heading, func(b *bytes.Buffer) { rep.WriteMarkdown(b, time.Now()) })
}

// inScratch runs fn in a new temporary work directory, removed afterwards.
func inScratch(fn func(work string) error) error {
	work, err := os.MkdirTemp("", "hzbench")
	if err != nil {
		return fmt.Errorf("scratch dir: %w", err)
	}
	defer os.RemoveAll(work)
	return fn(work)
}

// bindLoad defines the flags of the intake benchmarks' load.
func bindLoad(set *config.Set, o *bench.IntakeOptions) {
	set.String(&o.BinDir, "bin", "", "bin", "directory with receiver, hzctl, hzbench and nats-server (make bench builds them)")
	set.Int(&o.Runs, "runs", "", 3, "runs per target (medians are reported)")
	set.Duration(&o.Duration, "duration", "", 10*time.Second, "length of each run")
	set.Int(&o.Connections, "connections", "", 32, "concurrent keep-alive connections")
	set.Int(&o.Size, "size", "", 4096, "request body bytes")
}

func runIntake(ctx context.Context, set *config.Set, args []string) error {
	var o bench.IntakeOptions
	var c common
	bindCommon(set, &c)
	bindLoad(set, &o)
	set.Bool(&o.TracingOnly, "tracing-only", "", false, "measure only hzhook's default set-up with tracing off and on (section \""+bench.TracingHeading[3:]+"\")")
	if err := set.Parse(args); err != nil {
		return err
	}
	return inScratch(func(work string) error {
		o.WorkDir, o.Progress, o.Note = work, os.Stderr, c.note
		rep, err := bench.RunIntake(ctx, o)
		if err != nil || !o.TracingOnly {
			return c.report(bench.IntakeHeading, rep, err)
		}
		return c.publish(bench.TracingHeading, func(b *bytes.Buffer) { rep.WriteTracingMarkdown(b, time.Now()) })
	})
}

func runCluster(ctx context.Context, set *config.Set, args []string) error {
	var o bench.IntakeOptions
	var c common
	bindCommon(set, &c)
	bindLoad(set, &o)
	if err := set.Parse(args); err != nil {
		return err
	}
	return inScratch(func(work string) error {
		o.WorkDir, o.Progress, o.Note = work, os.Stderr, c.note
		rep, err := bench.RunCluster(ctx, o)
		return c.report(bench.ClusterHeading, rep, err)
	})
}

func runE2E(ctx context.Context, set *config.Set, args []string) error {
	var o bench.E2EOptions
	var c common
	bindCommon(set, &c)
	set.String(&o.BinDir, "bin", "", "bin", "directory with receiver, worker and nats-server (make bench builds them)")
	set.Int(&o.Runs, "runs", "", 3, "runs (medians are reported)")
	set.Duration(&o.Duration, "duration", "", 10*time.Second, "length of each run")
	set.Int(&o.Rate, "rate", "", 1000, "events per second")
	set.Duration(&o.Poll, "poll", "", 2*time.Millisecond, "how often the store is read for new rows")
	if err := set.Parse(args); err != nil {
		return err
	}
	if o.Runs < 1 || o.Rate < 1 || o.Duration <= 0 || o.Poll <= 0 {
		return fmt.Errorf("--runs and --rate must be at least 1, --duration and --poll positive")
	}
	return inScratch(func(work string) error {
		o.WorkDir, o.Progress, o.Note = work, os.Stderr, c.note
		rep, err := bench.RunE2E(ctx, o)
		return c.report(bench.E2EHeading, rep, err)
	})
}

func runDrain(ctx context.Context, set *config.Set, args []string) error {
	var o bench.DrainOptions
	var c common
	bindCommon(set, &c)
	set.String(&o.Go, "go", "", "go", "the go command (the benchmark is a go test benchmark; run from the module root)")
	set.String(&o.Package, "package", "", "./internal/ingest/", "package holding BenchmarkDrain")
	set.Int(&o.Events, "events", "", 100000, "backlog drained in batches")
	set.Int(&o.BaselineEvents, "baseline-events", "", 20000, "part of the backlog the one-transaction-per-message baseline drains")
	set.Int(&o.Batch, "batch", "", 500, "events per batch (one transaction)")
	set.Bool(&o.Lint, "lint", "", true, "also drain SQLite with the lint stage running beside the writer")
	if err := set.Parse(args); err != nil {
		return err
	}
	o.Progress = os.Stderr
	o.Note = c.note
	rep, err := bench.RunDrain(ctx, o)
	return c.report(bench.DrainHeading, rep, err)
}

func runConsole(ctx context.Context, set *config.Set, args []string) error {
	var o bench.ConsoleOptions
	var c common
	bindCommon(set, &c)
	set.String(&o.Go, "go", "", "go", "the go command (the benchmark is a go test benchmark; run from the module root)")
	set.String(&o.Package, "package", "", "./internal/console/", "package holding BenchmarkConsole")
	set.Int(&o.Certificates, "certificates", "", 100000, "certificates in the store")
	set.Int(&o.Requests, "requests", "", 200, "requests of each page")
	if err := set.Parse(args); err != nil {
		return err
	}
	if o.Certificates < 1 || o.Requests < 1 {
		return fmt.Errorf("--certificates and --requests must be at least 1")
	}
	o.Progress, o.Note = os.Stderr, c.note
	rep, err := bench.RunConsole(ctx, o)
	return c.report(bench.ConsoleHeading, rep, err)
}

func runLint(ctx context.Context, set *config.Set, args []string) error {
	var o bench.LintOptions
	var c common
	bindCommon(set, &c)
	set.String(&o.Go, "go", "", "go", "the go command (the benchmark is a go test benchmark; run from the module root)")
	set.String(&o.Package, "package", "", "./internal/lint/", "package holding BenchmarkLint")
	set.Int(&o.Certs, "certs", "", 1427, "iterations per source selection (-benchtime Nx): the parsable certificates of zlint's testdata, each once")
	if err := set.Parse(args); err != nil {
		return err
	}
	if o.Certs < 1 {
		return fmt.Errorf("--certs must be at least 1")
	}
	o.Progress, o.Note = os.Stderr, c.note
	rep, err := bench.RunLint(ctx, o)
	return c.report(bench.LintHeading, rep, err)
}
