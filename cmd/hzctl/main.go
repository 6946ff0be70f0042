package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hzhook/hzhook/internal/hzctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := hzctl.Main(ctx, os.Args[1:], hzctl.IO{Out: os.Stdout, Err: os.Stderr, Env: os.LookupEnv})
	stop()
	os.Exit(code)
}
