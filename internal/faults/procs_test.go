package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hzhook/hzhook/internal/bench"
)

// binDir holds the binaries built once for all scenarios.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("HZ_FAULTS") != "1" {
		fmt.Println("faults: skipped (run with make faults, which sets HZ_FAULTS=1)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "hzfaults-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	if err := bench.Build(context.Background(), dir, "../../cmd/receiver", "../../cmd/worker", "github.com/nats-io/nats-server/v2"); err != nil {
		fmt.Println("faults:", err)
		os.Exit(1)
	}
	code := m.Run()
	printTable()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startProc starts binary name from binDir; it is killed when the test ends.
func startProc(t *testing.T, name string, env []string, args ...string) *bench.Proc {
	t.Helper()
	p := &bench.Proc{Bin: filepath.Join(binDir, name), Args: args, Env: env, Log: filepath.Join(t.TempDir(), name+".log")}
	require.NoError(t, p.Start())
	t.Cleanup(p.Kill)
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := bench.FreePort()
	require.NoError(t, err)
	return port
}

func addr(port int) string { return bench.Addr(port) }

// waitHTTP waits until url answers want.
func waitHTTP(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	require.NoError(t, bench.WaitHTTP(ctx, url, want))
}

// natsServer runs the real nats-server binary with JetStream storing in dir, and extra arguments.
func natsServer(t *testing.T, dir string, port int, extra ...string) *bench.Proc {
	t.Helper()
	p := startProc(t, "nats-server", nil, append([]string{"-js", "-sd", dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port)}, extra...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, bench.WaitTCP(ctx, addr(port)))
	return p
}
