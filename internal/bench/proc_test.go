package bench

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProcCPUTimeCountsABusyProcess(t *testing.T) {
	p := &Proc{Bin: "/bin/sh", Args: []string{"-c", "while :; do :; done"}, Log: filepath.Join(t.TempDir(), "sh.log")}
	require.NoError(t, p.Start())
	defer p.Kill()
	require.Eventually(t, func() bool {
		cpu, err := p.CPUTime()
		require.NoError(t, err)
		return cpu > 0
	}, 20*time.Second, 50*time.Millisecond, "a busy loop shows CPU time")

	p.Kill()
	_, err := p.CPUTime()
	require.Error(t, err, "not running")
}
