package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/hzhook/hzhook/internal/bench"
	"github.com/hzhook/hzhook/internal/config"
)

const usage = `hzbench: benchmarks of hzhook against baselines

Usage:
  hzbench intake [flags]            intake throughput/latency: bare vs hand-rolled vs hzhook, on a
                                    nats-server that syncs always and on one with the default sync
  hzbench e2e [flags]               end-to-end latency: webhook 204 to the row in the store, at a fixed rate
  hzbench cluster [flags]           intake into a 3-node cluster (R3): hand-rolled vs hzhook, plain and group commit
  hzbench drain [flags]             worker drain rate: the ingest package's BenchmarkDrain (SQLite, PostgreSQL; SQLite with linting on)
  hzbench lint [flags]              lint throughput per core: the lint package's BenchmarkLint (default and all sources)
  hzbench console [flags]           console page times with 100,000 certificates (SQLite, PostgreSQL)
  hzbench serve-bare [flags]        the bare 204 ceiling server
  hzbench serve-handrolled [flags]  the hand-rolled reference receiver (net/http, HMAC, sync publish)

intake, cluster, e2e, drain, lint and console each replace their own section of --out (bench/results.md).
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
		return runIntake(ctx, set, args[1:])
	case "cluster":
		return runCluster(ctx, set, args[1:])
	case "e2e":
		return runE2E(ctx, set, args[1:])
	case "drain":
		return runDrain(ctx, set, args[1:])
	case "console":
		return runConsole(ctx, set, args[1:])
	case "lint":
		return runLint(ctx, set, args[1:])
	case "serve-bare", "serve-handrolled":
		var listen, natsURL, secret string
		var replicas int
		set.String(&listen, "listen", "", "127.0.0.1:8080", "listen address")
		set.String(&natsURL, "nats-url", "", "nats://127.0.0.1:4222", "NATS URL (serve-handrolled)")
		set.SecretString(&secret, "secret", "", "", "hook secret (serve-handrolled)")
		set.Int(&replicas, "replicas", "", 1, "replicas of HZ_EVENTS when serve-handrolled creates it")
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
		return bench.ServeHandRolled(ctx, ln, natsURL, secret, replicas)
	default:
		fmt.Fprintln(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
