// Command hzbench runs hzhook's benchmarks side by side with their baselines (`make bench`) and
// serves the reference receivers they compare against. Run it without arguments for its commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hzhook/hzhook/internal/bench"
	"github.com/hzhook/hzhook/internal/config"
)

const usage = `hzbench: benchmarks of hzhook against baselines

Usage:
  hzbench intake [flags]            intake throughput/latency: bare vs hand-rolled vs hzhook receiver
  hzbench serve-bare [flags]        the bare 204 ceiling server
  hzbench serve-handrolled [flags]  the hand-rolled reference receiver (net/http, HMAC, sync publish)

hzbench <command> --help lists the flags of each.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil && !config.IsHelp(err) {
		fmt.Fprintln(os.Stderr, "hzbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("no command")
	}
	set := config.NewSet("hzbench "+args[0], os.LookupEnv)
	switch args[0] {
	case "intake":
		var o bench.IntakeOptions
		var out string
		set.String(&o.BinDir, "bin", "", "bin", "directory with receiver, hzctl, hzbench and nats-server (make bench builds them)")
		set.String(&out, "out", "", "bench/results.md", "markdown file the results are written to")
		set.Int(&o.Runs, "runs", "", 3, "runs per target (medians are reported)")
		set.Duration(&o.Duration, "duration", "", 10*time.Second, "length of each run")
		set.Int(&o.Connections, "connections", "", 32, "concurrent keep-alive connections")
		set.Int(&o.Size, "size", "", 4096, "request body bytes")
		if err := set.Parse(args[1:]); err != nil {
			return err
		}
		work, err := os.MkdirTemp("", "hzbench")
		if err != nil {
			return fmt.Errorf("scratch dir: %w", err)
		}
		defer os.RemoveAll(work)
		o.WorkDir, o.Progress = work, os.Stderr
		rep, err := bench.RunIntake(ctx, o)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fmt.Errorf("results dir: %w", err)
		}
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("results file: %w", err)
		}
		defer f.Close()
		fmt.Fprintf(f, "# hzhook benchmark results\n\nWritten by `make bench`; re-run it to refresh. Figures are from one machine and only comparable within one run.\n\n")
		rep.WriteMarkdown(f, time.Now())
		rep.WriteMarkdown(os.Stdout, time.Now())
		return nil
	case "serve-bare", "serve-handrolled":
		var listen, natsURL, secret string
		set.String(&listen, "listen", "", "127.0.0.1:8080", "listen address")
		set.String(&natsURL, "nats-url", "", "nats://127.0.0.1:4222", "NATS URL (serve-handrolled)")
		set.SecretString(&secret, "secret", "", "", "hook secret (serve-handrolled)")
		if err := set.Parse(args[1:]); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		if args[0] == "serve-bare" {
			return bench.ServeBare(ctx, ln)
		}
		return bench.ServeHandRolled(ctx, ln, natsURL, secret)
	default:
		fmt.Fprintln(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
